#!/bin/bash

source /etc/XrdTest/utils/functions.sh

run rm -f /data/cms/locate_me
