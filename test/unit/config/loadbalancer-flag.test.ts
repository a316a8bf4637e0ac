// --loadbalancer-addresses: opt-in, off by default.
import { describe, expect, it } from 'vitest';
import { resolveAgentConfig } from '../../../src/config/index.ts';

describe('--loadbalancer-addresses', () => {
  it('is off by default and on when given', () => {
    expect(resolveAgentConfig(['--hostname-override=n1'], {}).loadBalancerAddresses).toBe(false);
    expect(resolveAgentConfig(['--hostname-override=n1', '--loadbalancer-addresses'], {}).loadBalancerAddresses).toBe(true);
    expect(resolveAgentConfig(['--hostname-override=n1', '--loadbalancer-addresses=false'], {}).loadBalancerAddresses).toBe(false);
  });
});
