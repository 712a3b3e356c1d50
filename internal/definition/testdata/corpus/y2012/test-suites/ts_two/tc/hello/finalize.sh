#!/bin/bash
source /etc/XrdTest/utils/functions.sh
if [ @slavename@ == two1.xrd.test ]; then
  run service xrootd stop
  run rm -f /tmp/hello.txt
fi
