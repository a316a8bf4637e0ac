#!/usr/bin/env bash
# Build the real node's two container images as OCI archives, locally, never pulled:
#   ipvsnet.local/pause:3.10  /pause compiled statically from build/pause/linux/pause.c of
#                             k8s.io/kubernetes@$K8S_VERSION (the module cache holds the sources)
#   ipvsnet.local/tools:1     /bin/busybox (busybox-static) with sh, httpd, wget, nc, ip, sleep, … links,
#                             and Debian's psql (/usr/lib/postgresql/*/bin/psql) with the libraries ldd
#                             lists, at their own paths, plus the dynamic loader
# into ${IPVSNET_CACHE:-~/.cache/ipvsnet}/images/. Idempotent: an archive is rebuilt only when the hash
# of its inputs changed. Prints the two archive paths.
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
K8S_VERSION="${K8S_VERSION:-v1.37.2}"
cache=${IPVSNET_CACHE:-$HOME/.cache/ipvsnet}/images
mkdir -p "$cache"
export PATH="/usr/local/go/bin:$PATH"
die() { echo "images: $*" >&2; exit 1; }

# --- pause -------------------------------------------------------------------------------------
command -v gcc >/dev/null || die "gcc missing (apt-get install gcc)"
[ -e /usr/lib/x86_64-linux-gnu/libc.a ] || die "static libc missing (apt-get install libc6-dev)"
src=""
for d in "${GOMODCACHE:-$HOME/go/pkg/mod}/k8s.io/kubernetes@$K8S_VERSION" "/root/go/pkg/mod/k8s.io/kubernetes@$K8S_VERSION"; do
  [ -f "$d/build/pause/linux/pause.c" ] && { src=$d/build/pause/linux/pause.c; break; }
done
if [ -z "$src" ]; then
  command -v go >/dev/null || die "Go toolchain missing: cannot fetch k8s.io/kubernetes@$K8S_VERSION for pause.c"
  d=$(cd /tmp && GOFLAGS=-mod=mod go mod download -json "k8s.io/kubernetes@$K8S_VERSION" | sed -n 's/.*"Dir": "\(.*\)".*/\1/p')
  [ -f "$d/build/pause/linux/pause.c" ] || die "build/pause/linux/pause.c not found in k8s.io/kubernetes@$K8S_VERSION"
  src=$d/build/pause/linux/pause.c
fi
pause_key=$( { cat "$src" "$here/oci.sh" "$0"; gcc --version | head -1; } | sha256sum | cut -c1-16)
pause_out=$cache/pause-3.10-$pause_key.oci.tar
if [ ! -s "$pause_out" ]; then
  root=$(mktemp -d "${TMPDIR:-/tmp}/ipvsnet-pause.XXXXXX")
  gcc -Os -Wall -Werror -static -DVERSION="$K8S_VERSION-ipvsnet" -o "$root/pause" "$src"
  strip "$root/pause"
  "$here/oci.sh" ipvsnet.local/pause:3.10 "$root" "$pause_out" /pause
  rm -rf "$root"
  echo "images: built $pause_out" >&2
fi

# --- tools -------------------------------------------------------------------------------------
bb=/bin/busybox
[ -x "$bb" ] || die "/bin/busybox missing (apt-get install busybox-static)"
if ldd "$bb" >/dev/null 2>&1; then die "/bin/busybox is dynamically linked (apt-get install busybox-static)"; fi
psql=$(ls /usr/lib/postgresql/*/bin/psql 2>/dev/null | sort -V | tail -1)
[ -n "$psql" ] || die "psql missing (apt-get install postgresql-client)"
mapfile -t libs < <(ldd "$psql" | awk '/=> \//{print $3} /^\t\/lib/{print $1}')
[ "${#libs[@]}" -gt 3 ] || die "ldd $psql listed no libraries"
applets=(sh ash cat echo env hostname httpd ip ls mkdir nc nslookup ping ps seq sleep sort tail true false wc wget printf id kill grep head date uname)
tools_key=$( { sha256sum "$bb" "$psql" "${libs[@]}" "$here/oci.sh" "$0"; echo "${applets[*]}"; } | sha256sum | cut -c1-16)
tools_out=$cache/tools-1-$tools_key.oci.tar
if [ ! -s "$tools_out" ]; then
  root=$(mktemp -d "${TMPDIR:-/tmp}/ipvsnet-tools.XXXXXX")
  mkdir -p "$root/bin" "$root/etc" "$root/tmp" "$root/var/www" "$root/proc" "$root/sys" "$root/dev"
  chmod 1777 "$root/tmp"
  cp "$bb" "$root/bin/busybox"
  for a in "${applets[@]}"; do ln -s busybox "$root/bin/$a"; done
  cp "$psql" "$root/bin/psql"
  for l in "${libs[@]}"; do
    mkdir -p "$root$(dirname "$l")"
    cp -L "$l" "$root$l"
  done
  # The loader at the path psql names (PT_INTERP), through the usr-merged layout's link.
  mkdir -p "$root/lib64" "$root/usr/lib/x86_64-linux-gnu"
  [ -e "$root/lib64/ld-linux-x86-64.so.2" ] || cp -L /lib64/ld-linux-x86-64.so.2 "$root/lib64/ld-linux-x86-64.so.2"
  printf 'root:x:0:0:root:/:/bin/sh\nnobody:x:65534:65534:nobody:/:/bin/false\n' > "$root/etc/passwd"
  printf 'root:x:0:\nnogroup:x:65534:\n' > "$root/etc/group"
  printf 'ipvsnet tools image\n' > "$root/var/www/index.html"
  "$here/oci.sh" ipvsnet.local/tools:1 "$root" "$tools_out" /bin/sh
  rm -rf "$root"
  echo "images: built $tools_out" >&2
fi
echo "$pause_out"
echo "$tools_out"
