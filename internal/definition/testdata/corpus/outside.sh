#!/bin/bash
# Lives outside every corpus repository: a suite must not be able to use it.
echo "outside the repo"
