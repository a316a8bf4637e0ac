#!/bin/bash
# Stage 2 of the ipvsnet test VM: runs as PID 1 after stage 1 (scripts/vm/init) switch_rooted into the
# host's root (read-only 9p + tmpfs overlay). Argument: the run directory on the writable share, which
# scripts/vm/run.sh filled with:
#   cwd        the directory to run the command in (one line)
#   env.sh     `export NAME=value` lines for the --env variables (bash-quoted)
#   argv.sh    `argv=(...)`: the command and its arguments (bash-quoted)
#   hostname   the guest's host name
# and where this script leaves:
#   exit-status  the command's exit status (decimal), written only when the command ran
#   setup-error  why the guest could not run the command, when it could not
#   dmesg.log    the kernel log at the end of the run
# The console (ttyS0) carries the command's stdout+stderr; the host streams it. The guest then powers
# off through sysrq (no reboot: qemu runs with -no-reboot and the kernel with panic=-1).
# The whole script is one brace group, so bash parses it completely before running any of it: an edit
# of this file on the host while a guest runs cannot make the running guest read a shifted tail.
{
run=$1
export PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
fail() {
  trap - EXIT
  echo "ipvsnet-vm: guest setup FAILED: $*"
  echo "$*" > "$run/setup-error"
  dmesg > "$run/dmesg.log" 2>/dev/null
  sync
  echo o > /proc/sysrq-trigger
  sleep 10
  exit 1
}
trap 'fail "stage 2 exited unexpectedly"' EXIT

mount -t tmpfs -o mode=755 tmpfs /run || fail "mount /run"
# A fresh /tmp hides the host's /tmp. A checkout (CI may clone under /tmp) or a share that lives there
# is bound back at its own path, so the command still sees its tree and the run directory.
share=$(sed -n 's/.*ipvsnet\.share=\([^ ]*\).*/\1/p' /proc/cmdline)
cwd=$(cat "$run/cwd") || fail "read $run/cwd"
mkdir -p /run/.host-tmp && mount --rbind /tmp /run/.host-tmp || fail "keep the host /tmp"
mount -t tmpfs -o mode=1777 tmpfs /tmp || fail "mount /tmp"
for d in "$cwd" "$share"; do
  case "$d" in
    /tmp/*) mountpoint -q "$d" 2>/dev/null && continue
            mkdir -p "$d" && mount --rbind "/run/.host-tmp/${d#/tmp/}" "$d" || fail "bind $d back over the fresh /tmp";;
  esac
done
mkdir -p /dev/pts /dev/shm
mount -t devpts -o gid=5,mode=620,ptmxmode=666 devpts /dev/pts || fail "mount /dev/pts"
mount -t tmpfs -o mode=1777 tmpfs /dev/shm || fail "mount /dev/shm"
mount -t cgroup2 cgroup2 /sys/fs/cgroup 2>/dev/null || true
mount -t bpf bpf /sys/fs/bpf 2>/dev/null || true
# Command output goes to the serial console: no CR before LF, and keep kernel messages off it.
stty -onlcr -F /dev/console 2>/dev/null || stty -onlcr < /dev/console
dmesg -n 1

hostname "$(cat "$run/hostname")" || fail "hostname"
ip link set lo up || fail "lo up"

# Uplink: qemu's user-mode network. The guest is 10.0.2.15/24 with the default route via 10.0.2.2,
# which also reaches the host's loopback services. IPVS needs a route to accept real servers at all.
modprobe virtio_net || fail "modprobe virtio_net"
modprobe virtio-rng 2>/dev/null || true
for _ in $(seq 1 50); do [ -e /sys/class/net/eth0 ] && break; sleep 0.1; done
ip link set eth0 up || fail "eth0 up"
ip addr add 10.0.2.15/24 dev eth0 || fail "eth0 address"
ip route add default via 10.0.2.2 dev eth0 || fail "default route"
echo "nameserver 10.0.2.3" > /run/resolv.conf && mount --bind /run/resolv.conf /etc/resolv.conf 2>/dev/null || true

# IPVS with every scheduler, the ipvs iptables match, dummy (kube-ipvs0) and what the e2e tests use.
kmods=/lib/modules/$(uname -r)/kernel/net/netfilter/ipvs
modprobe ip_vs || fail "modprobe ip_vs"
for f in "$kmods"/ip_vs_*.ko*; do
  m=$(basename "$f"); m=${m%%.ko*}
  case "$m" in ip_vs_ftp|ip_vs_pe_sip) continue;; esac
  modprobe "$m" || fail "modprobe $m"
done
for m in xt_ipvs dummy veth bridge; do modprobe "$m" || fail "modprobe $m"; done
[ -e /proc/net/ip_vs ] || fail "/proc/net/ip_vs missing after modprobe ip_vs"

# The command: cwd, environment, argv from the run directory; stdin from /dev/null; stdout+stderr
# through a FIFO (not the console tty) so programs log as they would into a file. The command's exit
# ends the run even if it left background processes holding the FIFO open (they die with the guest).
cd "$(cat "$run/cwd")" || fail "cd $(cat "$run/cwd")"
# Node's executable pages would otherwise come from the 9p root on demand. Node processes have died in
# the guest with no exit code (SIGSEGV, SIGTRAP with a V8 check; see scripts/vm/README.md); paging from
# 9p was one suspect, and node runs from a RAM copy bound over its own path for every caller. That did
# not stop the crashes, whose cause is still unknown; the copy is kept because it costs nothing.
nodebin=$(readlink -f node_modules/.bin/node 2>/dev/null)
if [ -n "$nodebin" ] && [ -f "$nodebin" ]; then
  if cp "$nodebin" /run/ipvsnet-vm-nodejs && chmod 755 /run/ipvsnet-vm-nodejs && mount --bind /run/ipvsnet-vm-nodejs "$nodebin"; then
    echo "guest: node runs from a RAM copy bound over $nodebin" > "$run/node-copy"
  else
    echo "guest: WARNING: could not bind a RAM copy of $nodebin; node pages come from 9p" | tee "$run/node-copy" > /dev/console
  fi
fi
export HOME=/root TERM=dumb LANG=C.UTF-8 IPVSNET_VM=1 IPVSNET_VM_RUN="$run"
export PATH="$PWD/node_modules/.bin:$PATH"
. "$run/env.sh" || fail "env.sh"
. "$run/argv.sh" || fail "argv.sh"
mkfifo /run/ipvsnet-vm.out || fail "mkfifo"
cat /run/ipvsnet-vm.out > /dev/console &
catpid=$!
trap - EXIT
"${argv[@]}" </dev/null >/run/ipvsnet-vm.out 2>&1
status=$?
for _ in $(seq 1 20); do kill -0 "$catpid" 2>/dev/null || break; sleep 0.1; done
kill "$catpid" 2>/dev/null
dmesg > "$run/dmesg.log" 2>/dev/null
echo "$status" > "$run/exit-status.tmp" && mv "$run/exit-status.tmp" "$run/exit-status"
sync
echo o > /proc/sysrq-trigger
sleep 10
exit 1
}
