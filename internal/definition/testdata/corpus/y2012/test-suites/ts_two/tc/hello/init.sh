#!/bin/bash
source /etc/XrdTest/utils/functions.sh
# hello, step 1: two1 writes a greeting and serves it, two2 reads it in run.sh
if [ @slavename@ == two1.xrd.test ]; then
  run "echo hello from two1 > /tmp/hello.txt"
  run service xrootd start
fi
