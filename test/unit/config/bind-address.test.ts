import { describe, expect, it } from 'vitest';
import { ConfigError, parseBindAddress } from '../../../src/config/index.ts';

describe('parseBindAddress', () => {
  it('a CIDR listens on every address of its family, on the default port', () => {
    expect(parseBindAddress('0.0.0.0/0', 10256, 'healthzBindAddress')).toEqual({ host: '0.0.0.0', port: 10256 });
    expect(parseBindAddress('::/0', 10256, 'healthzBindAddress')).toEqual({ host: '::', port: 10256 });
    expect(parseBindAddress('::ffff:0.0.0.0/96', 10256, 'healthzBindAddress')).toEqual({ host: '::', port: 10256 });
  });

  it('a CIDR that is not one is an error naming the field (it listened on 0.0.0.0 before)', () => {
    for (const bad of ['10.0.0.0/33', 'x/8', '010.0.0.0/8', 'fd00::/zz']) {
      expect(() => parseBindAddress(bad, 10256, 'healthzBindAddress'), bad).toThrow(ConfigError);
      expect(() => parseBindAddress(bad, 10256, 'healthzBindAddress'), bad).toThrow(/^healthzBindAddress: .*not an address, address:port or CIDR/);
    }
  });

  it('address and address:port', () => {
    expect(parseBindAddress('127.0.0.1:9000', 10256, 'f')).toEqual({ host: '127.0.0.1', port: 9000 });
    expect(parseBindAddress('[::1]:9000', 10256, 'f')).toEqual({ host: '::1', port: 9000 });
    expect(() => parseBindAddress('127.0.0.01:9000', 10256, 'f')).toThrow(/host must be an IP address/);
  });
});
