#!/bin/bash

source /etc/XrdTest/utils/functions.sh

log "@slavename@ is up, master web at @proto@://master.xrd.test:@port@"
run "getent hosts master.xrd.test"
