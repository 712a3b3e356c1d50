#!/bin/bash
# Downloads lib.sh and the one configuration file from the master, starts
# xrootd and cmsd on every server, and has the client wait until the meta
# manager finds all four data servers.
source /etc/XrdTest/utils/functions.sh
SUITE_DIR=/var/lib/xrootd/xrdtest-suite
FILES="@proto@://master.xrd.test:@port@/downloadScript/test-suites/xrootd"

command -v xrootd >/dev/null && command -v xrdcp >/dev/null ||
    { echo "FAIL on $(hostname): XRootD is not installed (Debian: xrootd-server xrootd-client)"; exit 1; }
mkdir -p $SUITE_DIR
for f in lib.sh config/xrootd.cfg; do
    curl -fsS -o "$SUITE_DIR/${f##*/}" "$FILES/$f" || wget -q -O "$SUITE_DIR/${f##*/}" "$FILES/$f" ||
        { echo "FAIL on $(hostname): cannot download $FILES/$f"; exit 1; }
done
source $SUITE_DIR/lib.sh
log "$HOST: $(xrootd -v 2>&1)"

if is_server; then
    start_daemons
    log "$HOST: xrootd and cmsd started"
    xrdtest sync signal "started-$HOST"
else
    for s in metaman man1 man2 $DATA_SERVERS; do
        xrdtest sync wait "started-$s" || fail "$s did not start its daemons"
    done
    # /data is on every data server: a deep locate lists all that logged in.
    until_ok 60 "the meta manager finding 4 data servers" \
        sh -c "[ \$(xrdfs $MM locate -d -r /data 2>/dev/null | wc -l) -eq 4 ]"
    log "$HOST: the meta manager finds all four data servers"
    xrdfs $MM locate -d /data
fi
