#!/usr/bin/env bash
# Pack a root filesystem directory into an OCI image archive (oci-layout + index.json + blobs), the
# format `ctr image import` reads. One uncompressed layer; the tar is reproducible (sorted names,
# numeric owner 0, mtime 0), so the same inputs give the same digests.
#
#   images/oci.sh NAME:TAG ROOTFS OUT.tar ENTRYPOINT [ARG...]
#
# index.json carries `io.containerd.image.name: NAME:TAG`, so the import names the image; nothing is
# pulled from a registry.
set -euo pipefail
[ $# -ge 4 ] || { echo "usage: images/oci.sh NAME:TAG ROOTFS OUT.tar ENTRYPOINT [ARG...]" >&2; exit 2; }
ref=$1 rootfs=$2 out=$3
shift 3
[ -d "$rootfs" ] || { echo "oci.sh: rootfs $rootfs is not a directory" >&2; exit 1; }
command -v python3 >/dev/null || { echo "oci.sh: python3 missing (used to write the JSON documents)" >&2; exit 1; }

work=$(mktemp -d "${TMPDIR:-/tmp}/ipvsnet-oci.XXXXXX")
trap 'rm -rf "$work"' EXIT
mkdir -p "$work/blobs/sha256"
tar --sort=name --owner=0 --group=0 --numeric-owner --mtime=@0 --format=gnu -C "$rootfs" -cf "$work/layer.tar" .
layer_sha=$(sha256sum "$work/layer.tar" | cut -d' ' -f1)
layer_size=$(stat -c %s "$work/layer.tar")
mv "$work/layer.tar" "$work/blobs/sha256/$layer_sha"

blob() { # write stdin as a blob; print "sha size"
  cat > "$work/blob.tmp"
  local sha size
  sha=$(sha256sum "$work/blob.tmp" | cut -d' ' -f1)
  size=$(stat -c %s "$work/blob.tmp")
  mv "$work/blob.tmp" "$work/blobs/sha256/$sha"
  echo "$sha $size"
}

read -r config_sha config_size < <(python3 - "$layer_sha" "$@" <<'PY' | blob
import json, sys
layer, entry = sys.argv[1], sys.argv[2:]
print(json.dumps({
    "architecture": "amd64", "os": "linux", "created": "1970-01-01T00:00:00Z",
    "config": {"Entrypoint": entry, "Env": ["PATH=/bin:/usr/bin:/sbin:/usr/sbin"], "WorkingDir": "/"},
    "rootfs": {"type": "layers", "diff_ids": ["sha256:" + layer]},
    "history": [{"created": "1970-01-01T00:00:00Z", "created_by": "ipvsnet images/oci.sh"}],
}, separators=(",", ":")), end="")
PY
)
read -r manifest_sha manifest_size < <(python3 - "$config_sha" "$config_size" "$layer_sha" "$layer_size" <<'PY' | blob
import json, sys
c, cs, l, ls = sys.argv[1], int(sys.argv[2]), sys.argv[3], int(sys.argv[4])
print(json.dumps({
    "schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
    "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": "sha256:" + c, "size": cs},
    "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar", "digest": "sha256:" + l, "size": ls}],
}, separators=(",", ":")), end="")
PY
)
python3 - "$ref" "$manifest_sha" "$manifest_size" > "$work/index.json" <<'PY'
import json, sys
ref, m, ms = sys.argv[1], sys.argv[2], int(sys.argv[3])
tag = ref.rsplit(":", 1)[1]
print(json.dumps({
    "schemaVersion": 2, "mediaType": "application/vnd.oci.image.index.v1+json",
    "manifests": [{"mediaType": "application/vnd.oci.image.manifest.v1+json", "digest": "sha256:" + m, "size": ms,
                   "platform": {"architecture": "amd64", "os": "linux"},
                   "annotations": {"io.containerd.image.name": ref, "org.opencontainers.image.ref.name": tag}}],
}, separators=(",", ":")), end="")
PY
printf '{"imageLayoutVersion":"1.0.0"}' > "$work/oci-layout"
mkdir -p "$(dirname "$out")"
tar --sort=name --owner=0 --group=0 --numeric-owner --mtime=@0 -C "$work" -cf "$out.tmp" oci-layout index.json blobs
mv "$out.tmp" "$out"
