#!/bin/bash
# Files copied in through the meta manager and read back are identical:
# xrdcp checks adler32 end to end both ways, the server's checksum equals
# the client's, and the bytes read back equal the bytes written.
source /etc/XrdTest/utils/functions.sh
source /var/lib/xrootd/xrdtest-suite/lib.sh
[ "$HOST" = client1 ] || exit 0
for f in /tmp/copy/f*; do
    name=${f##*/}
    put "$f" /data/copy/$name
    out=$(xrdcp -s -f --cksum adler32:print "$ROOT//data/copy/$name" /tmp/copy/back-$name 2>&1) ||
        fail "xrdcp $ROOT//data/copy/$name back failed: $out"
    cmp "$f" /tmp/copy/back-$name || fail "$name read back differs from what was written"
    want=$(xrdadler32 "$f" | awk '{ print $1 }')
    got=$(xrdfs $MM query checksum /data/copy/$name | awk '{ print $2 }')
    [ "$want" = "$got" ] || fail "$name: adler32 here $want, on the server '$got'"
    log "$name: $(stat -c %s "$f") bytes on $(holder /data/copy/$name), adler32 $want both ways"
done
