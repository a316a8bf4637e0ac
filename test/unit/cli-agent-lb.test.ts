// NodePort addresses with the layer-2 announcer on: an announced LoadBalancer address sits on the
// node's interface (the kernel answers ARP for it there) but is a Service's, not a NodePort address.
import { describe, expect, it } from 'vitest';
import { nodePortAddresses } from '../../src/cli/agent-lb.ts';

describe('nodePortAddresses', () => {
  it('drops announced LoadBalancer addresses of both families and keeps the node\'s own', () => {
    const local = ['10.0.2.15', '10.88.0.241', 'fd00::15', 'fd00:88::241'];
    expect(nodePortAddresses(local, new Set(['10.88.0.241', 'fd00:88::241', '10.88.0.242']))).toEqual(['10.0.2.15', 'fd00::15']);
  });
  it('keeps every address without an announcer or without LoadBalancer addresses', () => {
    const local = ['10.0.2.15', '192.168.1.5'];
    expect(nodePortAddresses(local, undefined)).toEqual(local);
    expect(nodePortAddresses(local, new Set())).toEqual(local);
  });
});
