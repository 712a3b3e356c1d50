#!/bin/bash
source /etc/XrdTest/utils/functions.sh

run rm -f /data/old/source.dat /tmp/source.dat
