# lib.sh: what the xrootd suite's scripts share. suite_init.sh downloads it
# from the master (with config/xrootd.cfg) into $SUITE_DIR on every host;
# the case scripts source it from there. It serves every cluster whose
# hosts are named by role (cluster_meta_manager's 8 hosts, and the 3 of
# cluster_xrootd_vm for the xrootd_vm suite): metaman is the meta manager,
# man<N> a manager, srv<N> a data server (under man1 for srv1 and srv2,
# man2 for srv3 and srv4), any other host a client.

SUITE_DIR=/var/lib/xrootd/xrdtest-suite
HOST=$(hostname -s)
case $HOST in
metaman) ROLE=meta ;;
man[0-9]*) ROLE=manager ;;
srv[0-9]*) ROLE=server ;;
*) ROLE=client ;;
esac
# The cluster's layout: which of the role names it has. Both backends'
# DNS answers for the cluster's own hosts only, at once.
resolves() { getent hosts "$1.xrd.test" >/dev/null 2>&1; }
MANAGERS= DATA_SERVERS=
for h in metaman man1 man2; do resolves $h && MANAGERS="$MANAGERS $h"; done
for h in srv1 srv2 srv3 srv4; do resolves $h && DATA_SERVERS="$DATA_SERVERS $h"; done
MANAGERS=${MANAGERS# } DATA_SERVERS=${DATA_SERVERS# }
N_DATA_SERVERS=$(echo $DATA_SERVERS | wc -w)
# The clients' door: the meta manager, else the (first) manager.
MM=${MANAGERS%% *}.xrd.test
ROOT=root://$MM:1094
# No XRootD client call waits longer than a minute (the default is 30 min):
# a stuck request fails the stage with XRootD's own message.
export XRD_REQUESTTIMEOUT=60

fail() {
    echo "FAIL on $HOST: $*"
    exit 1
}

is_server() {
    [ $ROLE != client ]
}

# until SECONDS WHAT CMD...: run CMD every half second until it succeeds;
# fail naming WHAT after SECONDS.
until_ok() {
    local limit=$1 what=$2
    shift 2
    local end=$((SECONDS + limit))
    until "$@" >/dev/null 2>&1; do
        [ $SECONDS -lt $end ] || fail "$what: not after ${limit}s"
        sleep 0.5
    done
}

# start_daemons: xrootd and cmsd of this host, as user xrootd, logging to
# /var/log/xrootd; returns once xrootd answers on its port.
start_daemons() {
    if pgrep -x xrootd >/dev/null || pgrep -x cmsd >/dev/null; then
        fail "xrootd or cmsd runs already on $HOST: $(pgrep -a -x xrootd; pgrep -a -x cmsd)"
    fi
    mkdir -p /var/log/xrootd /var/spool/xrootd /run/xrootd /data
    chown xrootd:xrootd /var/log/xrootd /var/spool/xrootd /run/xrootd /data
    # A manager reports to the meta manager when the cluster has one
    # (config/xrootd.cfg: if defined ?~XRDTEST_UNDER_META).
    if [ $ROLE = manager ] && resolves metaman; then
        export XRDTEST_UNDER_META=1
    fi
    local d out
    for d in xrootd cmsd; do
        out=$($d -b -R xrootd -l /var/log/xrootd/$d.log -c $SUITE_DIR/xrootd.cfg 2>&1) ||
            fail "$d did not start (exit $?): $out $(tail -n 20 /var/log/xrootd/$d.log)"
    done
    until_ok 30 "xrootd on $HOST answering" xrdfs "$HOST.xrd.test:1094" query config version
}

# stop_daemons: end this host's xrootd and cmsd (only this host's: its own
# PID namespace on netns, its own machine on VMs).
stop_daemons() {
    pkill -x xrootd
    pkill -x cmsd
    until_ok 20 "xrootd and cmsd on $HOST gone" sh -c '! pgrep -x xrootd && ! pgrep -x cmsd'
}

# holder PATH: the data server that holds PATH, as the meta manager finds it
# (a deep locate, down to the data servers), by short name.
holder() {
    local ip s
    ip=$(xrdfs $MM locate -d "$1" 2>/dev/null | grep -oE '([0-9]+\.){3}[0-9]+' | head -n 1)
    [ -n "$ip" ] || return 1
    for s in $DATA_SERVERS; do
        if getent hosts $s.xrd.test | grep -qw "^$ip"; then
            echo $s
            return 0
        fi
    done
    echo "unknown($ip)"
}

# holds SERVER PATH: SERVER itself (not the managers) says it has PATH.
holds() {
    xrdfs "$1.xrd.test:1094" stat "$2" >/dev/null 2>&1
}

# missing PATH: the meta manager answers that PATH is not found: XRootD's
# kXR_NotFound (3011), said as "No such file" or, for a file whose server
# was dropped, "No servers are available to read the file"; not an error of
# another kind, nor a client told to wait.
missing() {
    local out
    out=$(set -o pipefail; timeout 20 xrdfs $MM stat "$1" 2>&1 | tr -d '\0') && return 1
    case $out in *"[3011]"*) return 0 ;; esac
    return 1
}

# put LOCAL PATH: copy LOCAL in through the meta manager, checked end to end
# with adler32 (xrdcp compares the source's checksum with the server's).
put() {
    local out
    out=$(xrdcp -s -f -p --cksum adler32:source "$1" "$ROOT/$2" 2>&1) ||
        fail "xrdcp $1 -> $ROOT/$2 failed: $out"
}

# place DIR MIN HOLDER...: writes /tmp/DIR/file (made by the caller)
# through the meta manager as /data/DIR/D1, D2, ... (D: DIR's first letter;
# MIN at least, 32 at most) until each
# HOLDER (a grep pattern of data server names, e.g. 'srv[34]') holds one,
# and lists each file's holder in /tmp/DIR/holders; fails naming what is
# missing after 32.
place() {
    local dir=$1 min=$2 i h ok f
    shift 2
    : >/tmp/$dir/holders
    for i in $(seq 1 32); do
        f=${dir:0:1}$i
        put /tmp/$dir/file /data/$dir/$f
        echo "$f $(holder /data/$dir/$f)" >>/tmp/$dir/holders
        [ $i -ge $min ] || continue
        ok=yes
        for h in "$@"; do
            grep -q " $h\$" /tmp/$dir/holders || ok=
        done
        [ -z "$ok" ] || break
    done
    for h in "$@"; do
        grep -q " $h\$" /tmp/$dir/holders || fail "of $i new files, none went to $h: $(echo $(cat /tmp/$dir/holders))"
    done
    log "$i files: $(echo $(cut -d' ' -f2 /tmp/$dir/holders | sort | uniq -c))"
}

# drop DIR: the files place made go, whatever rm through the meta manager
# left: each data server removes /data/DIR itself, the client /tmp/DIR.
drop() {
    case $ROLE in
    server) rm -rf "/data/$1" ;;
    client) rm -rf "/tmp/$1" ;;
    esac
}

# random_file PATH SIZE: SIZE bytes of random data.
random_file() {
    head -c "$2" /dev/urandom >"$1"
}
