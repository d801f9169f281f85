#!/bin/bash
# Remakes the BNG corpus: gen.go writes radclient input, a FreeRADIUS 3.2
# (stock preprocess + acct_unique in preacct, detail module as in
# internal/freeradiustest) receives it from radclient (-p 20, 4,000
# requests a run) and writes the detail file.
# usage: make.sh OUT.detail [SESSIONS NASES SEED]
set -euo pipefail
OUT=$1; SESSIONS=${2:-50000}; NASES=${3:-100}; SEED=${4:-7}
HERE=$(cd "$(dirname "$0")" && pwd)
W=$(mktemp -d /tmp/bigcorp.XXXX)
trap 'kill $RP 2>/dev/null || true; wait 2>/dev/null; rm -rf $W' EXIT
(cd "$HERE" && go run ./gen.go -sessions $SESSIONS -nases $NASES -seed $SEED) > $W/input 2> $W/gen.log
cat $W/gen.log
WANT=$(awk '{print $1; exit}' $W/gen.log)
PORT=$(python3 -c 'import socket; s=socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
mkdir -p $W/raddb/log $W/raddb/run $W/raddb/radacct
echo "# no local additions" > $W/raddb/dictionary
sed -e "s#@DIR@#$W/raddb#g" -e "s#@PORT@#$PORT#g" "$HERE/radiusd.conf.in" > $W/raddb/radiusd.conf
freeradius -d $W/raddb -n radiusd -f -l stdout > $W/radiusd.log 2>&1 & RP=$!
for i in $(seq 300); do grep -q "Ready to process requests" $W/radiusd.log && break; kill -0 $RP || { cat $W/radiusd.log; exit 1; }; sleep 0.1; done
grep -q "Ready to process requests" $W/radiusd.log || { echo "freeradius not ready"; tail $W/radiusd.log; exit 1; }
# split into chunks of 4000 requests (radclient slows down on long inputs)
awk -v dir=$W 'BEGIN{RS=""; ORS="\n\n"} {f=sprintf("%s/chunk.%06d", dir, int((NR-1)/4000)); print > f; if ((NR % 4000) == 0) close(f)}' $W/input
for c in $W/chunk.*; do
  radclient -q -f $c -p 20 -r 3 -t 5 127.0.0.1:$PORT acct testing123 || { echo "radclient failed on $c"; exit 1; }
done
for i in $(seq 600); do
  N=$(grep -c '^[^[:space:]]' $W/raddb/radacct/detail || true)
  [ "$N" -ge "$WANT" ] && break; sleep 0.2
done
kill $RP; wait $RP 2>/dev/null || true
N=$(grep -c '^[^[:space:]]' $W/raddb/radacct/detail)
[ "$N" -eq "$WANT" ] || { echo "FreeRADIUS wrote $N records, want $WANT"; exit 1; }
cp $W/raddb/radacct/detail "$OUT.tmp" && mv "$OUT.tmp" "$OUT"
echo "$OUT: $N records, $(stat -c %s "$OUT") bytes"
