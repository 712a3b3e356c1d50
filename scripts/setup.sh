#!/usr/bin/env bash
# Installs what building and testing xrdtest needs on a fresh Debian machine.
# Idempotent; run as root (CI) or with sudo.
set -euo pipefail

export PATH="/usr/local/go/bin:$PATH"
if ! command -v go >/dev/null; then
    echo "setup: Go is required (expected at /usr/local/go)" >&2
    exit 1
fi

# Debian packages used by the tests. Nothing is installed when all are present.
# postgresql: the store tests start throwaway servers from its binaries
# (internal/store/pgtest), never the system's cluster; chromium: the browser
# tests of the web pages; iproute2, util-linux (nsenter, mount, findmnt),
# e2fsprogs (mkfs.ext4), dnsmasq-base and busybox: the netns backend and its
# tests (busybox httpd serves the example suite's file between hosts);
# xrootd-server and xrootd-client: the XRootD example suite (xrootd, cmsd,
# xrdcp, xrdfs), run by scripts/run.sh and the tests.
packages=(git ca-certificates bash procps protobuf-compiler postgresql chromium
    iproute2 util-linux e2fsprogs dnsmasq-base busybox-static curl
    xrootd-server xrootd-client)
missing=()
for p in "${packages[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
    if [ "$(id -u)" -ne 0 ]; then SUDO=sudo; else SUDO=; fi
    $SUDO apt-get update -q
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -q --no-install-recommends "${missing[@]}"
fi

cd "$(dirname "$0")/.."
go mod download
