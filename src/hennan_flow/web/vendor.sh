#!/bin/sh
# Refetch the bpmn-js viewer shipped in static/bpmn-js/ from the npm registry (no CDN at run time:
# the fetched files are committed and travel in the wheel). Usage: sh src/hennan_flow/web/vendor.sh [version]
set -eu
VERSION="${1:-18.31.1}"
HERE="$(cd "$(dirname "$0")" && pwd)"
DEST="$HERE/static/bpmn-js"
WORK="$(mktemp -d)"
trap 'rm -rf "$WORK"' EXIT
(cd "$WORK" && npm pack --silent "bpmn-js@$VERSION" >/dev/null && tar xzf "bpmn-js-$VERSION.tgz")
PKG="$WORK/package"
rm -rf "$DEST"
mkdir -p "$DEST/bpmn-font/css" "$DEST/bpmn-font/font"
cp "$PKG/dist/bpmn-viewer.production.min.js" "$PKG/dist/assets/diagram-js.css" "$PKG/dist/assets/bpmn-js.css" \
   "$PKG/LICENSE" "$DEST/"
cp "$PKG/dist/assets/bpmn-font/css/bpmn.css" "$DEST/bpmn-font/css/"
cp "$PKG/dist/assets/bpmn-font/font/bpmn.woff2" "$PKG/dist/assets/bpmn-font/font/bpmn.woff" "$DEST/bpmn-font/font/"
LICENSE_ID="$(node -e "console.log(require('$PKG/package.json').license)")"
printf 'bpmn-js %s from the npm registry (npm pack bpmn-js@%s)\nlicence: %s — MIT text with the bpmn.io watermark clause, see LICENSE\n' \
  "$VERSION" "$VERSION" "$LICENSE_ID" > "$DEST/VERSION"
echo "bpmn-js $VERSION -> $DEST"
