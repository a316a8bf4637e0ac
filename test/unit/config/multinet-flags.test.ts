// The multi-network flags: opt-in, needing --cni-conf-dir, and each of its options only with it.
import { describe, expect, it } from 'vitest';
import { resolveAgentConfig, ConfigError } from '../../../src/config/index.ts';

const base = ['--hostname-override=n1', '--cni-conf-dir=/etc/cni/net.d'];

describe('--multi-network and its options', () => {
  it('is off by default and on with the flag', () => {
    expect(resolveAgentConfig(base, {}).multiNetwork).toBe(false);
    const c = resolveAgentConfig([...base, '--multi-network', '--multi-network-host-root=/hostroot', '--multi-network-global-namespaces=kube-system, shared',
      '--multi-network-default-networks=kube-system/mon', '--multi-network-readiness-indicator-file=/run/ready'], {});
    expect(c).toMatchObject({ multiNetwork: true, multiNetworkHostRoot: '/hostroot', multiNetworkGlobalNamespaces: ['kube-system', 'shared'], multiNetworkDefaultNetworks: ['kube-system/mon'], multiNetworkReadinessIndicatorFile: '/run/ready' });
  });

  it('refuses what cannot work, naming the flag', () => {
    const bad: Array<[string[], RegExp]> = [
      [['--hostname-override=n1', '--multi-network'], /--multi-network: needs --cni-conf-dir/],
      [[...base, '--multi-network-host-root=/h'], /--multi-network-host-root: only used with --multi-network/],
      [[...base, '--multi-network', '--multi-network-host-root=rel'], /must be an absolute path/],
      [[...base, '--multi-network', '--multi-network-global-namespaces=Bad_NS'], /"Bad_NS" is not a namespace name/],
      [[...base, '--multi-network', '--multi-network-default-networks=a/b/c'], /"a\/b\/c" is not "namespace\/name"/],
      [[...base, '--multi-network', '--multi-network-readiness-indicator-file=x'], /must be an absolute path/],
    ];
    for (const [argv, re] of bad) {
      expect(() => resolveAgentConfig(argv, {}), argv.join(' ')).toThrow(ConfigError);
      expect(() => resolveAgentConfig(argv, {}), argv.join(' ')).toThrow(re);
    }
  });
});
