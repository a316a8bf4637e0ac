// Loader for the ipvsnet N-API addon (src/native/ipvsnet_native.c, built by
// scripts/setup.d/10-native.sh into build/native/). It gives Node the system
// calls it lacks: setns(2) for the calling thread, flock(2), one raw Ethernet frame out of a link
// (AF_PACKET: gratuitous ARP, unsolicited NA), and a synchronous netlink socket (socket/bind/sendto/poll+recv/close) that src/kernel/netlink
// builds its transport on.
import { createRequire } from 'node:module';
import { getSystemErrorName } from 'node:util';
import { existsSync, openSync, closeSync } from 'node:fs';

export const CLONE_NEWNET = 0x40000000;
export const LOCK_SH = 1;
export const LOCK_EX = 2;
export const LOCK_NB = 4;
export const LOCK_UN = 8;

interface NativeAddon {
  setns(fd: number, nstype: number): void;
  flock(fd: number, op: number): void;
  mallocTrim(): boolean;
  nlOpen(protocol: number, rcvbuf: number, sndbuf: number): number;
  nlSetOption(fd: number, option: number, value: number): void;
  nlSend(fd: number, buf: Buffer): number;
  nlRecv(fd: number, timeoutMs: number): Buffer | null;
  nlClose(fd: number): void;
  packetSend(ifindex: number, frame: Buffer): number;
}

let addon: NativeAddon | undefined;

function candidates(): string[] {
  const out: string[] = [];
  if (process.env['IPVSNET_NATIVE']) out.push(process.env['IPVSNET_NATIVE']);
  // From src/native/index.ts (source tree) and from build/cni/ipvsnet-cni.cjs (bundle).
  for (const rel of ['../../build/native/ipvsnet_native.node', '../native/ipvsnet_native.node', './ipvsnet_native.node']) {
    out.push(new URL(rel, import.meta.url).pathname);
  }
  return out;
}

export function native(): NativeAddon {
  if (addon) return addon;
  const tried = candidates();
  const found = tried.find((p) => existsSync(p));
  if (!found) {
    throw new Error(`ipvsnet native addon not found (tried ${tried.join(', ')}); run scripts/setup.d/10-native.sh`);
  }
  const req = createRequire(import.meta.url);
  addon = req(found) as NativeAddon;
  return addon;
}

/** Move the calling thread into the network namespace open on `fd`. */
export function setnsNet(fd: number): void {
  native().setns(fd, CLONE_NEWNET);
}

/**
 * Run `fn` synchronously with the calling thread inside the network namespace
 * at `nsPath`, then return to the thread's original namespace. Only
 * synchronous work belongs in `fn` (e.g. creating a netlink socket, which
 * keeps the namespace it was created in).
 */
export function inNetns<T>(nsPath: string, fn: () => T): T {
  const self = openSync('/proc/thread-self/ns/net', 'r');
  let target: number;
  try {
    target = openSync(nsPath, 'r');
  } catch (e) {
    closeSync(self);
    throw e;
  }
  try {
    setnsNet(target);
    try {
      return fn();
    } finally {
      setnsNet(self);
    }
  } finally {
    closeSync(target);
    closeSync(self);
  }
}

/** flock(2) on an open file descriptor; blocks the thread for LOCK_EX without LOCK_NB. */
export function flock(fd: number, op: number): void {
  native().flock(fd, op);
}

/**
 * Return the C heap's free pages to the kernel (glibc malloc_trim). Best effort: false when the
 * addon is missing or nothing was released.
 */
export function mallocTrim(): boolean {
  try {
    return native().mallocTrim();
  } catch {
    return false;
  }
}

/** The addon's error with `code` named from `errno` (the addon names only the common ones). */
function named(e: unknown): unknown {
  const err = e as Error & { code?: string; errno?: number };
  if (typeof err?.errno === 'number' && err.code === 'EUNKNOWN') {
    try {
      err.code = getSystemErrorName(-err.errno);
    } catch {
      // keep EUNKNOWN
    }
  }
  return e;
}

function call<T>(fn: () => T): T {
  try {
    return fn();
  } catch (e) {
    throw named(e);
  }
}

/**
 * A bound netlink socket of `protocol` in the calling thread's network namespace; buffer sizes in
 * bytes (SO_RCVBUFFORCE/SO_SNDBUFFORCE when permitted, else SO_RCVBUF/SO_SNDBUF; 0 = default).
 * Returns the file descriptor.
 */
export function netlinkOpen(protocol: number, recvBufferSize: number, sendBufferSize: number): number {
  return call(() => native().nlOpen(protocol, recvBufferSize, sendBufferSize));
}

/** setsockopt(fd, SOL_NETLINK, option, value) for an int option; throws with the errno's code (ENOPROTOOPT: an option the kernel lacks). */
export function netlinkSetOption(fd: number, option: number, value: number): void {
  call(() => native().nlSetOption(fd, option, value));
}

/** Send one datagram to the kernel. */
export function netlinkSend(fd: number, datagram: Buffer): void {
  call(() => native().nlSend(fd, datagram));
}

/** The next datagram, whole, or null when none arrived within `timeoutMs` (blocks the thread that long at most). */
export function netlinkRecv(fd: number, timeoutMs: number): Buffer | null {
  return call(() => native().nlRecv(fd, Math.max(0, Math.min(Math.ceil(timeoutMs), 0x7fffffff))));
}

export function netlinkClose(fd: number): void {
  call(() => native().nlClose(fd));
}

/** Send one whole Ethernet frame out of link `ifindex` in the calling thread's netns (AF_PACKET; never waits). */
export function packetSend(ifindex: number, frame: Buffer): void {
  call(() => native().packetSend(ifindex, frame));
}
