#!/usr/bin/env bash
# Runs every check of the project: formatting, vet, all tests, the race
# detector on the core packages and a short fixed-count fuzz of the parsers.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
export PATH="/usr/local/go/bin:$PATH"
# The PostgreSQL store tests fail, not skip, without PostgreSQL (setup.sh
# installs it; each test binary starts its own server on a unix socket).
export XRDTEST_POSTGRES_REQUIRED=1

# load_libvirt_env FILE exports what scripts/libvirt-env.sh start printed.
# Nothing is evaluated: each line must be XRDTEST_LIBVIRT_NAME=value with a
# plain value, or the step fails naming the line (a tool's progress text on
# stdout once broke CI on machines without the env's cache).
load_libvirt_env() {
    local line n=0
    while IFS= read -r line || [ -n "$line" ]; do
        if [[ ! $line =~ ^(XRDTEST_LIBVIRT_[A-Z_]+)=([A-Za-z0-9._/:?=+-]+)$ ]]; then
            printf 'libvirt-env.sh start printed a line that is not NAME=value: %q\n' "$line" >&2
            return 1
        fi
        export "${BASH_REMATCH[1]}=${BASH_REMATCH[2]}"
        n=$((n + 1))
    done <"$1"
    local v
    for v in XRDTEST_LIBVIRT_URI XRDTEST_LIBVIRT_POOL XRDTEST_LIBVIRT_POOL_DIR XRDTEST_LIBVIRT_TEST_IMAGE; do
        if [ -z "${!v:-}" ]; then
            echo "libvirt-env.sh start did not print $v ($n lines)" >&2
            return 1
        fi
    done
}

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
# The VM tests need the private libvirtd: they run in the next step.
go test -count=1 -skip '^TestVM' $(go list ./... | grep -v /internal/hypervisor/libvirt)

echo "== libvirt backend against a private libvirtd in its own network namespace"
# scripts/libvirt-env.sh installs qemu, libvirt and dnsmasq if missing and
# starts its own virtlogd/libvirtd inside netns xrdtest-lv: nothing runs or
# routes in the root namespace, libvirt's 'default' network is never used.
# In CI its work dir is new every run, so the path of a fresh machine (no
# guest kernel downloaded, no guest built) is the one that is tested.
lv_out=$(mktemp)
lv_work=""
if [ "${CI:-}" = true ] && [ -z "${XRDTEST_LIBVIRT_ENV_DIR:-}" ]; then
    lv_work=$(mktemp -d /var/tmp/xrdtest-lv-ci.XXXXXX)
    touch "$lv_work/.xrdtest-libvirt-env" # purge deletes only a marked dir
    export XRDTEST_LIBVIRT_ENV_DIR=$lv_work
fi
# Set before start: a start that fails half-way leaves daemons to stop.
libvirt_cleanup() {
    local rc=$?
    if [ -n "$lv_work" ]; then
        bash scripts/libvirt-env.sh purge >&2 || rc=1
    else
        bash scripts/libvirt-env.sh stop >&2 || rc=1
    fi
    rm -f "$lv_out"
    return $rc
}
trap 'libvirt_cleanup' EXIT
trap 'exit 130' INT
trap 'exit 143' TERM
if [ -e "/run/netns/${XRDTEST_LIBVIRT_NETNS:-xrdtest-lv}" ]; then
    # Left by a run that was killed: its daemons and VMs go first.
    echo "libvirt env: a namespace of an earlier run is left; stopping what runs in it" >&2
    bash scripts/libvirt-env.sh stop >&2
fi
bash scripts/libvirt-env.sh start >"$lv_out"
load_libvirt_env "$lv_out"
XRDTEST_LIBVIRT_REQUIRED=1 go test -count=1 ./internal/hypervisor/libvirt/
echo "== netns backend's cgroup v2 code in a VM whose only hierarchy is v2 (no network device)"
XRDTEST_LIBVIRT_REQUIRED=1 go test -count=1 -run '^TestCgroupV2InVM$' -v ./internal/hypervisor/netns/
echo "== quickstart on VMs (3 VMs of the slave image; the xrootd_vm suite on 3 VMs of an image with the XRootD packages)"
XRDTEST_LIBVIRT_REQUIRED=1 go test -count=1 -timeout 20m -run '^TestVM' -v ./cmd/xrdtest
libvirt_cleanup
trap - EXIT INT TERM

echo "== go test -race (core packages)"
go test -count=1 -race ./internal/definition/... ./internal/cron/... ./internal/master/... \
    ./internal/session/... ./internal/daemons/... ./internal/httpapi/... ./internal/views/... ./internal/catalog/... \
    ./internal/slave/... ./internal/store/... ./internal/pki/... ./internal/config/... \
    ./internal/scheduler/... ./internal/notify/... ./internal/daemonclient/... \
    ./internal/hypervisor ./internal/hypervisor/agent ./internal/hypervisor/local \
    ./internal/repo/... ./internal/web/...

# Execution-count budgets, not durations: Go 1.26's fuzz coordinator can
# report its own -fuzztime deadline as a failure ("context deadline
# exceeded", golang/go#75804) when a loaded machine starves a worker at the
# deadline. A count has no deadline to race; each is about 10-20 s here.
echo "== fuzz (fixed execution counts)"
go test -run '^$' -fuzz '^FuzzLoadCluster$' -fuzztime 150000x ./internal/definition
go test -run '^$' -fuzz '^FuzzBlankImports$' -fuzztime 100000x ./internal/definition
go test -run '^$' -fuzz '^FuzzParse$' -fuzztime 300000x ./internal/cron
go test -run '^$' -fuzz '^FuzzParseINI$' -fuzztime 200000x ./internal/config

echo "== all checks passed"
