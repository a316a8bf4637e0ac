// Hand-built plans for reconciler tests.
import type { Protocol } from '../../../src/net/index.ts';
import type { Plan, VirtualServer } from '../../../src/plan/types.ts';

export function vs(address: string, port: number, backends: string[], over: Partial<VirtualServer> = {}): VirtualServer {
  const protocol: Protocol = over.protocol ?? 'TCP';
  return {
    family: address.includes(':') ? 6 : 4,
    address,
    protocol,
    port,
    scheduler: 'rr',
    flags: [],
    timeout: 0,
    netmask: address.includes(':') ? 128 : 32,
    realServers: backends.map((b) => {
      const [a, p] = b.split(':');
      return { address: a!, port: Number(p), weight: 1, forward: 'masq' as const };
    }),
    service: `default/svc-${address}-${port}:`,
    kind: 'clusterIP',
    ...over,
  };
}

export function plan(virtualServers: VirtualServer[], bound?: string[]): Plan {
  return {
    node: 'node-a',
    families: [{
      family: 4,
      virtualServers,
      boundAddresses: bound ?? [...new Set(virtualServers.filter((v) => v.kind !== 'nodePort').map((v) => v.address))].sort(),
      ipsets: [],
      iptables: { restore: '' },
    }],
    healthCheckNodePorts: [],
    diagnostics: [],
  };
}
