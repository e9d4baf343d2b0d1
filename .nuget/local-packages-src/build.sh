#!/usr/bin/env bash
# Rebuilds the local metapackage(s) in ../local-feed from the .nuspec files here.
# A .nupkg is a zip: we write it with fixed timestamps and order so the output is byte-for-byte reproducible.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
feed="$here/../local-feed"
mkdir -p "$feed"
for spec in "$here"/*.nuspec; do
  id=$(sed -n 's:.*<id>\(.*\)</id>.*:\1:p' "$spec")
  version=$(sed -n 's:.*<version>\(.*\)</version>.*:\1:p' "$spec")
  out="$feed/$(echo "$id" | tr 'A-Z' 'a-z').$version.nupkg"
  python3 - "$spec" "$id" "$out" <<'PY'
import sys, zipfile
spec, pkg_id, out = sys.argv[1:4]
content_types = ('<?xml version="1.0" encoding="utf-8"?><Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
                 '<Default Extension="nuspec" ContentType="application/octet" /></Types>')
with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as z:
    for name, data in ((f"{pkg_id}.nuspec", open(spec, "rb").read()), ("[Content_Types].xml", content_types.encode())):
        info = zipfile.ZipInfo(name, date_time=(2020, 1, 1, 0, 0, 0))
        info.compress_type = zipfile.ZIP_DEFLATED
        z.writestr(info, data)
PY
  echo "built $out"
done
