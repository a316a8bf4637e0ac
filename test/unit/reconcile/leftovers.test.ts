// rules/leftovers.rules and the pure leftover payload: no name there is a chain of the IPVS mode
// ipvsnet owns (a file that named one is refused), and the payload edits only built-in and KUBE-*
// chains. The payload on a real kernel: test/netns/agent/leftovers.test.ts.
import { describe, expect, it } from 'vitest';
import { LEFTOVERS, leftoverPayload, parseLeftoverNames } from '../../../src/reconcile/leftovers.ts';
import { OWNED_CHAINS } from '../../../src/plan/iptables.ts';
import { parseRules } from '../../../src/kernel/iptables.ts';

describe('kube-proxy leftovers', () => {
  it('names none of the chains ipvsnet owns, and refuses a file that does', () => {
    for (const [table, chains] of Object.entries(OWNED_CHAINS)) {
      for (const c of chains) {
        expect(LEFTOVERS.chains[table] ?? []).not.toContain(c);
        expect((LEFTOVERS.prefixes[table] ?? []).some((p) => c.startsWith(p))).toBe(false);
      }
    }
    expect(() => parseLeftoverNames('chain nat KUBE-SERVICES\n')).toThrow('rules/leftovers.rules:1: nat KUBE-SERVICES is a chain of the IPVS mode ipvsnet owns: chain nat KUBE-SERVICES');
    expect(() => parseLeftoverNames('prefix filter KUBE-IPVS\n')).toThrow(/prefix KUBE-IPVS matches a chain ipvsnet owns/);
    expect(LEFTOVERS.nft).toEqual([{ family: 'ip', name: 'kube-proxy' }, { family: 'ip6', name: 'kube-proxy' }]);
  });

  it('nothing to do on a node without them; a foreign chain is never edited', () => {
    const clean = parseRules('*nat\n:PREROUTING ACCEPT [0:0]\n:KUBE-SERVICES - [0:0]\n-A PREROUTING -m comment --comment "kubernetes service portals" -j KUBE-SERVICES\nCOMMIT\n');
    expect(leftoverPayload(clean)).toBeUndefined();
    const p = leftoverPayload(parseRules([
      '*nat', ':PREROUTING ACCEPT [0:0]', ':KUBE-SERVICES - [0:0]', ':KUBE-SVC-A - [0:0]', ':KUBE-SEP-A - [0:0]', ':CALI-X - [0:0]',
      '-A KUBE-SERVICES -d 10.96.0.1/32 -p tcp -m tcp --dport 443 -j KUBE-SVC-A', '-A KUBE-SVC-A -j KUBE-SEP-A', '-A CALI-X -j KUBE-SEP-A', 'COMMIT', '',
    ].join('\n')));
    expect(p).toEqual({
      payload: '*nat\n-D KUBE-SERVICES -d 10.96.0.1/32 -p tcp -m tcp --dport 443 -j KUBE-SVC-A\n:KUBE-SVC-A - [0:0]\n:KUBE-SEP-A - [0:0]\n-X KUBE-SVC-A\nCOMMIT\n',
      chains: ['nat/KUBE-SVC-A'], rules: 1, kept: ['nat/KUBE-SEP-A'],
    });
  });
});
