import { describe, expect, it } from 'vitest';
import { addrKey } from '../../../src/plan/addr.ts';

describe('addrKey', () => {
  it('orders addresses numerically, IPv4 before IPv6, non-addresses last', () => {
    const sorted = ['10.0.0.10', 'x', '9.0.0.1', '10.0.0.9', 'fd00::1', '::1', '::ffff:1.2.3.4'].sort((a, b) => (addrKey(a) < addrKey(b) ? -1 : 1));
    expect(sorted).toEqual(['9.0.0.1', '10.0.0.9', '10.0.0.10', '::1', '::ffff:1.2.3.4', 'fd00::1', 'x']);
  });
});
