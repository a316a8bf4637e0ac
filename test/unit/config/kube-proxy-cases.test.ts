// ipvsnet's command line and configuration held to kube-proxy v1.37.2's own answers: every case of
// test/fixtures/kube-proxy/cases.json was run through the real kube-proxy binary with --write-config-to
// (scripts/kube-proxy/run-cases.ts). For each, ipvsnet must refuse with the same text (pflag's error, or
// kube-proxy's "failed complete / initialize logging / failed validate" error), warn the same lenient
// decoding, print the same deprecation notices, or write the same YAML byte for byte.
import { describe, expect, it } from 'vitest';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ConfigError, FlagError, kubeProxyYaml, parseAgentCommandLine, resolveKubeProxy, agentConfigFrom } from '../../../src/config/index.ts';

interface Case {
  name: string;
  args: string[];
  config?: string;
  exitCode: number;
  flagError?: string;
  error?: string;
  lenientWarning?: string;
  notices?: string[];
  written?: string;
}

const cases = JSON.parse(readFileSync(join(import.meta.dirname, '../../fixtures/kube-proxy/cases.json'), 'utf8')) as Case[];

/** Where ipvsnet answers differently on purpose (docs/kube-proxy-differences.md), and what it says instead. */
const escape = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
const DIFFERENT: Record<string, (c: Case) => { error?: RegExp; flagError?: string; accepted?: boolean }> = {
  // kube-proxy runs iptables mode; ipvsnet implements only ipvs
  'cfg-mode-iptables': () => ({ error: /^failed validate: KubeProxyConfiguration\.Mode\.ProxyMode: Invalid value: "iptables": ipvsnet implements only the "ipvs" mode$/ }),
  // ipvsnet: port 0 of a command-line bind address picks a free port (kube-proxy refuses it)
  'err-metrics-port0': () => ({ accepted: true }),
  'err-many': (c) => ({ error: new RegExp(`^${escape(c.error!.replace(', KubeProxyConfiguration.MetricsBindAddress: Invalid value: "0": must be a valid port', ''))}$`) }),
  // the program's name
  'flag-positional': (c) => ({ flagError: c.flagError!.replace('"kube-proxy"', '"ipvsnet agent"') }),
};

/**
 * An aggregate "prefix: [a, b, c]" as the set of its items: kube-proxy's feature-gate errors come out of
 * Go map iteration, in no fixed order. Other errors are compared as they are (a one-item list).
 */
function unordered(err: string): string[] {
  const m = /^(failed complete: )\[(.*)\]$/.exec(err);
  if (!m) return [err];
  const items: string[] = [];
  let depth = 0;
  let cur = '';
  for (let i = 0; i < m[2]!.length; i++) {
    const ch = m[2]![i]!;
    if (ch === '[') depth++;
    if (ch === ']') depth--;
    if (depth === 0 && m[2]!.startsWith(', ', i)) {
      items.push(cur);
      cur = '';
      i++;
      continue;
    }
    cur += ch;
  }
  items.push(cur);
  return [m[1]!, ...items.sort()];
}

interface Outcome { flagError?: string; error?: string; lenientWarning?: string; notices: string[]; written?: string }

function runIpvsnet(c: Case): Outcome {
  const dir = mkdtempSync(join(tmpdir(), 'ipvsnet-kpcase-'));
  try {
    const cfgPath = join(dir, 'config.yaml');
    if (c.config !== undefined) writeFileSync(cfgPath, c.config);
    const argv = [`--write-config-to=${join(dir, 'out.yaml')}`, ...c.args.map((a) => a.replace(/=@$/, `=${cfgPath}`))];
    let parsed;
    try {
      parsed = parseAgentCommandLine(argv);
    } catch (e) {
      if (e instanceof FlagError) return { flagError: e.message, notices: [] };
      throw e;
    }
    try {
      const kp = resolveKubeProxy(parsed.values, parsed.notices);
      agentConfigFrom(kp, {});
      const lenient = kp.notes.find((n) => n.msg === 'Using lenient decoding as strict decoding failed');
      return { notices: parsed.notices, written: kubeProxyYaml(kp), ...(lenient ? { lenientWarning: String(lenient.kv['err']) } : {}) };
    } catch (e) {
      if (e instanceof ConfigError) return { error: e.message, notices: parsed.notices };
      throw e;
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

describe('kube-proxy v1.37.2 cases (test/fixtures/kube-proxy/cases.json)', () => {
  it('has the cases kube-proxy answered (generated, not empty)', () => {
    expect(cases.length).toBeGreaterThan(60);
    expect(cases.filter((c) => c.written).length).toBeGreaterThan(8);
    expect(cases.filter((c) => c.error).length).toBeGreaterThan(30);
    expect(cases.filter((c) => c.flagError).length).toBeGreaterThan(15);
  });

  for (const c of cases) {
    it(`${c.name}: ${c.flagError ? 'refused by pflag' : c.error ? 'refused' : 'accepted'} as kube-proxy does`, () => {
      const got = runIpvsnet(c);
      const diff = DIFFERENT[c.name]?.(c);
      if (diff?.accepted) {
        expect(got.error).toBeUndefined();
        expect(got.written).toContain('apiVersion: kubeproxy.config.k8s.io/v1alpha1');
        return;
      }
      if (diff?.error) {
        expect(got.error).toMatch(diff.error);
        return;
      }
      if (c.flagError !== undefined) {
        expect(got.flagError).toBe(diff?.flagError ?? c.flagError);
        return;
      }
      expect(got.flagError).toBeUndefined();
      if (c.error !== undefined) {
        expect(unordered(got.error ?? '')).toEqual(unordered(c.error));
        return;
      }
      expect(got.error).toBeUndefined();
      expect(got.written).toBe(c.written);
      expect(got.lenientWarning).toBe(c.lenientWarning);
      expect(got.notices).toEqual(c.notices ?? []);
    });
  }
});
