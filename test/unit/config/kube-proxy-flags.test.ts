// Every flag of `kube-proxy --help` (v1.37.2, Linux; test/fixtures/kube-proxy/help.txt, captured from the
// binary by scripts/kube-proxy/inventory.sh) is a flag of `ipvsnet agent` with the same type and
// shorthand, is accepted in each of pflag's forms with a value of its type, and is honoured or warned
// about exactly once. Plus pflag's semantics that the cases fixture does not show.
import { afterAll, describe, expect, it } from 'vitest';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { AGENT_FLAGS, FlagError, parseAgentCommandLine, resolveKubeProxy, agentConfigFrom, kubeProxyYaml } from '../../../src/config/index.ts';

const help = readFileSync(join(import.meta.dirname, '../../fixtures/kube-proxy/help.txt'), 'utf8');
/** "      --name type   usage" / "  -v, --v Level   usage" lines of the help. */
const HELP_FLAGS = [...help.matchAll(/^\s+(?:-(\w), )?--([a-z0-9-]+)(?: ([^\s]+))?\s{2,}/gm)].map((m) => ({ short: m[1], name: m[2]!, type: m[3] ?? 'bool' }));

/** A valid command-line value of each pflag type (kube-proxy's). */
const SAMPLE: Record<string, string[]> = {
  bool: ['true', 'false', '1', '0', 't', 'F', 'TRUE', 'False'],
  string: ['x'],
  int32: ['3', '0x10', '-7'],
  float32: ['2.5', '1e1'],
  duration: ['30s', '1m0s', '1h2m3.5s', '500ms'],
  strings: ['10.0.0.0/8,10.1.0.0/16'],
  mapStringBool: ['LoggingAlphaOptions=true,LoggingBetaOptions=true'],
  ip: ['10.0.0.1', 'fd00::1'],
  ipport: ['127.0.0.1:10256', '[::1]:10256', '0.0.0.0'],
  ProxyMode: ['ipvs'],
  LocalMode: ['ClusterCIDR'],
  Level: ['4'],
  'pattern=N,...': ['proxier=5,foo*=2'],
  quantity: ['1Ki', '0'],
  'version[=true]': ['false'],
};
const cfgDir = mkdtempSync(join(tmpdir(), 'ipvsnet-flags-'));
const cfgFile = join(cfgDir, 'config.yaml');
writeFileSync(cfgFile, 'apiVersion: kubeproxy.config.k8s.io/v1alpha1\nkind: KubeProxyConfiguration\nmode: ipvs\n');
afterAll(() => rmSync(cfgDir, { recursive: true, force: true }));
const VALUE_OF: Record<string, string> = { config: cfgFile, master: 'https://10.0.0.1:6443', 'cluster-cidr': '10.244.0.0/16', 'ipvs-scheduler': 'rr', 'logging-format': 'text', 'show-hidden-metrics-for-version': '1.36', 'kube-api-content-type': 'application/json', 'hostname-override': 'node-a' };

describe("kube-proxy's --help (test/fixtures/kube-proxy/help.txt)", () => {
  it('lists the flags of kube-proxy v1.37 (the fixture is the real output)', () => {
    expect(HELP_FLAGS.length).toBeGreaterThanOrEqual(55);
    expect(HELP_FLAGS.map((f) => f.name)).toEqual(expect.arrayContaining(['conntrack-max-per-core', 'feature-gates', 'write-config-to', 'init-only', 'logging-format', 'oom-score-adj', 'detect-local-mode', 'v', 'version']));
  });

  it('every one is a flag of ipvsnet agent, of the same type and shorthand', () => {
    const ours = new Map(AGENT_FLAGS.map((d) => [d.name, d]));
    for (const f of HELP_FLAGS) {
      const d = ours.get(f.name);
      expect(d, `--${f.name}`).toBeDefined();
      expect(d!.type === 'version' ? 'version[=true]' : d!.type, `--${f.name}`).toBe(f.type);
      expect(d!.shorthand, `--${f.name}`).toBe(f.short);
    }
    // and the deprecated ones pflag hides from --help
    expect(ours.get('healthz-port')?.deprecated).toMatch(/--healthz-bind-address/);
    expect(ours.get('metrics-port')?.deprecated).toMatch(/--metrics-bind-address/);
  });

  for (const f of HELP_FLAGS.filter((x) => x.name !== 'help' && x.name !== 'version')) {
    it(`--${f.name} (${f.type}) is accepted in pflag's forms and resolves`, () => {
      const values = VALUE_OF[f.name] ? [VALUE_OF[f.name]!] : SAMPLE[f.type]!;
      expect(values, f.type).toBeDefined();
      for (const v of values) {
        const forms = f.type === 'bool' ? [[`--${f.name}=${v}`], [`--${f.name}`]] : [[`--${f.name}=${v}`], [`--${f.name}`, v], [`--${f.name.replaceAll('-', '_')}=${v}`]];
        if (f.short) forms.push([`-${f.short}=${v}`], [`-${f.short}`, v], [`-${f.short}${v}`]);
        for (const argv of forms) {
          const p = parseAgentCommandLine(argv);
          expect(p.values.has(f.name), argv.join(' ')).toBe(true);
        }
      }
      // resolves (with what the flag needs beside it), and a flag that is not honoured says so once
      const extra = f.name.startsWith('log-') && f.name !== 'log-flush-frequency' ? ['--feature-gates=LoggingAlphaOptions=true'] : f.name === 'pod-bridge-interface' ? [] : [];
      const argv = [f.type === 'bool' ? `--${f.name}` : `--${f.name}=${VALUE_OF[f.name] ?? SAMPLE[f.type]![0]!}`, ...extra];
      const kp = resolveKubeProxy(parseAgentCommandLine(argv).values);
      agentConfigFrom(kp, {});
      const d = AGENT_FLAGS.find((x) => x.name === f.name)!;
      const warned = kp.notes.filter((n) => n.kv['flag'] === `--${f.name}`);
      expect(warned.length, `--${f.name} (${d.use})`).toBe(d.use === 'honoured' ? 0 : 1);
    });
  }
});

describe('pflag semantics', () => {
  it('a repeated list flag appends, a repeated map flag merges, the last scalar wins', () => {
    const p = parseAgentCommandLine(['--ipvs-exclude-cidrs=10.0.0.0/8', '--ipvs-exclude-cidrs', '10.1.0.0/16,10.2.0.0/16', '--feature-gates=A=true', '--feature-gates=B=false,A=false', '-v=2', '--v=5']);
    expect(p.values.get('ipvs-exclude-cidrs')).toEqual(['10.0.0.0/8', '10.1.0.0/16', '10.2.0.0/16']);
    expect(p.values.get('feature-gates')).toEqual({ A: false, B: false });
    expect(p.values.get('v')).toBe(5);
  });

  it('a boolean does not take the next argument; -- ends the flags', () => {
    expect(() => parseAgentCommandLine(['--masquerade-all', 'false'])).toThrow('"ipvsnet agent" does not take any arguments, got ["false"]');
    expect(parseAgentCommandLine(['--masquerade-all', '--', '']).positional).toEqual(['']);
  });

  it("a string flag takes the next argument even when it starts with '-' (pflag does)", () => {
    expect(parseAgentCommandLine(['--hostname-override', '-x']).values.get('hostname-override')).toBe('-x');
  });

  it('refuses with pflag\'s texts', () => {
    const err = (argv: string[]) => {
      try {
        parseAgentCommandLine(argv);
      } catch (e) {
        expect(e).toBeInstanceOf(FlagError);
        return (e as Error).message;
      }
      return 'accepted';
    };
    expect(err(['--ipvs-sheduler=rr'])).toBe('unknown flag: --ipvs-sheduler');
    expect(err(['-v'])).toBe("flag needs an argument: 'v' in -v");
    expect(err(['--conntrack-min=1_0'])).toBe('accepted');
    expect(err(['--conntrack-min=_10'])).toBe('invalid argument "_10" for "--conntrack-min" flag: strconv.ParseInt: parsing "_10": invalid syntax');
    expect(err(['--ipvs-sync-period=-1s'])).toBe('accepted'); // Go parses it; validation refuses it
  });
});

describe('precedence with --config (kube-proxy: the file wins; --hostname-override and the logging flags apply over it)', () => {
  const base = () => resolveKubeProxy(parseAgentCommandLine([`--config=${cfgFile}`]).values);
  const written = (argv: string[]) => {
    const kp = resolveKubeProxy(parseAgentCommandLine([`--config=${cfgFile}`, ...argv]).values);
    return { yaml: kubeProxyYaml(kp), ignored: (kp.notes.find((n) => n.msg.startsWith('Flags ignored'))?.kv['flags'] as string[] | undefined) ?? [] };
  };
  const plain = kubeProxyYaml(base());
  const LOGGING = new Set(['v', 'vmodule', 'logging-format', 'log-flush-frequency', 'log-text-split-stream', 'log-text-info-buffer-size', 'log-json-split-stream', 'log-json-info-buffer-size']);
  for (const f of HELP_FLAGS.filter((x) => !['help', 'version', 'config', 'write-config-to', 'cleanup', 'init-only', 'master'].includes(x.name))) {
    const applies = f.name === 'hostname-override' || LOGGING.has(f.name);
    it(`--${f.name}: ${applies ? 'applied over the file' : 'ignored, and named in one warning'}`, () => {
      const value = f.name === 'vmodule' ? 'x=1' : f.name === 'log-flush-frequency' ? '9s' : f.name === 'logging-format' ? 'json' : f.name === 'v' ? '7' : f.name === 'feature-gates' ? 'LoggingAlphaOptions=true' : f.name.endsWith('info-buffer-size') ? '1Ki' : VALUE_OF[f.name] ?? SAMPLE[f.type]![0]!;
      const argv = f.type === 'bool' ? [`--${f.name}=true`] : [`--${f.name}=${value}`];
      // the alpha logging options need their gate, which only the file can turn on with --config
      if (f.name.startsWith('log-') && f.name !== 'log-flush-frequency') return expect(() => written(argv)).toThrow(/Feature LoggingAlphaOptions is disabled/);
      const r = written(argv);
      if (applies) {
        expect(r.yaml, f.name).not.toBe(plain);
        expect(r.ignored).toEqual([]);
      } else {
        expect(r.yaml, f.name).toBe(plain);
        expect(r.ignored).toEqual([`--${f.name}`]);
      }
    });
  }
});

describe("the FLAG lines at -v=1 (cliflag.PrintFlags)", () => {
  it("print each value as pflag's String() does", async () => {
    const { flagValueText } = await import('../../../src/config/index.ts');
    const p = parseAgentCommandLine(['--ipvs-exclude-cidrs=10.0.0.0/8,10.1.0.0/16', '--feature-gates=B=true,A=false', '--ipvs-sync-period=90s', '--vmodule=a=1,b*=2', '--masquerade-all', '--bind-address=']);
    expect(flagValueText(p.values.get('ipvs-exclude-cidrs')!)).toBe('[10.0.0.0/8,10.1.0.0/16]');
    expect(flagValueText(p.values.get('feature-gates')!)).toBe('A=false,B=true');
    expect(flagValueText(p.values.get('ipvs-sync-period')!, 'duration')).toBe('1m30s');
    expect(flagValueText(p.values.get('vmodule')!)).toBe('a=1,b*=2');
    expect(flagValueText(p.values.get('masquerade-all')!)).toBe('true');
    expect(flagValueText(p.values.get('bind-address')!)).toBe('');
  });
});
