// kube-proxy's conntrack settings (pkg/proxy/conntrack/sysctls.go) over a stateful stand-in for the
// sysctls and the hashsize file: what is written, what is left and why, the order, and that the first
// failure stops the rest naming the entry. The per-netns entries are also checked on a real kernel in
// test/netns/agent/ipvs-missing.test.ts; nf_conntrack_max and hashsize are global and only tested here.
import { describe, expect, it } from 'vitest';
import { applyConntrackSettings, applyOomScoreAdj, conntrackMax, HASHSIZE_PATH, type ConntrackIO, type ConntrackSettings } from '../../../src/kernel/conntrack-sysctls.ts';

const DEFAULTS: ConntrackSettings = { maxPerCore: 32768, min: 131072, tcpEstablishedTimeout: 86400, tcpCloseWaitTimeout: 3600, tcpBeLiberal: false, udpTimeout: 0, udpStreamTimeout: 0 };

/** The kernel's values; `readOnly` entries refuse writes (nf_conntrack_max outside the initial netns). */
function kernel(values: Record<string, number>, opts: { cpus?: number; readOnly?: string[] } = {}) {
  const state = { ...values };
  const writes: string[] = [];
  const file = (key: string) => ({
    read: async () => {
      if (!(key in state)) throw new Error(`ENOENT ${key}`);
      return state[key]!;
    },
    write: async (v: number) => {
      if (opts.readOnly?.includes(key)) throw new Error('EACCES (read-only)');
      writes.push(`${key}=${v}`);
      state[key] = v;
    },
  });
  const io: ConntrackIO = { sysctl: (name) => file(name), hashsize: file('hashsize'), cpus: opts.cpus ?? 2 };
  return { io, state, writes };
}

const HOST = { nf_conntrack_max: 262144, hashsize: 262144, nf_conntrack_tcp_timeout_established: 432000, nf_conntrack_tcp_timeout_close_wait: 60, nf_conntrack_tcp_be_liberal: 0, nf_conntrack_udp_timeout: 30, nf_conntrack_udp_timeout_stream: 120 };

describe('conntrack settings as kube-proxy applies them', () => {
  it('nf_conntrack_max: maxPerCore × CPUs, min as the floor, capped at 1048576; 0 leaves it', () => {
    expect(conntrackMax({ maxPerCore: 32768, min: 131072 }, 2).max).toBe(131072);
    expect(conntrackMax({ maxPerCore: 32768, min: 131072 }, 8).max).toBe(262144);
    expect(conntrackMax({ maxPerCore: 32768, min: 131072 }, 64).max).toBe(1048576);
    expect(conntrackMax({ maxPerCore: 0, min: 131072 }, 8).max).toBe(0);
  });

  it('defaults on a node whose values are larger or equal: only the TCP timeouts change, in kube-proxy\'s order', async () => {
    const k = kernel(HOST);
    const steps = await applyConntrackSettings(DEFAULTS, k.io);
    expect(k.writes).toEqual(['nf_conntrack_tcp_timeout_established=86400', 'nf_conntrack_tcp_timeout_close_wait=3600']);
    expect(steps.map((s) => `${s.action} ${s.entry}${s.reason ? ` (${s.reason})` : ''}`)).toEqual([
      'skipped net/netfilter/nf_conntrack_max (current value 262144 is not smaller (using conntrack-min))',
      `skipped ${HASHSIZE_PATH} (current hashsize 262144 is not smaller)`,
      'set net/netfilter/nf_conntrack_tcp_timeout_established',
      'set net/netfilter/nf_conntrack_tcp_timeout_close_wait',
      'skipped net/netfilter/nf_conntrack_tcp_be_liberal (tcpBeLiberal is false)',
      'skipped net/netfilter/nf_conntrack_udp_timeout (udpTimeout is 0)',
      'skipped net/netfilter/nf_conntrack_udp_timeout_stream (udpStreamTimeout is 0)',
    ]);
    // a second run changes nothing
    k.writes.length = 0;
    await applyConntrackSettings(DEFAULTS, k.io);
    expect(k.writes).toEqual([]);
  });

  it('raises a smaller nf_conntrack_max and hashsize, and sets be_liberal and the UDP timeouts when asked', async () => {
    const k = kernel({ ...HOST, nf_conntrack_max: 65536, hashsize: 16384 }, { cpus: 8 });
    await applyConntrackSettings({ ...DEFAULTS, tcpBeLiberal: true, udpTimeout: 45, udpStreamTimeout: 100 }, k.io);
    expect(k.writes).toEqual([
      'nf_conntrack_max=262144', 'hashsize=65536',
      'nf_conntrack_tcp_timeout_established=86400', 'nf_conntrack_tcp_timeout_close_wait=3600',
      'nf_conntrack_tcp_be_liberal=1', 'nf_conntrack_udp_timeout=45', 'nf_conntrack_udp_timeout_stream=100',
    ]);
  });

  it('unset (null or 0) TCP timeouts are left alone', async () => {
    const k = kernel(HOST);
    await applyConntrackSettings({ ...DEFAULTS, maxPerCore: 0, tcpEstablishedTimeout: null, tcpCloseWaitTimeout: 0 }, k.io);
    expect(k.writes).toEqual([]);
  });

  it('the first failure stops the rest and names the entry', async () => {
    const k = kernel({ ...HOST, nf_conntrack_max: 1000 }, { readOnly: ['nf_conntrack_max'] });
    await expect(applyConntrackSettings(DEFAULTS, k.io)).rejects.toThrow(/^net\/netfilter\/nf_conntrack_max: EACCES \(read-only\)$/);
    expect(k.writes).toEqual([]);
  });

  it('oom_score_adj: kube-proxy\'s range is checked before writing', async () => {
    await expect(applyOomScoreAdj(-1001, '/nonexistent')).rejects.toThrow('invalid value -1001 for oom_score_adj (must be -1000..1000)');
    await expect(applyOomScoreAdj(-999, '/nonexistent/oom_score_adj')).rejects.toThrow(/failed to set oom_score_adj to -999 in \/nonexistent\/oom_score_adj: ENOENT/);
  });
});
