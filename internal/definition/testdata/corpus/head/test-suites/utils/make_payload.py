#!/usr/bin/env python
# Helper downloaded by some scripts through /downloadScript/test-suites/utils/.
# This folder has neither test_suite.py nor utils.py, so it is not a suite.
import sys

def main(size):
    sys.stdout.write('x' * int(size))

if __name__ == '__main__':
    main(sys.argv[1])
