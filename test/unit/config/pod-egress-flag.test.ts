// --pod-egress-masquerade: on by default with --pod-routes, off with =false, needs --cluster-cidr
// (flag or the --config file's clusterCIDR) when on; errors name the flag.
import { describe, it, expect } from 'vitest';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { resolveAgentConfig, ConfigError, FlagError, usage } from '../../../src/config/index.ts';

const base = ['--hostname-override=n1'];

function fails(args: string[]): ConfigError {
  let err: unknown;
  try {
    resolveAgentConfig([...base, ...args], {});
  } catch (e) {
    err = e;
  }
  expect(err, args.join(' ')).toBeInstanceOf(ConfigError);
  return err as ConfigError;
}

describe('--pod-egress-masquerade', () => {
  it('is off without --pod-routes and on by default with it', () => {
    expect(resolveAgentConfig(base, {}).podEgressMasquerade).toBe(false);
    expect(resolveAgentConfig([...base, '--pod-egress-masquerade=false'], {}).podEgressMasquerade).toBe(false);
    const on = resolveAgentConfig([...base, '--pod-routes', '--cluster-cidr=10.244.0.0/16'], {});
    expect(on.podEgressMasquerade).toBe(true);
    expect(on.node.clusterCIDRs).toEqual(['10.244.0.0/16']);
    expect(resolveAgentConfig([...base, '--pod-routes', '--cluster-cidr=10.244.0.0/16', '--pod-egress-masquerade'], {}).podEgressMasquerade).toBe(true);
    expect(resolveAgentConfig([...base, '--pod-routes', '--cluster-cidr=10.244.0.0/16', '--pod-egress-masquerade=true'], {}).podEgressMasquerade).toBe(true);
  });

  it('=false turns it off, and then --cluster-cidr is not needed', () => {
    const off = resolveAgentConfig([...base, '--pod-routes', '--pod-egress-masquerade=false'], {});
    expect(off.podRoutes).toBe(true);
    expect(off.podEgressMasquerade).toBe(false);
  });

  it('with --ip-pools, --cluster-cidr is not needed: the Workload pools are the pod network', () => {
    const cfg = resolveAgentConfig([...base, '--pod-routes', '--ip-pools'], {});
    expect(cfg.podEgressMasquerade).toBe(true);
    expect(cfg.node.clusterCIDRs).toEqual([]);
  });

  it('takes the cluster CIDR from the --config file too (both families when dual-stack)', () => {
    const dir = mkdtempSync(join(tmpdir(), 'ivt-cfg-'));
    const file = join(dir, 'config.yaml');
    writeFileSync(file, 'apiVersion: kubeproxy.config.k8s.io/v1alpha1\nkind: KubeProxyConfiguration\nmode: ipvs\nclusterCIDR: 10.244.0.0/16,fd00:10:244::/56\n');
    const cfg = resolveAgentConfig([...base, `--config=${file}`, '--pod-routes'], {});
    expect(cfg.podEgressMasquerade).toBe(true);
    expect(cfg.node.clusterCIDRs).toEqual(['10.244.0.0/16', 'fd00:10:244::/56']);
  });

  it('fails at start without a cluster CIDR, naming the flag and what to give', () => {
    expect(fails(['--pod-routes']).message).toMatch(/^--pod-egress-masquerade \(on by default with --pod-routes\): needs --cluster-cidr .*--pod-egress-masquerade=false/);
    expect(fails(['--pod-routes', '--pod-egress-masquerade']).message).toMatch(/^--pod-egress-masquerade: needs --cluster-cidr/);
  });

  it('=true without --pod-routes is rejected; an invalid boolean is rejected; both name the flag', () => {
    expect(fails(['--pod-egress-masquerade', '--cluster-cidr=10.244.0.0/16']).message).toMatch(/^--pod-egress-masquerade: only used with --pod-routes/);
    expect(() => resolveAgentConfig([...base, '--pod-routes', '--cluster-cidr=10.244.0.0/16', '--pod-egress-masquerade=yes'], {})).toThrow(FlagError);
    expect(() => resolveAgentConfig([...base, '--pod-routes', '--cluster-cidr=10.244.0.0/16', '--pod-egress-masquerade=yes'], {})).toThrow('invalid argument "yes" for "--pod-egress-masquerade" flag: strconv.ParseBool: parsing "yes": invalid syntax');
  });

  it('is listed in the usage', () => {
    expect(usage()).toContain('--pod-egress-masquerade');
  });
});
