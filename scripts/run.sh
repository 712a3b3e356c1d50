#!/usr/bin/env bash
# Sets up a fresh machine, builds xrdtest and runs it on the bundled example
# definitions repository.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
export PATH="/usr/local/go/bin:$PATH"
mkdir -p bin
CGO_ENABLED=0 go build -trimpath -ldflags "-X main.version=$(git describe --always --dirty 2>/dev/null || echo dev)" -o bin/xrdtest ./cmd/xrdtest
exec bin/xrdtest check examples/
