#!/bin/bash
source /etc/XrdTest/utils/functions.sh

# simple_copy, step 2: a copies the file from ds1 and checks its size
if [[ @slavename@ =~ ^a\. ]]; then
  run xrdcp -f root://ds1.xrd.test//data/old/source.dat /tmp/source.dat
  stamp ls -l /tmp/source.dat
  run "test $(stat -c %s /tmp/source.dat) -eq 16777216"
fi
