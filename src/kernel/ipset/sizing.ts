// How big a set ipvsnet creates (pure). kube-proxy creates every hash set with `hashsize 1024
// maxelem 65536` whatever it will hold, so its KUBE-CLUSTER-IP or KUBE-LOOP-BACK stops taking members
// past 65,536 ("Hash is full"). ipvsnet keeps those figures while a set's planned members fit them
// with room to spare (up to 49,152), and sizes a bigger set for twice its members (a power of two), with
// one hash bucket per four members, so that the kernel does not rehash it again and again while it is
// filled.
// A set already in the kernel whose maxelem is below its planned members is rebuilt with the bigger
// size under a temporary name and swapped in (./restore.ts): maxelem cannot be changed in place.

import type { CreateOptions } from './encode.ts';

export const DEFAULT_HASHSIZE = 1024;
export const DEFAULT_MAXELEM = 65536;

function pow2AtLeast(n: number): number {
  let p = 1;
  while (p < n) p *= 2;
  return p;
}

/** The options ipvsnet creates a set of `type`/`family` with, to hold `members` members. */
export function createOptions(type: string, family: 4 | 6, members: number): CreateOptions {
  if (type === 'bitmap:port') return { type, family: undefined, range: [0, 65535] };
  if (members <= (DEFAULT_MAXELEM * 3) / 4) return { type, family, hashsize: DEFAULT_HASHSIZE, maxelem: DEFAULT_MAXELEM };
  const maxelem = pow2AtLeast(members * 2);
  return { type, family, hashsize: Math.max(DEFAULT_HASHSIZE, maxelem / 8), maxelem };
}

/** The `create` line (restore syntax) of a set `name` with these options. */
export function createLineOf(name: string, o: CreateOptions): string {
  const w = o.range
    ? [`create ${name} ${o.type} range ${o.range[0]}-${o.range[1]}`]
    : [`create ${name} ${o.type} family ${o.family === 6 ? 'inet6' : 'inet'} hashsize ${o.hashsize ?? DEFAULT_HASHSIZE} maxelem ${o.maxelem ?? DEFAULT_MAXELEM}`];
  if (o.netmask !== undefined) w.push(`netmask ${o.netmask}`);
  if (o.timeout !== undefined) w.push(`timeout ${o.timeout}`);
  if (o.counters) w.push('counters');
  if (o.comment) w.push('comment');
  if (o.skbinfo) w.push('skbinfo');
  if (o.forceadd) w.push('forceadd');
  if (o.bucketsize !== undefined) w.push(`bucketsize ${o.bucketsize}`);
  return w.join(' ');
}

/**
 * The options a kernel set's `create` line (as the reader gives it) states that a set rebuilt in
 * its place keeps: hashsize, maxelem, bitmap range, netmask, timeout, bucketsize, extensions.
 */
export function optionsOfCreateLine(line: string): Partial<CreateOptions> {
  const w = line.split(' ');
  const num = (k: string): number | undefined => {
    const i = w.indexOf(k);
    return i >= 0 && /^\d+$/.test(w[i + 1] ?? '') ? Number(w[i + 1]) : undefined;
  };
  const o: { -readonly [K in keyof CreateOptions]?: CreateOptions[K] } = {};
  for (const k of ['hashsize', 'maxelem', 'netmask', 'timeout', 'bucketsize'] as const) {
    const v = num(k);
    if (v !== undefined) o[k] = v;
  }
  const r = /(?:^| )range (\d+)-(\d+)(?: |$)/.exec(line);
  if (r) o.range = [Number(r[1]), Number(r[2])];
  for (const k of ['counters', 'comment', 'skbinfo', 'forceadd'] as const) if (w.includes(k)) o[k] = true;
  return o;
}

/** The maxelem a `create` line states (the kernel's default when it states none); undefined for a bitmap. */
export function maxelemOf(createLine: string): number | undefined {
  const m = / maxelem (\d+)/.exec(createLine);
  if (m) return Number(m[1]);
  return / hash:/.test(createLine) ? DEFAULT_MAXELEM : undefined;
}
