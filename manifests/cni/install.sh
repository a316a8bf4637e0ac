#!/bin/sh
# The DaemonSet's install-cni init container: copy the CNI plugins from the image into the node's
# CNI bin dir.
#   sh /opt/ipvsnet/cni/install.sh SRC DEST      (the DaemonSet: SRC=/opt/ipvsnet/cni, DEST=the
#                                                 host's /opt/cni/bin mounted at /host/opt/cni/bin)
# DEST/ipvsnet-bridge, DEST/ipvsnet-ipam: the thick-mode shims (manifests/cni/build-shims.sh);
# DEST/ipvsnet-sea/: the single executable plugins with their two native addons, which the shims exec
# when the agent is not listening (scripts/cni/build-sea.sh).
# Each file is written to a temporary name and renamed over the old one, so a runtime executing a
# plugin at that moment sees either the old or the new file, never a partial one (and no ETXTBSY).
# Files already identical are left alone (the init container runs at every agent restart). The
# fallback goes in before the shims that exec it.
set -eu
src=${1:?usage: install.sh SRC DEST}
dest=${2:?usage: install.sh SRC DEST}
[ -d "$dest" ] || { echo "install-cni: $dest is not a directory (is the host's CNI bin dir mounted?)" >&2; exit 1; }
put() {
  if [ ! -f "$src/$1" ]; then echo "install-cni: $src/$1 missing from the image" >&2; exit 1; fi
  if [ -f "$dest/$1" ] && cmp -s "$src/$1" "$dest/$1"; then return 0; fi
  cp "$src/$1" "$dest/$1.ipvsnet-new"
  chmod "$2" "$dest/$1.ipvsnet-new"
  mv -f "$dest/$1.ipvsnet-new" "$dest/$1"
  echo "install-cni: installed $dest/$1"
}
mkdir -p "$dest/ipvsnet-sea"
put ipvsnet-sea/ipvsnet_native.node 0644
put ipvsnet-sea/ipvsnet-bridge 0755
put ipvsnet-sea/ipvsnet-ipam 0755
put ipvsnet-sea/ipvsnet-multinet 0755
put ipvsnet-bridge 0755
put ipvsnet-ipam 0755
put ipvsnet-multinet 0755
echo "install-cni: ipvsnet-bridge, ipvsnet-ipam and ipvsnet-multinet are in $dest"
