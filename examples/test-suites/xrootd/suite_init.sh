#!/bin/bash
# Downloads lib.sh and the one configuration file from the master, mounts
# the data disks (already mounted on netns, mounted here on VMs), starts
# xrootd and cmsd on every server, and has the client wait until the meta
# manager (or the manager, without one) finds every data server.
source /etc/XrdTest/utils/functions.sh
SUITE_DIR=/var/lib/xrootd/xrdtest-suite
FILES="@proto@://master.xrd.test:@port@/downloadScript/test-suites/xrootd"

command -v xrootd >/dev/null && command -v xrdcp >/dev/null ||
    { echo "FAIL on $(hostname): XRootD is not installed (Debian: xrootd-server xrootd-client)"; exit 1; }
mkdir -p $SUITE_DIR
for f in lib.sh config/xrootd.cfg; do
    # curl where there is one, else wget (busybox's in the VM image).
    if command -v curl >/dev/null; then
        curl -fsS -o "$SUITE_DIR/${f##*/}" "$FILES/$f"
    else
        wget -q -O "$SUITE_DIR/${f##*/}" "$FILES/$f"
    fi || { echo "FAIL on $(hostname): cannot download $FILES/$f"; exit 1; }
done
source $SUITE_DIR/lib.sh
log "$HOST: $(xrootd -v 2>&1), role $ROLE; managers: $MANAGERS; data servers: $DATA_SERVERS"
[ -n "$MANAGERS" ] && [ -n "$DATA_SERVERS" ] ||
    fail "the cluster has no manager (metaman, man1, man2) or no data server (srv1..srv4) that resolves"
XROOTD_USER=xrootd XROOTD_GROUP=xrootd
@diskmounts@
if [ $ROLE = server ]; then
    mountpoint -q /data || fail "no data disk mounted at /data"
    log "$HOST: data disk mounted at /data"
fi

if is_server; then
    start_daemons
    log "$HOST: xrootd and cmsd started"
    xrdtest sync signal "started-$HOST"
else
    for s in $MANAGERS $DATA_SERVERS; do
        xrdtest sync wait "started-$s" || fail "$s did not start its daemons"
    done
    # /data is on every data server: a deep locate lists all that logged in.
    until_ok 60 "$MM finding $N_DATA_SERVERS data servers" \
        sh -c "[ \$(xrdfs $MM locate -d -r /data 2>/dev/null | wc -l) -eq $N_DATA_SERVERS ]"
    log "$HOST: $MM finds all $N_DATA_SERVERS data servers"
    xrdfs $MM locate -d /data
fi
