// The agent's CNI flags: --cni-conf-dir turns on the conflist writer and the thick-mode server,
// --cni-socket moves that server's unix socket (default /run/ipvsnet/cni.sock, chosen in src/cni/server.ts).
import { describe, it, expect } from 'vitest';
import { resolveAgentConfig, ConfigError } from '../../../src/config/index.ts';

const base = ['--hostname-override=n1'];

describe('CNI flags', () => {
  it('are off by default; --cni-conf-dir alone leaves the socket to the server default', () => {
    const off = resolveAgentConfig(base, {});
    expect(off.cniConfDir).toBeUndefined();
    expect(off.cniSocket).toBeUndefined();
    const on = resolveAgentConfig([...base, '--cni-conf-dir=/etc/cni/net.d', '--pod-routes', '--cluster-cidr=10.244.0.0/16'], {});
    expect(on.cniConfDir).toBe('/etc/cni/net.d');
    expect(on.cniSocket).toBeUndefined();
    expect(on.podRoutes).toBe(true);
  });

  it('--cni-socket takes an absolute path, in both flag spellings', () => {
    expect(resolveAgentConfig([...base, '--cni-conf-dir', '/tmp/x', '--cni-socket', '/tmp/x/cni.sock'], {}).cniSocket).toBe('/tmp/x/cni.sock');
    expect(resolveAgentConfig([...base, '--cni-conf-dir=/tmp/x', '--cni-socket=/run/other.sock'], {}).cniSocket).toBe('/run/other.sock');
  });

  it('rejects --cni-socket without --cni-conf-dir, relative, empty or too long, naming the flag', () => {
    const bad: Array<[string[], RegExp]> = [
      [['--cni-socket=/tmp/a.sock'], /^--cni-socket: only used with --cni-conf-dir/],
      [['--cni-conf-dir=/tmp/x', '--cni-socket=cni.sock'], /^--cni-socket: "cni\.sock": must be an absolute path/],
      [['--cni-conf-dir=/tmp/x', '--cni-socket='], /^--cni-socket: "": must be an absolute path/],
      [['--cni-conf-dir=/tmp/x', `--cni-socket=/${'s'.repeat(107)}`], /^--cni-socket: .*longer than a unix socket path can be \(107 bytes\)/],
    ];
    for (const [args, re] of bad) {
      let err: unknown;
      try {
        resolveAgentConfig([...base, ...args], {});
      } catch (e) {
        err = e;
      }
      expect(err, args.join(' ')).toBeInstanceOf(ConfigError);
      expect((err as Error).message, args.join(' ')).toMatch(re);
    }
    // 107 bytes is still fine
    expect(resolveAgentConfig([...base, '--cni-conf-dir=/tmp/x', `--cni-socket=/${'s'.repeat(106)}`], {}).cniSocket).toHaveLength(107);
  });
});
