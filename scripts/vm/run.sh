#!/usr/bin/env bash
# scripts/vm/run.sh — run one command inside a throw-away qemu guest booted with Debian's distribution
# kernel (linux-image-amd64, 6.1.0-*-amd64), which has IPVS, dummy, ipvlan, … as modules. The host
# kernel here has none of them and cannot load modules, so every IPVS test runs in this guest.
#
# Usage: scripts/vm/run.sh [options] -- CMD [ARGS...]
#
# Options:
#   --timeout SECONDS   wall-clock limit for the whole run, boot included (default 1800). When it
#                       expires qemu is killed and run.sh fails with exit status 124.
#   --mem MIB           guest memory (default 2048; node + vitest need more than 1024).
#   --smp N             guest CPUs (default 2; TCG runs one host thread per vCPU).
#   --env NAME          pass the host's $NAME into the guest (repeatable; unset names are not passed).
#   --env NAME=VALUE    set NAME=VALUE in the guest (repeatable).
#   --cwd DIR           directory the command runs in (default: the checkout holding this script).
#   --share DIR         host directory mounted read-write in the guest at the same path (default:
#                       <checkout>/build/vm-share). Everything else in the guest is the host's root,
#                       read-only, under a tmpfs overlay: writes elsewhere vanish with the guest.
#   --hostfwd SPEC      forward a host port to the guest: tcp:[HOSTADDR:]HOSTPORT:GUESTPORT or udp:…
#                       (repeatable), the host port listening on HOSTADDR (default 127.0.0.1).
#   --hostname NAME     the guest's host name (default ipvsnet-vm).
#   --kernel VERSION    kernel under /boot and /lib/modules (default: the newest *-amd64 one).
#   --keep              keep the run directory (console.log, dmesg.log) even on success.
#   --prepare           only check the prerequisites and build the cached initramfs; no CMD, no boot.
#   -h, --help          print this header.
#
# What the guest provides (see scripts/vm/README.md):
#   - the command runs as root in --cwd with PATH=<cwd>/node_modules/.bin:/usr/sbin:/usr/bin:/sbin:/bin,
#     HOME=/root, IPVSNET_VM=1, IPVSNET_VM_SHARE=<share>, IPVSNET_VM_RUN=<per-run dir on the share>;
#     stdin is /dev/null, stdout+stderr stream to this script's stdout (via the serial console);
#   - modules loaded: ip_vs and every scheduler, xt_ipvs, dummy, veth, bridge, virtio_net
#     (modprobe works for anything else under /lib/modules);
#   - network: eth0 10.0.2.15/24, default route via 10.0.2.2 (qemu user networking); 10.0.2.2:PORT
#     reaches the host's 127.0.0.1:PORT (e.g. a kube-apiserver), DNS at 10.0.2.3;
#   - fresh tmpfs on /run, /tmp, /dev/shm.
# Exit status: the command's own exit status, read from a file the guest writes on the share;
# 124 on timeout; 125 when the guest failed to boot or set up (the console tail is printed).
#
# The guest boots from a small initramfs (busybox-static + scripts/vm/init + the virtio/9p/overlay
# modules in dependency order) cached under ${IPVSNET_CACHE:-~/.cache/ipvsnet} and rebuilt whenever the
# kernel, its modules, busybox or scripts/vm/init change. Stage 2 is scripts/vm/guest-init.sh.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(cd "$here/../.." && pwd)

die() { echo "ipvsnet-vm: $*" >&2; exit 125; }
usage() { sed -n '2,/^set -euo/p' "${BASH_SOURCE[0]}" | sed '$d; s/^# \{0,1\}//'; }

timeout_s=1800 mem=2048 smp=2 cwd=$repo share=$repo/build/vm-share hostname=ipvsnet-vm kver= keep=0 prepare=0
envs=() fwds=()
while [ $# -gt 0 ]; do
  case "$1" in
    --timeout) timeout_s=${2:?--timeout needs SECONDS}; shift 2;;
    --mem) mem=${2:?--mem needs MIB}; shift 2;;
    --smp) smp=${2:?--smp needs N}; shift 2;;
    --env) envs+=("${2:?--env needs NAME or NAME=VALUE}"); shift 2;;
    --cwd) cwd=${2:?--cwd needs DIR}; shift 2;;
    --share) share=${2:?--share needs DIR}; shift 2;;
    --hostfwd) fwds+=("${2:?--hostfwd needs tcp:HOSTPORT:GUESTPORT}"); shift 2;;
    --hostname) hostname=${2:?--hostname needs NAME}; shift 2;;
    --kernel) kver=${2:?--kernel needs VERSION}; shift 2;;
    --keep) keep=1; shift;;
    --prepare) prepare=1; shift;;
    -h|--help) usage; exit 0;;
    --) shift; break;;
    -*) die "unknown option $1 (see --help)";;
    *) break;;
  esac
done
[ $# -gt 0 ] || [ "$prepare" = 1 ] || die "no command given (usage: scripts/vm/run.sh [options] -- CMD [ARGS...])"
[[ $timeout_s =~ ^[0-9]+$ ]] && [ "$timeout_s" -gt 0 ] || die "--timeout must be a positive number of seconds"
[[ $mem =~ ^[0-9]+$ ]] || die "--mem must be MiB"
[[ $smp =~ ^[0-9]+$ ]] || die "--smp must be a number"

# --- prerequisites -----------------------------------------------------------------------------
command -v qemu-system-x86_64 >/dev/null || die "qemu-system-x86_64 missing: apt-get install qemu-system-x86"
[ -x /bin/busybox ] || die "/bin/busybox missing: apt-get install busybox-static"
if ldd /bin/busybox >/dev/null 2>&1; then die "/bin/busybox is dynamically linked: apt-get install busybox-static"; fi
if [ -z "$kver" ]; then
  for f in $(ls -v /boot/vmlinuz-*-amd64 2>/dev/null); do
    v=${f#/boot/vmlinuz-}; [ -f "/lib/modules/$v/modules.dep" ] && kver=$v
  done
  [ -n "$kver" ] || die "no /boot/vmlinuz-*-amd64 with modules under /lib/modules: apt-get install linux-image-amd64"
fi
vmlinuz=/boot/vmlinuz-$kver
moddir=/lib/modules/$kver
[ -r "$vmlinuz" ] || die "$vmlinuz missing or unreadable"
[ -f "$moddir/modules.dep" ] || die "$moddir/modules.dep missing (kernel $kver)"
[ -d "$cwd" ] || die "--cwd $cwd: no such directory"
cwd=$(cd "$cwd" && pwd)
mkdir -p "$share"
share=$(cd "$share" && pwd)
for p in "$share" "$here"; do
  [[ $p =~ ^[A-Za-z0-9_./+-]+$ ]] || die "path '$p' has characters that cannot go on the kernel command line"
done
[[ $hostname =~ ^[A-Za-z0-9.-]+$ ]] || die "--hostname: invalid host name '$hostname'"

# --- initramfs (cached) ------------------------------------------------------------------------
# The modules stage 1 needs, with their dependencies first (from modules.dep, so the order follows
# the kernel actually installed).
declare -A seen=()
order=()
moddep() { awk -v m="$1" -F': *' '{ n=$1; sub(/.*\//, "", n); sub(/\.ko.*/, "", n); if (n == m) { print $1 ":" $2; exit } }' "$moddir/modules.dep"; }
resolve() {
  local name=$1 line path deps d
  [ -n "${seen[$name]:-}" ] && return 0
  seen[$name]=1
  line=$(moddep "$name")
  [ -n "$line" ] || die "module $name not in $moddir/modules.dep"
  path=${line%%:*}; deps=${line#*:}
  for d in $deps; do d=${d##*/}; resolve "${d%%.ko*}"; done
  order+=("$name:$path")
}
for m in virtio_pci 9pnet_virtio 9p overlay; do resolve "$m"; done

cache=${IPVSNET_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/ipvsnet}
mkdir -p "$cache"
key=$( { echo "$kver"; cat "$here/init"; stat -c '%n %s %Y' /bin/busybox "$vmlinuz";
         for e in "${order[@]}"; do stat -c '%n %s %Y' "$moddir/${e#*:}"; done; } | sha256sum | cut -c1-16)
initrd=$cache/initramfs-$kver-$key.cpio.gz
if [ ! -s "$initrd" ]; then
  echo "ipvsnet-vm: building initramfs for $kver -> $initrd" >&2
  tmp=$(mktemp -d "$cache/initramfs.XXXXXX")
  mkdir -p "$tmp/bin" "$tmp/modules" "$tmp/proc" "$tmp/sys" "$tmp/dev"
  cp /bin/busybox "$tmp/bin/busybox"
  cp "$here/init" "$tmp/init"; chmod 755 "$tmp/init"
  : > "$tmp/modules.order"
  for e in "${order[@]}"; do
    name=${e%%:*}; src=$moddir/${e#*:}
    case "$src" in
      *.ko) cp "$src" "$tmp/modules/$name.ko";;
      *.ko.xz) xz -dc "$src" > "$tmp/modules/$name.ko";;
      *.ko.zst) zstd -qdc "$src" > "$tmp/modules/$name.ko";;
      *.ko.gz) gzip -dc "$src" > "$tmp/modules/$name.ko";;
      *) die "unknown module file type: $src";;
    esac
    echo "$name" >> "$tmp/modules.order"
  done
  (cd "$tmp" && find . -print0 | cpio --null -o -H newc --quiet | gzip -1) > "$initrd.tmp.$$"
  mv "$initrd.tmp.$$" "$initrd"
  rm -rf "$tmp"
fi
if [ "$prepare" = 1 ]; then
  echo "ipvsnet-vm: ready: kernel $kver, initramfs $initrd"
  exit 0
fi

# --- the run directory: how the host tells the guest what to run, and gets the status back --------
mkdir -p "$share/.runs"
run=$(mktemp -d "$share/.runs/run.XXXXXX")
echo "$cwd" > "$run/cwd"
echo "$hostname" > "$run/hostname"
{
  printf 'export IPVSNET_VM_SHARE=%q\n' "$share"
  for e in "${envs[@]+"${envs[@]}"}"; do
    if [[ $e == *=* ]]; then
      n=${e%%=*}; v=${e#*=}
    else
      n=$e; [ -n "${!n+x}" ] || continue; v=${!n}
    fi
    [[ $n =~ ^[A-Za-z_][A-Za-z0-9_]*$ ]] || die "--env: invalid variable name '$n'"
    printf 'export %s=%q\n' "$n" "$v"
  done
} > "$run/env.sh"
{ printf 'argv=('; printf '%q ' "$@"; printf ')\n'; } > "$run/argv.sh"

nic=user,model=virtio-net-pci
for f in "${fwds[@]+"${fwds[@]}"}"; do
  [[ $f =~ ^(tcp|udp):(([0-9]+\.[0-9]+\.[0-9]+\.[0-9]+):)?([0-9]+):([0-9]+)$ ]] || die "--hostfwd $f: expected tcp:[HOSTADDR:]HOSTPORT:GUESTPORT"
  nic+=",hostfwd=${BASH_REMATCH[1]}:${BASH_REMATCH[3]:-127.0.0.1}:${BASH_REMATCH[4]}-:${BASH_REMATCH[5]}"
done

append="console=ttyS0 panic=-1 no_timer_check quiet loglevel=3 ipvsnet.share=$share ipvsnet.init=$here/guest-init.sh ipvsnet.run=$run"
# IPVSNET_VM_CPU overrides the CPU model (default max), IPVSNET_VM_ACCEL the accelerator (default tcg,
# e.g. tcg,thread=single for one TCG thread for all vCPUs); scripts/vm/stress/loop.sh compares them.
qemu=(qemu-system-x86_64 -accel "${IPVSNET_VM_ACCEL:-tcg}" -cpu "${IPVSNET_VM_CPU:-max}" -m "$mem" -smp "$smp"
  -nodefaults -no-user-config -display none -no-reboot
  -chardev "stdio,id=con,logfile=$run/console.log,signal=off" -serial chardev:con -monitor none
  -kernel "$vmlinuz" -initrd "$initrd" -append "$append"
  -fsdev local,id=root,path=/,security_model=none,readonly=on,multidevs=remap
  -device virtio-9p-pci,fsdev=root,mount_tag=hostroot
  -fsdev "local,id=share,path=$share,security_model=none,multidevs=remap"
  -device virtio-9p-pci,fsdev=share,mount_tag=share
  -nic "$nic" -device virtio-rng-pci)

tail_console() {
  echo "ipvsnet-vm: ---- last 40 lines of the guest console ($run/console.log) ----" >&2
  tail -n 40 "$run/console.log" >&2 2>/dev/null || true
  echo "ipvsnet-vm: ----" >&2
}

qpid=
cleanup_signal() { [ -n "$qpid" ] && kill "$qpid" 2>/dev/null; echo "ipvsnet-vm: interrupted; qemu killed (run dir $run)" >&2; exit 130; }
trap cleanup_signal INT TERM HUP
# IPVSNET_VM_LOCK=FILE: wait (flock) until no other run.sh holding the same FILE has a guest up, so
# several people on one machine get one guest at a time; the wait is outside --timeout.
if [ -n "${IPVSNET_VM_LOCK:-}" ]; then
  exec 9>>"$IPVSNET_VM_LOCK"
  flock -n 9 || { echo "ipvsnet-vm: waiting for $IPVSNET_VM_LOCK (another guest is up)" >&2; flock 9; }
fi
start=$(date +%s)
timeout -k 10 "$timeout_s" "${qemu[@]}" </dev/null &
qpid=$!
set +e
wait "$qpid"; qrc=$?
set -e
qpid=
elapsed=$(( $(date +%s) - start ))

if [ "$qrc" = 124 ] || [ "$qrc" = 137 ]; then
  echo "ipvsnet-vm: TIMEOUT: the guest ran longer than ${timeout_s}s; qemu killed (run dir $run)" >&2
  tail_console; exit 124
fi
if [ -f "$run/exit-status" ]; then
  status=$(cat "$run/exit-status")
  [[ $status =~ ^[0-9]+$ ]] || die "guest wrote an invalid exit status '$status' (run dir $run)"
  if [ "$status" = 0 ] && [ "$keep" = 0 ]; then rm -rf "$run"; else echo "ipvsnet-vm: command exited $status after ${elapsed}s (run dir $run)" >&2; fi
  exit "$status"
fi
if [ -f "$run/setup-error" ]; then
  echo "ipvsnet-vm: guest setup failed: $(cat "$run/setup-error") (qemu exit $qrc, run dir $run)" >&2
else
  echo "ipvsnet-vm: the guest reported no exit status: boot failure, kernel panic or crash (qemu exit $qrc after ${elapsed}s, run dir $run)" >&2
fi
tail_console
exit 125
