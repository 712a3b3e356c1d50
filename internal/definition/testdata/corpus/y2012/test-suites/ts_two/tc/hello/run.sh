#!/bin/bash
source /etc/XrdTest/utils/functions.sh
# hello, step 2: two2 reads the greeting written in init.sh
if [ @slavename@ == two2.xrd.test ]; then
  run "xrdcp -s root://two1.xrd.test//tmp/hello.txt - | grep -q 'hello from two1'"
fi
