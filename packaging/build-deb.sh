#!/bin/sh
# Builds the radrelay .deb with dpkg-deb (make deb runs it):
#   packaging/build-deb.sh BINARY OUTDIR
# BINARY is a radrelay built for the target (make deb builds a static one);
# the man pages and shell completions are made by running it, so they are
# the help texts of that very binary. The package is written to
# OUTDIR/radrelay_VERSION_ARCH.deb and its path printed.
set -eu
bin=$1
out=$2
here=$(cd "$(dirname "$0")" && pwd)
version=${DEB_VERSION:-$("$here/version.sh" --deb)}
arch=${DEB_ARCH:-$(dpkg --print-architecture)}
root=$(mktemp -d)
chmod 0755 "$root"
trap 'rm -rf "$root"' EXIT

install -D -m 0755 "$bin" "$root/usr/bin/radrelay"
install -D -m 0644 "$here/radrelay.service" "$root/usr/lib/systemd/system/radrelay.service"
install -D -m 0644 "$here/radrelay.sysusers" "$root/usr/lib/sysusers.d/radrelay.conf"
install -D -m 0644 "$here/radrelay.tmpfiles" "$root/usr/lib/tmpfiles.d/radrelay.conf"
install -D -m 0640 "$here/radrelay.toml" "$root/etc/radrelay/radrelay.toml"

mkdir -p "$root/usr/share/man/man1"
"$bin" man --dir "$root/usr/share/man/man1"
gzip -9n "$root"/usr/share/man/man1/*.1

install -d "$root/usr/share/bash-completion/completions" "$root/usr/share/zsh/vendor-completions" \
	"$root/usr/share/fish/vendor_completions.d"
"$bin" completion bash >"$root/usr/share/bash-completion/completions/radrelay"
"$bin" completion zsh >"$root/usr/share/zsh/vendor-completions/_radrelay"
"$bin" completion fish >"$root/usr/share/fish/vendor_completions.d/radrelay.fish"

# The documentation keeps the repository's layout (README.md beside docs/
# and examples/), so that its relative links resolve where it is installed:
# every file of docs/ (the JSON Schema of the stream record too) and of
# examples/ (its README, the configurations, the FreeRADIUS-written sample
# data). A link that would not resolve there fails the build.
doc="$root/usr/share/doc/radrelay"
src=$(cd "$here/.." && pwd)
install -d "$doc"
install -m 0644 "$src/LICENSE" "$doc/copyright"
install -m 0644 "$src/README.md" "$doc/"
(cd "$src" && find docs examples -type f) | while read -r f; do
	install -D -m 0644 "$src/$f" "$doc/$f"
done
broken=$(find "$doc" -name '*.md' | while read -r md; do
	grep -o '](\([^)#][^)]*\))' "$md" | sed 's/^](//; s/)$//; s/#.*//' | while read -r target; do
		case $target in http://* | https://* | mailto:*) continue ;; esac
		[ -e "$(dirname "$md")/$target" ] || echo "${md#"$doc"/}: $target"
	done
done)
if [ -n "$broken" ]; then
	echo "build-deb.sh: links that do not resolve under /usr/share/doc/radrelay:" >&2
	echo "$broken" >&2
	exit 1
fi

mkdir -p "$root/DEBIAN"
cat >"$root/DEBIAN/control" <<CONTROL
Package: radrelay
Version: $version
Architecture: $arch
Maintainer: radrelay developers <radrelay@users.noreply.github.com>
Section: net
Priority: optional
Homepage: https://github.com/radrelay/radrelay
Installed-Size: $(du -sk "$root" | cut -f1)
Description: deliver RADIUS accounting detail files without losing a record
 radrelay follows the accounting detail files FreeRADIUS writes and delivers
 every record, at least once, to other RADIUS servers, PostgreSQL or local
 files, with many records in flight, crash-safe positions and a quarantine
 for damaged records. Includes a hardened systemd unit (not enabled), man
 pages, shell completions and a configuration that follows the files
 read-only.
CONTROL
echo /etc/radrelay/radrelay.toml >"$root/DEBIAN/conffiles"
cat >"$root/DEBIAN/postinst" <<'POSTINST'
#!/bin/sh
# Make radrelay's user and directories; tell systemd about the unit. The
# service is not enabled: edit /etc/radrelay/radrelay.toml, then
# "systemctl enable --now radrelay".
set -e
if [ "$1" = configure ]; then
	if command -v systemd-sysusers >/dev/null 2>&1; then
		systemd-sysusers /usr/lib/sysusers.d/radrelay.conf
	else
		getent group freerad >/dev/null || groupadd --system freerad
		getent passwd radrelay >/dev/null || useradd --system --home-dir /var/lib/radrelay \
			--shell /usr/sbin/nologin --user-group --groups freerad radrelay
	fi
	if command -v systemd-tmpfiles >/dev/null 2>&1; then
		systemd-tmpfiles --create /usr/lib/tmpfiles.d/radrelay.conf
	else
		install -d -m 0750 -o radrelay -g radrelay /var/lib/radrelay /var/lib/radrelay/quarantine /var/log/radrelay
	fi
	chgrp radrelay /etc/radrelay/radrelay.toml
	if [ -d /run/systemd/system ]; then
		systemctl daemon-reload || true
	fi
fi
POSTINST
cat >"$root/DEBIAN/postrm" <<'POSTRM'
#!/bin/sh
set -e
if [ -d /run/systemd/system ]; then
	systemctl daemon-reload || true
fi
if [ "$1" = purge ]; then
	rm -rf /var/lib/radrelay /var/log/radrelay
fi
POSTRM
chmod 0755 "$root/DEBIAN/postinst" "$root/DEBIAN/postrm"

mkdir -p "$out"
deb="$out/radrelay_${version}_${arch}.deb"
dpkg-deb --root-owner-group -Zxz --build "$root" "$deb" >/dev/null
echo "$deb"
