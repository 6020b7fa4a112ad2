#!/usr/bin/env bash
# vendor.sh - copy the dist files of the pinned npm packages (package-lock.json)
# that the dashboard loads into web/vendor/, where the build embeds them.
# web/vendor/ is generated (gitignored); run after `npm ci`, before building.
# Only these files are shipped; nothing else from node_modules is served.
set -euo pipefail
cd "$(dirname "$0")/.."
nm=node_modules
out=web/vendor
if [ ! -d "$nm" ]; then
	echo "vendor.sh: $nm missing; run npm ci first" >&2
	exit 1
fi
copy() {	# copy SRC DEST-DIR [NAME]
	local src=$nm/$1 dst=$out/$2 name=${3:-$(basename "$1")}
	if [ ! -f "$src" ]; then
		echo "vendor.sh: $src missing (package-lock.json out of date?)" >&2
		exit 1
	fi
	mkdir -p "$dst"
	# Only rewrite when changed, so the asset embedding is not redone for nothing.
	cmp -s "$src" "$dst/$name" || cp "$src" "$dst/$name"
}
# Charts: uPlot as an ES module and its stylesheet.
copy uplot/dist/uPlot.esm.js uplot
copy uplot/dist/uPlot.min.css uplot
copy uplot/LICENSE uplot LICENSE.txt
# htm + Preact in one module without bare imports (for views that want components).
copy htm/preact/standalone.module.js htm
copy htm/LICENSE htm LICENSE.txt
# World map (sender intelligence): d3-geo + d3-array (UMD), topojson, countries.
copy d3-array/dist/d3-array.min.js d3
copy d3-array/LICENSE d3 LICENSE-d3-array.txt
copy d3-geo/dist/d3-geo.min.js d3
copy d3-geo/LICENSE d3 LICENSE-d3-geo.txt
copy topojson-client/dist/topojson-client.min.js topojson
copy topojson-client/LICENSE topojson LICENSE.txt
copy world-atlas/countries-110m.json world-atlas
copy world-atlas/LICENSE world-atlas LICENSE.txt
