#!/bin/bash

source /etc/XrdTest/utils/functions.sh

stamp uptime
run "test $(cut -d. -f1 /proc/uptime) -gt 0"
