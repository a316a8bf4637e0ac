// Every field of KubeProxyConfiguration decodes and comes back through --write-config-to unchanged:
// each configuration kube-proxy v1.37.2 wrote in test/fixtures/kube-proxy/cases.json (all fields present,
// most set away from their defaults by the "every-flag" case) is given to ipvsnet as --config, and
// ipvsnet must write it back byte for byte. A field ipvsnet dropped, renamed, re-defaulted or re-formatted
// fails here.
import { describe, expect, it } from 'vitest';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parse } from 'yaml';
import { configzJson, kubeProxyYaml, parseAgentCommandLine, resolveKubeProxy } from '../../../src/config/index.ts';

interface Case { name: string; written?: string }
const cases = (JSON.parse(readFileSync(join(import.meta.dirname, '../../fixtures/kube-proxy/cases.json'), 'utf8')) as Case[]).filter((c) => c.written && /^mode: ipvs$/m.test(c.written));

/** Dotted paths of every leaf of a parsed YAML document. */
function leaves(o: unknown, at = ''): string[] {
  if (o === null || typeof o !== 'object' || Array.isArray(o)) return [at];
  return Object.entries(o as Record<string, unknown>).flatMap(([k, v]) => leaves(v, at ? `${at}.${k}` : k));
}

describe('KubeProxyConfiguration round trip (decode → resolve → --write-config-to)', () => {
  it('the fixture covers every v1alpha1 field kube-proxy writes', () => {
    const all = new Set(cases.flatMap((c) => leaves(parse(c.written!))));
    for (const f of ['clientConnection.qps', 'conntrack.tcpEstablishedTimeout', 'detectLocal.interfaceNamePrefix', 'featureGates.LoggingAlphaOptions', 'ipvs.excludeCIDRs', 'logging.vmodule', 'logging.options.text.splitStream', 'winkernel.sourceVip', 'showHiddenMetricsForVersion', 'oomScoreAdj', 'portRange']) {
      expect(all.has(f), f).toBe(true);
    }
    expect(all.size).toBeGreaterThan(60);
  });

  for (const c of cases) {
    it(`${c.name}: kube-proxy's written configuration comes back unchanged`, () => {
      const dir = mkdtempSync(join(tmpdir(), 'ipvsnet-rt-'));
      try {
        const file = join(dir, 'config.yaml');
        writeFileSync(file, c.written!);
        const kp = resolveKubeProxy(parseAgentCommandLine([`--config=${file}`]).values);
        expect(kp.notes.filter((n) => n.msg.startsWith('Using lenient'))).toEqual([]);
        expect(kubeProxyYaml(kp)).toBe(c.written);
        // /configz carries the same object as JSON
        expect(JSON.parse(configzJson(kp))['kubeproxy.config.k8s.io']).toEqual(parse(c.written!));
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    });
  }
});
