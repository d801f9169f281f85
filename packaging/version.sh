#!/bin/sh
# Prints radrelay's version from git: the release tag (vMAJOR.MINOR.PATCH)
# when HEAD is tagged, vX.Y.Z-N-gHASH for N commits after the last tag,
# v0.0.0-N-gHASH before the first tag, "-dirty" appended when the working
# tree has changes; "v0.0.0-unknown" outside a git checkout.
# With --deb, the same as a Debian version: 0.1.0, 0.1.0+3.gabc1234.
set -eu
cd "$(dirname "$0")/.."
v=$(git describe --tags --match 'v[0-9]*' --dirty 2>/dev/null) ||
v=$(n=$(git rev-list --count HEAD 2>/dev/null) && h=$(git rev-parse --short HEAD 2>/dev/null) &&
    d=$(git diff --quiet HEAD 2>/dev/null || echo -dirty) && echo "v0.0.0-$n-g$h$d") ||
v=v0.0.0-unknown
if [ "${1:-}" = --deb ]; then
	# v0.1.0-3-gabc-dirty -> 0.1.0+3.gabc.dirty (sorts after 0.1.0, before 0.1.1)
	echo "$v" | sed -e 's/^v//' -e 's/-/+/' -e 's/-/./g'
else
	echo "$v"
fi
