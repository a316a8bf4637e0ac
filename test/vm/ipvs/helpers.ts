// Helpers for the IPVS adapter tests inside the VM: ipvsadm as the independent witness, and cleanup
// of the test address ranges (10.123.0.0/16, fd00:123::/32 for services; 10.124.0.0/16, fd00:124::/32
// for real servers). Cleanup goes through ipvsadm, not the adapter under test.
import '../lane/guard.ts';
import { execa } from 'execa';
import type { IpvsDest, IpvsService, IpvsServiceId } from '../../../src/kernel/ipvs/types.ts';

export const TEST_SVC = /(^|[\s[])(10\.123\.|fd00:123:)/;

export async function ipvsadm(...args: string[]): Promise<string> {
  const { stdout } = await execa('ipvsadm', args);
  return stdout;
}

/** `ipvsadm -Sn` lines of the test services and their dests, sorted. */
export async function savedRules(): Promise<string[]> {
  const out = await ipvsadm('-Sn');
  return out
    .split('\n')
    .filter((l) => l.trim() !== '' && TEST_SVC.test(l.split(' -r ')[0] ?? ''))
    .sort();
}

/** Delete every test service (through one `ipvsadm -R`). */
export async function cleanupTestServices(): Promise<void> {
  const out = await ipvsadm('-Sn');
  const dels: string[] = [];
  for (const l of out.split('\n')) {
    const m = /^-A (-t|-u|--sctp-service) (\S+)/.exec(l);
    if (m && TEST_SVC.test(m[2] ?? '')) dels.push(`-D ${m[1]} ${m[2]}\n`);
  }
  if (dels.length) await execa('ipvsadm', ['-R'], { input: dels.join('') });
  const left = (await ipvsadm('-Sn')).split('\n').filter((l) => TEST_SVC.test(l));
  if (left.length) throw new Error(`test IPVS services left after cleanup: ${left.slice(0, 3).join('; ')}`);
}

export function hp(address: string, port: number): string {
  return address.includes(':') ? `[${address}]:${port}` : `${address}:${port}`;
}

export function protoFlag(p: IpvsServiceId['protocol']): string {
  return p === 'TCP' ? '-t' : p === 'UDP' ? '-u' : '--sctp-service';
}

function v4mask(prefix: number): string {
  const m = prefix === 0 ? 0 : (0xffffffff << (32 - prefix)) >>> 0;
  return [24, 16, 8, 0].map((s) => (m >>> s) & 0xff).join('.');
}

/** How `ipvsadm -Sn` writes a service (independent re-statement of ipvsadm's save format). */
export function expectedServiceLine(s: IpvsService): string {
  let l = `-A ${protoFlag(s.protocol)} ${hp(s.address, s.port)} -s ${s.scheduler}`;
  if (s.flags & 0x1) {
    l += ` -p ${s.timeout}`;
    const full = s.family === 4 ? 32 : 128;
    if (s.netmask !== full) l += ` -M ${s.family === 4 ? v4mask(s.netmask) : s.netmask}`;
  }
  if (s.flags & 0x4) l += ' -o';
  const names =
    s.scheduler === 'sh' || s.scheduler === 'mh'
      ? [`${s.scheduler}-fallback`, `${s.scheduler}-port`, 'flag-3']
      : ['flag-1', 'flag-2', 'flag-3'];
  const set = [0x8, 0x10, 0x20].map((b, i) => (s.flags & b ? names[i] : undefined)).filter((x) => x !== undefined);
  if (set.length) l += ` -b ${set.join(',')}`;
  return l;
}

export function expectedDestLine(s: IpvsServiceId, d: IpvsDest): string {
  const fwd = { masq: '-m', route: '-g', tunnel: '-i', local: '-m', bypass: '-m' }[d.forward];
  let l = `-a ${protoFlag(s.protocol)} ${hp(s.address, s.port)} -r ${hp(d.address, d.port)} ${fwd} -w ${d.weight}`;
  if (d.forward === 'tunnel') l += ' --tun-type ipip';
  return l;
}

export interface ListedDest {
  address: string;
  port: number;
  forward: string;
  weight: number;
  active: number;
  inactive: number;
}

/** Parse `ipvsadm -Ln -t|-u|--sctp-service VIP` into its dests. */
export async function listedDests(s: IpvsServiceId): Promise<ListedDest[]> {
  const out = await ipvsadm('-Ln', protoFlag(s.protocol), hp(s.address, s.port));
  const dests: ListedDest[] = [];
  for (const l of out.split('\n')) {
    const m = /^\s+-> (\[[^\]]+\]|[\d.]+):(\d+)\s+(\w+)\s+(\d+)\s+(\d+)\s+(\d+)/.exec(l);
    if (!m) continue;
    dests.push({ address: m[1]!.replace(/^\[|\]$/g, ''), port: Number(m[2]), forward: m[3]!, weight: Number(m[4]), active: Number(m[5]), inactive: Number(m[6]) });
  }
  return dests;
}

/** `ipvsadm -Ln --stats --exact` for one service: the service row then its dests. */
export async function listedStats(s: IpvsServiceId): Promise<{ key: string; conns: bigint; inPkts: bigint; outPkts: bigint; inBytes: bigint; outBytes: bigint }[]> {
  const out = await ipvsadm('-Ln', '--stats', '--exact', protoFlag(s.protocol), hp(s.address, s.port));
  const rows = [];
  for (const l of out.split('\n')) {
    const m = /^(?:\w+\s+|\s+-> )(\S+)\s+(\d+)\s+(\d+)\s+(\d+)\s+(\d+)\s+(\d+)\s*$/.exec(l);
    if (!m) continue;
    rows.push({ key: m[1]!, conns: BigInt(m[2]!), inPkts: BigInt(m[3]!), outPkts: BigInt(m[4]!), inBytes: BigInt(m[5]!), outBytes: BigInt(m[6]!) });
  }
  return rows;
}

export async function listedTimeouts(): Promise<{ tcp: number; tcpFin: number; udp: number }> {
  const out = await ipvsadm('-Ln', '--timeout');
  const m = /Timeout \(tcp tcpfin udp\): (\d+) (\d+) (\d+)/.exec(out);
  if (!m) throw new Error(`unexpected ipvsadm --timeout output: ${out}`);
  return { tcp: Number(m[1]), tcpFin: Number(m[2]), udp: Number(m[3]) };
}
