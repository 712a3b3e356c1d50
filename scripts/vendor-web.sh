#!/usr/bin/env bash
# Vendors the browser terminal (xterm.js and its fit addon) into the web
# pages' embedded assets, at exact versions, from the npm registry with
# `npm pack`: the files are committed, so neither the build nor CI needs
# npm. Run it again after changing a version below, and commit.
set -euo pipefail
cd "$(dirname "$0")/.."

XTERM_VERSION=6.0.0
FIT_VERSION=0.11.0
dest=internal/web/static/vendor/xterm

command -v npm >/dev/null || { echo "vendor-web: npm missing (Debian package npm)" >&2; exit 1; }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
(cd "$tmp" && npm pack --silent "@xterm/xterm@$XTERM_VERSION" "@xterm/addon-fit@$FIT_VERSION" >/dev/null)
mkdir -p "$tmp/xterm" "$tmp/fit"
tar xzf "$tmp/xterm-xterm-$XTERM_VERSION.tgz" -C "$tmp/xterm"
tar xzf "$tmp/xterm-addon-fit-$FIT_VERSION.tgz" -C "$tmp/fit"

rm -rf "$dest"
mkdir -p "$dest"
# The source map comments name files not vendored: dropped, so that a
# browser's developer tools do not ask for them.
sed '/^\/\/# sourceMappingURL=/d' "$tmp/xterm/package/lib/xterm.js" >"$dest/xterm.js"
cp "$tmp/xterm/package/css/xterm.css" "$dest/xterm.css"
cp "$tmp/xterm/package/LICENSE" "$dest/LICENSE"
sed '/^\/\/# sourceMappingURL=/d' "$tmp/fit/package/lib/addon-fit.js" >"$dest/addon-fit.js"
cp "$tmp/fit/package/LICENSE" "$dest/LICENSE.addon-fit"
cat >"$dest/VERSIONS" <<EOV
@xterm/xterm $XTERM_VERSION
@xterm/addon-fit $FIT_VERSION
(vendored by scripts/vendor-web.sh: lib/xterm.js, css/xterm.css, lib/addon-fit.js, their LICENSE)
EOV
echo "vendor-web: $dest holds @xterm/xterm $XTERM_VERSION and @xterm/addon-fit $FIT_VERSION"
