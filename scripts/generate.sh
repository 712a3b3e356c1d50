#!/usr/bin/env bash
# Regenerates the gRPC code from internal/protocol/xrdtest.proto with pinned
# generator versions. --check: fail when the committed code is stale.
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="/usr/local/go/bin:$PATH"

command -v protoc >/dev/null || { echo "generate: protoc missing (Debian package protobuf-compiler; scripts/setup.sh installs it)" >&2; exit 1; }
bin="$(go env GOPATH)/bin"
mkdir -p "$bin"
GOBIN="$bin" go install google.golang.org/protobuf/cmd/protoc-gen-go@v1.36.12
GOBIN="$bin" go install google.golang.org/grpc/cmd/protoc-gen-go-grpc@v1.5.1
PATH="$bin:$PATH" go generate ./internal/protocol

if [ "${1:-}" = "--check" ] && ! git diff --quiet -- internal/protocol; then
    echo "generate: internal/protocol is stale; run scripts/generate.sh and commit:" >&2
    git diff --stat -- internal/protocol >&2
    exit 1
fi
