#!/bin/bash
# Runs the xrdtest master benchmark: go run ./bench [-n 10,100,1000] [-json] ...
# (see bench/README.md). Run it from anywhere; it works on the module root.
set -euo pipefail
export PATH="/usr/local/go/bin:$PATH"
cd "$(dirname "$0")/.."
exec go run ./bench "$@"
