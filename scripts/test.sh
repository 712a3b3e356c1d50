#!/usr/bin/env bash
# Runs every check of the project: formatting, vet, all tests, the race
# detector on the core packages and a short fixed-time fuzz of the parsers.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
export PATH="/usr/local/go/bin:$PATH"

echo "== gofmt"
unformatted=$(gofmt -l $(git ls-files '*.go' 2>/dev/null || find . -name '*.go') | grep -v '\.pb\.go$' || true)
if [ -n "$unformatted" ]; then
    echo "gofmt would change:" >&2
    echo "$unformatted" >&2
    exit 1
fi

echo "== go vet"
go vet ./...

echo "== generated code is current"
bash scripts/generate.sh --check

echo "== go test"
go test -count=1 ./...

echo "== go test -race (core packages)"
go test -count=1 -race ./internal/definition/... ./internal/cron/... ./internal/master/... \
    ./internal/slave/... ./internal/store/... ./internal/pki/... ./internal/config/...

echo "== fuzz (fixed time)"
go test -run '^$' -fuzz '^FuzzLoadCluster$' -fuzztime 20s ./internal/definition
go test -run '^$' -fuzz '^FuzzBlankImports$' -fuzztime 10s ./internal/definition
go test -run '^$' -fuzz '^FuzzParse$' -fuzztime 10s ./internal/cron
go test -run '^$' -fuzz '^FuzzParseINI$' -fuzztime 10s ./internal/config

echo "== all checks passed"
