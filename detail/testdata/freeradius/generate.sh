#!/bin/sh
# generate.sh: make detail files with a real FreeRADIUS 3.2, for tests.
#
# Usage: generate.sh [-o OUTDIR] PACKETFILE...
#
# For each radclient input file NAME.txt (packets separated by empty lines),
# starts a throwaway FreeRADIUS (configuration copied from /etc/freeradius/3.0
# into a temporary directory, running as the current user on a random loopback
# port), sends the packets with
#
#	radclient -f NAME.txt -p 50 127.0.0.1:PORT acct SECRET
#
# and copies what its accounting section wrote into OUTDIR (default: the
# directory of this script):
#
#	NAME.detail          the stock "detail" module (header "%t", one file per
#	                     client, as /etc/freeradius/3.0/mods-available/detail)
#	NAME-header.detail   a second instance with log_packet_header = yes
#
# The accounting section runs preprocess and acct_unique first, as the stock
# "default" site does, so the files also hold the attributes the server adds.
#
# Needs: freeradius (3.2), radclient (freeradius-utils). Run from anywhere:
#
#	detail/testdata/freeradius/generate.sh detail/testdata/freeradius/packets-*.txt
set -eu

here=$(cd "$(dirname "$0")" && pwd)
outdir=$here
if [ "${1:-}" = "-o" ]; then
	outdir=$2
	shift 2
fi
[ $# -gt 0 ] || { echo "usage: $0 [-o OUTDIR] PACKETFILE..." >&2; exit 2; }
command -v freeradius >/dev/null || { echo "$0: freeradius is not installed" >&2; exit 1; }
command -v radclient >/dev/null || { echo "$0: radclient is not installed" >&2; exit 1; }

export TZ=UTC
secret=fixture-secret
tmp=$(mktemp -d)
pid=
cleanup() {
	if [ -n "$pid" ]; then kill "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; fi
	rm -rf "$tmp"
}
trap cleanup EXIT INT TERM

# A private copy of the stock configuration with one accounting server.
cp -a /etc/freeradius/3.0 "$tmp/raddb"
raddb=$tmp/raddb
sed -i -E \
	-e 's,^([[:space:]]*)(user|group)[[:space:]]*=,\1#\2 =,' \
	-e "s|^logdir = .*|logdir = $tmp/log|" \
	-e "s|^run_dir = .*|run_dir = $tmp/run|" \
	-e "s|^raddbdir = .*|raddbdir = $raddb|" \
	"$raddb/radiusd.conf"
mkdir -p "$tmp/log/radacct" "$tmp/run"
rm -f "$raddb/sites-enabled/"* "$raddb/mods-enabled/"*
for m in always expr preprocess detail; do
	ln -s "../mods-available/$m" "$raddb/mods-enabled/$m"
done
cat >"$raddb/mods-enabled/detail_header" <<'EOF'
detail detail_header {
	filename = ${radacctdir}/header/detail
	escape_filenames = no
	permissions = 0600
	header = "%t"
	log_packet_header = yes
}
EOF
cat >"$raddb/clients.conf" <<EOF
client fixtures {
	ipaddr = 127.0.0.1
	secret = $secret
}
EOF

for packets in "$@"; do
	name=$(basename "$packets" .txt)
	rm -rf "$tmp/log/radacct"/*
	port=$((20000 + $(od -An -N2 -tu2 /dev/urandom) % 40000))
	cat >"$raddb/sites-enabled/fixtures" <<EOF
server fixtures {
	listen {
		type = acct
		ipaddr = 127.0.0.1
		port = $port
	}
	preacct {
		preprocess
		acct_unique
	}
	accounting {
		detail
		detail_header
		ok
	}
}
EOF
	freeradius -d "$raddb" -f -l stdout >"$tmp/freeradius.log" 2>&1 &
	pid=$!
	tries=0
	until grep -q "Ready to process requests" "$tmp/freeradius.log"; do
		tries=$((tries + 1))
		if [ $tries -gt 100 ] || ! kill -0 "$pid" 2>/dev/null; then
			echo "$0: freeradius did not start:" >&2
			cat "$tmp/freeradius.log" >&2
			exit 1
		fi
		sleep 0.1
	done
	radclient -q -f "$packets" -p 50 -r 3 -t 3 "127.0.0.1:$port" acct "$secret"
	kill "$pid"
	wait "$pid" 2>/dev/null || true
	pid=
	set -- "$tmp/log/radacct/127.0.0.1"/detail-*
	cp "$1" "$outdir/$name.detail"
	cp "$tmp/log/radacct/header/detail" "$outdir/$name-header.detail"
	echo "$0: $packets -> $outdir/$name.detail ($(grep -c '^$' "$outdir/$name.detail") records), $outdir/$name-header.detail"
done
