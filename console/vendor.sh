#!/usr/bin/env bash
# Vendors the console's JavaScript libraries from the npm registry at pinned
# versions, with their licences: htmx and uPlot into console/assets/vendor
# (embedded in gavel), axe-core into tests/testdata/axe-core (the browser
# tests' accessibility checks only). Needs npm; nothing here is needed to
# build or run gavel. Run through `make console-assets`.
set -euo pipefail

readonly HTMX_VERSION=4.0.1
readonly UPLOT_VERSION=1.6.32
readonly AXE_VERSION=4.14.1

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

fetch() { # fetch NAME VERSION: unpacks the tarball into $work/NAME
	local name=$1 version=$2
	(cd "$work" && npm pack --silent "${name}@${version}" >/dev/null)
	mkdir -p "$work/$name"
	tar -xzf "$work/${name}-${version}.tgz" -C "$work/$name"
	local got
	got=$(sed -n 's/^  "version": "\(.*\)",$/\1/p' "$work/$name/package/package.json" | head -n1)
	[[ $got == "$version" ]] || { echo "vendor.sh: $name is $got, want $version" >&2; exit 1; }
}

fetch htmx.org "$HTMX_VERSION"
fetch uplot "$UPLOT_VERSION"
fetch axe-core "$AXE_VERSION"

assets="$root/console/assets/vendor"
mkdir -p "$assets"
cp "$work/htmx.org/package/dist/htmx.min.js" "$assets/htmx.min.js"
cp "$work/htmx.org/package/LICENSE" "$assets/htmx.LICENSE.txt"
cp "$work/uplot/package/dist/uPlot.iife.min.js" "$assets/uPlot.iife.min.js"
cp "$work/uplot/package/dist/uPlot.min.css" "$assets/uPlot.min.css"
cp "$work/uplot/package/LICENSE" "$assets/uPlot.LICENSE.txt"

axe="$root/tests/testdata/axe-core"
mkdir -p "$axe"
cp "$work/axe-core/package/axe.min.js" "$axe/axe.min.js"
cp "$work/axe-core/package/LICENSE" "$axe/LICENSE"

cat >"$assets/VERSIONS.txt" <<TXT
htmx.org $HTMX_VERSION (0BSD): htmx.min.js
uplot $UPLOT_VERSION (MIT): uPlot.iife.min.js, uPlot.min.css
TXT
cat >"$axe/VERSION.txt" <<TXT
axe-core $AXE_VERSION (MPL-2.0): axe.min.js, used by the console's browser tests only
TXT
echo "vendored htmx $HTMX_VERSION, uPlot $UPLOT_VERSION, axe-core $AXE_VERSION"
