#!/bin/bash
# Retired case: not listed in ts.tests, must never run
exit 1
