#!/bin/bash
# After srv1 rejoined (server_down), the cluster is whole again. First, as
# the first request for them since the rejoin, the files of srv2 (srv1's
# sibling under man1) are removed through the meta manager; then every
# other file of server_down is read back and removed.
source /etc/XrdTest/utils/functions.sh
source /var/lib/xrootd/xrdtest-suite/lib.sh
[ "$HOST" = client1 ] || exit 0
[ -s /tmp/down/holders ] || fail "server_down left no files to check"

# rm_through_mm FILE HOLDER: remove FILE through the meta manager; on
# failure say what its holder says and add it to $refused.
refused=""
rm_through_mm() {
    local out held
    if out=$(set -o pipefail; xrdfs $MM rm /data/down/$1 2>&1 | tr -d '\0'); then
        log "rm $1 ($2): done"
        return
    fi
    holds "$2" /data/down/$1 && held="$2 still holds it" || held="$2 no longer holds it"
    echo "rm $1 ($2) through $MM failed; $held: $(echo $out)"
    refused="$refused $1($2)"
}
while read -r f at; do
    [ "$at" = srv2 ] && rm_through_mm $f $at
done </tmp/down/holders
while read -r f at; do
    [ "$at" = srv2 ] && continue
    out=$(xrdcp -s -f "$ROOT//data/down/$f" /tmp/down/back 2>&1) || fail "$f on $at: not read after srv1 rejoined: $out"
    cmp /tmp/down/file /tmp/down/back || fail "$f on $at: read back differs"
    rm_through_mm $f $at
done </tmp/down/holders
if [ -n "$refused" ]; then
    # Seen with XRootD 5.5.3 (Debian bookworm) in every run of this suite:
    # after a dropped data server logs in again, the meta manager refuses
    # to remove a file of the other data server under the same manager
    # ("No servers are available to write the file"), for a minute and
    # more, unless the file was looked up (read, stat, locate) through it
    # first; the manager below removes it when asked directly. A problem
    # of XRootD, not of xrdtest: said as such, and the check stays.
    fail "XRootD finding: after srv1 rejoined, the meta manager refused to remove$refused, held by data servers that serve them for reading"
fi
