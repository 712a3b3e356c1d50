#!/bin/bash
# Shared snippets for suite scripts (fetched from the master, not a suite).
source /etc/XrdTest/utils/functions.sh

function wait_for_port()
{
  for i in $(seq 30); do
    (echo > /dev/tcp/$1/$2) 2>/dev/null && return 0
    sleep 1
  done
  return 1
}
