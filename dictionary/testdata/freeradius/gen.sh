#!/bin/sh
# Regenerates a detail fixture: runs a throwaway FreeRADIUS 3.2 (detail
# module only) on a random loopback port, sends the packets of INPUT with
# radclient, and keeps the detail file it writes as OUTPUT. Needs:
# freeradius, radclient, python3.
#   cd dictionary/testdata/freeradius && ./gen.sh                 # packets.txt -> detail.golden
#   ./gen.sh vsa-formats.txt vsa-formats.detail                   # every VSA format of the tree
set -eu
here=$(cd "$(dirname "$0")" && pwd)
input=$here/${1:-packets.txt}
output=$here/${2:-detail.golden}
dir=$(mktemp -d)
trap 'kill $(cat "$dir/pid" 2>/dev/null) 2>/dev/null || true; [ -n "${KEEP_LOG:-}" ] && cat "$dir/log/out" >&2; rm -rf "$dir"' EXIT
port=$(python3 -c 'import socket; s=socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
mkdir -p "$dir/run" "$dir/log"
cat >"$dir/radiusd.conf" <<EOF
prefix = /usr
exec_prefix = /usr
sysconfdir = /etc
localstatedir = $dir
sbindir = /usr/sbin
logdir = $dir/log
raddbdir = $dir
radacctdir = $dir
name = radiusd
confdir = $dir
run_dir = $dir/run
db_dir = $dir
libdir = /usr/lib/freeradius
pidfile = $dir/run/radiusd.pid
max_request_time = 30
cleanup_delay = 1
max_requests = 16384
hostname_lookups = no
log {
	destination = stdout
}
security {
	allow_core_dumps = no
}
thread pool {
	start_servers = 1
	max_servers = 2
	min_spare_servers = 1
	max_spare_servers = 2
}
client localhost {
	ipaddr = 127.0.0.1
	secret = testing123
}
modules {
	detail {
		filename = $dir/detail
		header = "%t"
		permissions = 0600
	}
}
server default {
	listen {
		type = acct
		ipaddr = 127.0.0.1
		port = $port
	}
	accounting {
		detail
	}
}
EOF
TZ=UTC freeradius -d "$dir" -f -l stdout >"$dir/log/out" 2>&1 &
echo $! >"$dir/pid"
i=0
until grep -q 'Ready to process requests' "$dir/log/out"; do
	i=$((i+1)); [ $i -lt 100 ] || { cat "$dir/log/out"; exit 1; }
	sleep 0.1
done
radclient -r 1 -t 3 -f "$input" "127.0.0.1:$port" acct testing123
# FreeRADIUS writes the detail line before replying, so the file is complete.
cp "$dir/detail" "$output"
echo "wrote $output"
