#!/usr/bin/env bash
# Copy the third-party browser code the app serves into kitmanager/static/vendor/, from the npm
# registry at pinned versions, and record each file's version, licence and SHA-256 in
# kitmanager/static/vendor/VENDOR.json. Run it again only to change a version; the copied files
# are committed, so nobody installing or running the app needs npm or a network.
# Usage: bash scripts/vendor-js.sh
set -euo pipefail
cd "$(dirname "$0")/.."
DEST=kitmanager/static/vendor
# package@version  then the files the pages need, relative to the package folder.
PACKAGES=(
  "barcode-detector@3.2.2 dist/es/ponyfill.js dist/es/zxing-exported.js LICENSE"
  "zxing-wasm@3.1.3 dist/reader/zxing_reader.wasm LICENSE"
)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
rm -rf "$DEST"
mkdir -p "$DEST"
for entry in "${PACKAGES[@]}"; do
  read -r spec files <<<"$entry"
  name=${spec%@*}
  (cd "$work" && npm pack --silent "$spec" >/dev/null)
  tarball=$(ls "$work"/"$name"-*.tgz)
  mkdir -p "$work/$name"
  tar -xzf "$tarball" -C "$work/$name"
  for file in $files; do
    mkdir -p "$DEST/$name/$(dirname "$file")"
    cp "$work/$name/package/$file" "$DEST/$name/$file"
  done
  cp "$work/$name/package/package.json" "$work/$name.package.json"
done
python3 - "$DEST" "$work" "${PACKAGES[@]}" <<'PY'
import hashlib, json, pathlib, sys
dest, work, entries = pathlib.Path(sys.argv[1]), pathlib.Path(sys.argv[2]), sys.argv[3:]
manifest = {"about": "Written by scripts/vendor-js.sh: third-party files served by the app.",
            "packages": []}
for entry in entries:
    spec, *files = entry.split()
    name, version = spec.rsplit("@", 1)
    meta = json.loads((work / f"{name}.package.json").read_text())
    assert meta["version"] == version, (name, meta["version"], version)
    manifest["packages"].append({
        "name": name,
        "version": version,
        "license": meta.get("license", ""),
        "files": {
            f"{name}/{f}": hashlib.sha256((dest / name / f).read_bytes()).hexdigest()
            for f in files
        },
    })
(dest / "VENDOR.json").write_text(json.dumps(manifest, indent=2) + "\n")
PY
echo "vendored into $DEST:"
find "$DEST" -type f | sort
