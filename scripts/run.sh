#!/usr/bin/env bash
# Sets up a fresh machine, builds xrdtest and runs the quickstart on the
# bundled example definitions repository. Extra arguments go to quickstart.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
export PATH="/usr/local/go/bin:$PATH"
mkdir -p bin
CGO_ENABLED=0 go build -trimpath -ldflags "-X main.version=$(git describe --always --dirty 2>/dev/null || echo dev)" -o bin/xrdtest ./cmd/xrdtest
bin/xrdtest check examples/ >/dev/null || { bin/xrdtest check examples/; exit 1; }
# A master, a local hypervisor backend and one slave process per host of the
# example cluster, on an embedded SQLite history; runs the example suite once.
exec bin/xrdtest quickstart --defs examples/ "$@"
