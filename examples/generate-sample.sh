#!/bin/sh
# generate-sample.sh: make the sample detail files in examples/ with a real
# FreeRADIUS 3.2 (see detail/testdata/freeradius/generate.sh).
#
#	radacct/127.0.0.1/detail-20261123  about 410 records of realistic traffic
#	                                   (5 NASes, 120 sessions on 2026-11-23)
#	                                   as FreeRADIUS wrote them, retimed (see
#	                                   below)
#	damaged/detail-damaged             the first 20 records of it with two
#	                                   damaged lines and a record cut off at
#	                                   the end, for "radrelay check"
#
# radclient sends the whole day within a second, so FreeRADIUS stamps every
# record with the same receive time; detail/testdata/freeradius/retime.go then
# sets each record's header and Timestamp to its Event-Timestamp plus
# Acct-Delay-Time and orders the file by it, as if the day's traffic had
# arrived live. The bytes are otherwise what FreeRADIUS wrote (radrelay's
# writer reproduces FreeRADIUS's format exactly).
#
# Usage: examples/generate-sample.sh   (needs freeradius, radclient, go)
set -eu
here=$(cd "$(dirname "$0")" && pwd)
gen=$here/../detail/testdata/freeradius
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

(cd "$gen" && go run gen-sessions.go -sessions 120 -seed 1123) >"$tmp/sample.txt"
"$gen/generate.sh" -o "$tmp" "$tmp/sample.txt"
day=20261123
(cd "$gen" && TZ=UTC go run retime.go) <"$tmp/sample.detail" >"$tmp/retimed.detail"
mv "$tmp/retimed.detail" "$tmp/sample.detail"
rm -rf "$here/radacct"
mkdir -p "$here/radacct/127.0.0.1" "$here/damaged"
cp "$tmp/sample.detail" "$here/radacct/127.0.0.1/detail-$day"

# Damage: an attribute line without " = ", an attribute line outside any
# record, and a last record cut off in the middle of a line.
awk -v RS= -v ORS='\n\n' 'NR <= 20' "$tmp/sample.detail" |
	awk '/^\tAcct-Session-Time = / && ++t == 2 { print "\tAcct-Session-Time 300"; next }
	     /^\tFramed-Protocol = / && ++f == 5 { print; print ""; print "\tUser-Name = \"orphan\""; next }
	     { print }' >"$here/damaged/detail-damaged"
printf 'Mon Nov 23 03:07:41 2026\n\tAcct-Status-Type = Stop\n\tUser-Name = "cut' >>"$here/damaged/detail-damaged"
chmod 0644 "$here/radacct/127.0.0.1/detail-$day" "$here/damaged/detail-damaged"
echo "wrote $here/radacct/127.0.0.1/detail-$day and $here/damaged/detail-damaged"
