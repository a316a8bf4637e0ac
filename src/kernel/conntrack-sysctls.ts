// The conntrack settings kube-proxy applies at start (pkg/proxy/conntrack/sysctls.go), in its order:
//   1. nf_conntrack_max = maxPerCore × CPUs (capped at 1048576), or `min` when that is larger; only
//      when maxPerCore > 0, and only raised (a larger current value is kept). Then the conntrack
//      table's hashsize (/sys/module/nf_conntrack/parameters/hashsize) is raised to max/4 if smaller.
//   2. nf_conntrack_tcp_timeout_established, _close_wait (when set and > 0),
//      nf_conntrack_tcp_be_liberal = 1 (when asked), nf_conntrack_udp_timeout, _udp_timeout_stream
//      (when > 0). Each is written only when it differs from the current value.
// The first failure stops the rest, as in kube-proxy.
//
// Kernel facts: nf_conntrack_max and hashsize are global (nf_conntrack_max reads as read-only in a
// network namespace other than the initial one); the timeouts and tcp_be_liberal are per network
// namespace. The sysctls and the hashsize file are reached through the interfaces below (the real
// ones by default), so a test injects stateful stand-ins for the global ones.

import { cpus } from 'node:os';
import { readFile, writeFile } from 'node:fs/promises';
import { readSysctl, writeSysctl } from './sysctl.ts';

export interface ConntrackSettings {
  maxPerCore: number;
  min: number;
  /** Seconds; null or 0 = leave. */
  tcpEstablishedTimeout: number | null;
  tcpCloseWaitTimeout: number | null;
  tcpBeLiberal: boolean;
  /** Seconds; 0 = leave. */
  udpTimeout: number;
  udpStreamTimeout: number;
}

export interface IntFile {
  read(): Promise<number>;
  write(value: number): Promise<void>;
}

export interface ConntrackIO {
  /** The sysctl under net/netfilter/ named `name`. */
  sysctl(name: string): IntFile;
  hashsize: IntFile;
  cpus: number;
}

export const HASHSIZE_PATH = '/sys/module/nf_conntrack/parameters/hashsize';
/** kube-proxy's cap on the scaled nf_conntrack_max. */
export const CONNTRACK_MAX_LIMIT = 1048576;

const int = (text: string, what: string): number => {
  const n = Number(text.trim());
  if (!Number.isInteger(n)) throw new Error(`${what}: ${JSON.stringify(text.trim())} is not an integer`);
  return n;
};

/** The real sysctls (in the calling process's network namespace), hashsize file and CPU count. */
export function realConntrackIO(): ConntrackIO {
  return {
    sysctl: (name) => ({
      read: async () => int(await readSysctl(`net/netfilter/${name}`), `net/netfilter/${name}`),
      write: (v) => writeSysctl(`net/netfilter/${name}`, v),
    }),
    hashsize: {
      read: async () => int(await readFile(HASHSIZE_PATH, 'utf8'), HASHSIZE_PATH),
      write: (v) => writeFile(HASHSIZE_PATH, String(v)),
    },
    cpus: Math.max(1, cpus().length),
  };
}

/** kube-proxy's getConntrackMax: 0 means "leave nf_conntrack_max alone". */
export function conntrackMax(s: Pick<ConntrackSettings, 'maxPerCore' | 'min'>, cpuCount: number): { max: number; why: string } {
  if (!(s.maxPerCore > 0)) return { max: 0, why: 'maxPerCore is 0: nf_conntrack_max left as it is' };
  const scaled = s.maxPerCore * cpuCount;
  if (scaled > CONNTRACK_MAX_LIMIT) return { max: CONNTRACK_MAX_LIMIT, why: 'capping scaled conntrack-max-per-core' };
  if (scaled > s.min) return { max: scaled, why: 'using scaled conntrack-max-per-core' };
  return { max: s.min, why: 'using conntrack-min' };
}

export interface ConntrackStep {
  entry: string;
  value: number;
  /** What was done: set, or skipped and why. */
  action: 'set' | 'skipped';
  reason?: string;
}

/** Apply `s` as kube-proxy does; returns every step taken or skipped. Throws on the first failure, naming the entry. */
export async function applyConntrackSettings(s: ConntrackSettings, io: ConntrackIO = realConntrackIO()): Promise<ConntrackStep[]> {
  const steps: ConntrackStep[] = [];
  const fail = (entry: string, err: unknown): never => {
    throw new Error(`${entry}: ${err instanceof Error ? err.message : String(err)}`, { cause: err });
  };
  const setInt = async (name: string, value: number): Promise<void> => {
    const entry = `net/netfilter/${name}`;
    const f = io.sysctl(name);
    // kube-proxy compares with the current value, a read error counting as "differs".
    const cur = await f.read().catch(() => undefined);
    if (cur === value) { steps.push({ entry, value, action: 'skipped', reason: 'already set' }); return; }
    await f.write(value).catch((e: unknown) => fail(entry, e));
    steps.push({ entry, value, action: 'set' });
  };

  const { max, why } = conntrackMax(s, io.cpus);
  if (max > 0) {
    const entry = 'net/netfilter/nf_conntrack_max';
    const cur = await io.sysctl('nf_conntrack_max').read().catch(() => undefined);
    if (cur === undefined || cur < max) await setInt('nf_conntrack_max', max);
    else steps.push({ entry, value: max, action: 'skipped', reason: `current value ${cur} is not smaller (${why})` });
    const hs = await io.hashsize.read().catch((e: unknown) => fail(HASHSIZE_PATH, e));
    if (hs < Math.floor(max / 4)) {
      await io.hashsize.write(Math.floor(max / 4)).catch((e: unknown) => fail(HASHSIZE_PATH, e));
      steps.push({ entry: HASHSIZE_PATH, value: Math.floor(max / 4), action: 'set' });
    } else steps.push({ entry: HASHSIZE_PATH, value: Math.floor(max / 4), action: 'skipped', reason: `current hashsize ${hs} is not smaller` });
  } else steps.push({ entry: 'net/netfilter/nf_conntrack_max', value: 0, action: 'skipped', reason: why });

  const seconds: Array<[string, number | null, string]> = [
    ['nf_conntrack_tcp_timeout_established', s.tcpEstablishedTimeout, 'tcpEstablishedTimeout'],
    ['nf_conntrack_tcp_timeout_close_wait', s.tcpCloseWaitTimeout, 'tcpCloseWaitTimeout'],
  ];
  for (const [name, v, field] of seconds) {
    if (v !== null && v > 0) await setInt(name, v);
    else steps.push({ entry: `net/netfilter/${name}`, value: 0, action: 'skipped', reason: `${field} is not set` });
  }
  if (s.tcpBeLiberal) await setInt('nf_conntrack_tcp_be_liberal', 1);
  else steps.push({ entry: 'net/netfilter/nf_conntrack_tcp_be_liberal', value: 0, action: 'skipped', reason: 'tcpBeLiberal is false' });
  for (const [name, v, field] of [['nf_conntrack_udp_timeout', s.udpTimeout, 'udpTimeout'], ['nf_conntrack_udp_timeout_stream', s.udpStreamTimeout, 'udpStreamTimeout']] as const) {
    if (v > 0) await setInt(name, v);
    else steps.push({ entry: `net/netfilter/${name}`, value: 0, action: 'skipped', reason: `${field} is 0` });
  }
  return steps;
}

/** kube-proxy's oom.ApplyOOMScoreAdj for the process itself: -1000..1000 into /proc/self/oom_score_adj. */
export async function applyOomScoreAdj(value: number, path = '/proc/self/oom_score_adj'): Promise<void> {
  if (!Number.isInteger(value) || value < -1000 || value > 1000) throw new Error(`invalid value ${value} for oom_score_adj (must be -1000..1000)`);
  try {
    await writeFile(path, String(value), { flag: 'r+' });
  } catch (err) {
    throw new Error(`failed to set oom_score_adj to ${value} in ${path}: ${err instanceof Error ? err.message : String(err)}`, { cause: err });
  }
}
