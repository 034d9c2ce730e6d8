#!/usr/bin/env bash
# Build reactord's Debian packages (Debian 12) out of the tree.
#
#   packaging/build-deb.sh OUTDIR [dpkg-buildpackage option]...
#
# The sources are copied to a temporary directory, where packaging/debian
# becomes debian/ (the tree itself has no debian/ and is never written to),
# and `dpkg-buildpackage -us -uc -b` runs there. The .deb, .buildinfo and
# .changes files are moved to OUTDIR; the copy is removed, also on failure.
# DEB_BUILD_OPTIONS applies as usual (nocheck skips the test suites,
# parallel=N builds with N jobs).
#
# Needs: build-essential debhelper dh-python fakeroot dpkg-dev, and the
# Build-Depends of packaging/debian/control (dpkg-buildpackage names any
# that is missing).
set -euo pipefail

top=$(cd "$(dirname "$0")/.." && pwd)
if [ $# -lt 1 ]; then
        echo "usage: $0 OUTDIR [dpkg-buildpackage option]..." >&2
        exit 2
fi
mkdir -p "$1"
out=$(cd "$1" && pwd)
shift

work=$(mktemp -d "${TMPDIR:-/tmp}/reactord-deb.XXXXXX")
trap 'rm -rf "$work"' EXIT
src=$work/reactord
mkdir "$src"

# The sources: in a git checkout what git tracks plus new files it does not
# ignore (never build directories); otherwise everything but build*/.
if git -C "$top" rev-parse --is-inside-work-tree >/dev/null 2>&1; then
        (cd "$top" && git ls-files -z --cached --others --exclude-standard) |
                (cd "$top" && tar --null --files-from=- --ignore-failed-read -cf - 2>/dev/null) |
                tar -C "$src" -xf -
else
        tar -C "$top" --exclude='./build*' --exclude=./.git --exclude=./debian -cf - . |
                tar -C "$src" -xf -
fi
cp -a "$src/packaging/debian" "$src/debian"

(cd "$src" && dpkg-buildpackage -us -uc -b "$@")
mv "$work"/*.deb "$work"/*.buildinfo "$work"/*.changes "$out"/
