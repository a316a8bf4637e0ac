// The module hook that keeps client-node's generated API out of the agent (src/sources/client-node-lite.ts).
// Each case runs in a fresh Node process: the hook is per process and must be in place before
// client-node's config.js loads.
import { describe, it, expect } from 'vitest';
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '../../..');
const node = join(root, 'node_modules/.bin/node');

/** Runs an ES module body in a child Node with the project's root as cwd; returns its stdout as JSON. */
function child(body: string): any {
  const out = execFileSync(node, ['--disable-warning=ExperimentalWarning', '--input-type=module', '-e', body], { cwd: root, encoding: 'utf8' });
  return JSON.parse(out.trim().split('\n').at(-1)!);
}

// Records every module URL the process resolves (registered after the lite hook, so it runs first and
// sees the final URL that the lite hook chose).
const RECORD = `
import { registerHooks } from 'node:module';
const seen = [];
const record = () => registerHooks({ resolve(s, c, next) { const r = next(s, c); seen.push(r.url); return r; } });
`;

describe('client-node-lite', () => {
  it("client-node's config.js still imports exactly createConfiguration and ServerConfiguration from its generated API", () => {
    const require = createRequire(import.meta.url);
    const pkgDir = dirname(require.resolve('@kubernetes/client-node/package.json'));
    const src = readFileSync(join(pkgDir, 'dist/config.js'), 'utf8');
    const imports = [...src.matchAll(/import\s*\{([^}]*)\}\s*from\s*'\.\/gen\/index\.js'/g)];
    expect(imports).toHaveLength(1);
    const names = imports[0]![1]!.split(',').map((n) => n.trim()).filter(Boolean).sort();
    expect(names).toEqual(['ServerConfiguration', 'createConfiguration']);
    // …and uses them in makeApiClient only.
    const uses = src.split('\n').filter((l) => /\b(createConfiguration|ServerConfiguration)\b/.test(l) && !/^import/.test(l.trim()) && !/^\}?\s*from /.test(l.trim()));
    expect(uses.length).toBeGreaterThan(0);
    const body = src.slice(src.indexOf('makeApiClient('));
    const end = body.indexOf('\n    }\n');
    for (const l of uses) expect(body.slice(0, end)).toContain(l);
  });

  it("with the hook, the agent's whole module graph loads none of the generated models or API classes", () => {
    const r = child(`${RECORD}
      await import('./src/sources/client-node-lite.ts');
      record();
      await import('./src/agent/agent.ts');
      await import('./src/agent/cluster.ts');
      await import('./src/cli/agent.ts');
      const gen = seen.filter((u) => u.includes('/@kubernetes/client-node/dist/gen/'));
      console.log(JSON.stringify({ gen: [...new Set(gen.map((u) => u.replace(/.*\\/dist\\/gen\\//, '')))], lite: seen.some((u) => u.endsWith('/client-node-gen-lite.ts')) }));
    `);
    expect(r.lite).toBe(true);
    // Only the HTTP request context Watch and kubeRequest use (and what it imports) may load.
    for (const m of r.gen as string[]) expect(m).toMatch(/^(http\/|rxjsStub\.js$)/);
  }, 60_000); // a child process loading the module graph; a bound for a loaded 2-core machine, not a speed check

  it('without the hook the same graph loads the generated models (so the check above can fail)', () => {
    const r = child(`${RECORD}
      record();
      await import('./src/agent/cluster.ts');
      console.log(JSON.stringify({ models: seen.filter((u) => u.includes('/dist/gen/models/')).length }));
    `);
    expect(r.models).toBeGreaterThan(100);
  }, 60_000); // a child process loading the module graph; a bound for a loaded 2-core machine, not a speed check

  it('KubeConfig still loads and authenticates requests; makeApiClient fails with a clear message', () => {
    const r = child(`
      await import('./src/sources/client-node-lite.ts');
      const { KubeConfig } = await import('@kubernetes/client-node/dist/config.js');
      const { RequestContext, HttpMethod } = await import('@kubernetes/client-node/dist/gen/http/http.js');
      const kc = new KubeConfig();
      kc.loadFromOptions({
        clusters: [{ name: 'c', server: 'https://127.0.0.1:6443', skipTLSVerify: false }],
        users: [{ name: 'u', token: 'sekret' }],
        contexts: [{ name: 'x', cluster: 'c', user: 'u' }],
        currentContext: 'x',
      });
      const ctx = new RequestContext('https://127.0.0.1:6443/api', HttpMethod.GET);
      await kc.applySecurityAuthentication(ctx);
      let err = '';
      try { kc.makeApiClient(class {}); } catch (e) { err = e.message; }
      console.log(JSON.stringify({ auth: ctx.getHeaders()['Authorization'] ?? ctx.getHeaders()['authorization'], err }));
    `);
    expect(r.auth).toBe('Bearer sekret');
    expect(r.err).toMatch(/makeApiClient is not available in ipvsnet/);
  });

  it("config.js still imports from its optional modules exactly the names client-node-optional.ts stands in for", async () => {
    const require = createRequire(import.meta.url);
    const pkgDir = dirname(require.resolve('@kubernetes/client-node/package.json'));
    const src = readFileSync(join(pkgDir, 'dist/config.js'), 'utf8');
    const { OPTIONAL_SPECIFIERS } = await import('../../../src/sources/client-node-lite.ts');
    const optional = await import('../../../src/sources/client-node-optional.ts');
    const imported = new Map<string, string[]>();
    for (const m of src.matchAll(/import\s*\{([^}]*)\}\s*from\s*'([^']+)'/g)) {
      imported.set(m[2]!, m[1]!.split(',').map((n) => n.trim().split(/\s+as\s+/)[0]!).filter(Boolean));
    }
    for (const spec of OPTIONAL_SPECIFIERS) {
      const names = imported.get(spec);
      expect(names, `config.js imports from ${spec}`).toBeDefined();
      for (const n of names!) expect(Object.keys(optional), `${spec}: ${n}`).toContain(n);
    }
    // SocksClient is used for createConnection only
    const socksUses = src.split('\n').filter((l) => /SocksClient\./.test(l)).map((l) => /SocksClient\.(\w+)/.exec(l)![1]);
    expect(new Set(socksUses)).toEqual(new Set(['createConnection']));
  });

  it("with the hook, the agent's module graph loads no auth provider or proxy agent; a kubeconfig that names one gets the real one", () => {
    const r = child(`${RECORD}
      await import('./src/sources/client-node-lite.ts');
      record();
      await import('./src/cli/agent.ts');
      const heavy = (u) => /\\/node_modules\\/(openid-client|jose|oauth4webapi|jsonpath-plus|socks|socks-proxy-agent|hpagent|undici)\\/|\\/client-node\\/dist\\/(oidc|azure|gcp)_auth\\.js$/.test(u);
      const before = [...new Set(seen.filter(heavy))];
      const { KubeConfig } = await import('@kubernetes/client-node/dist/config.js');
      const { RequestContext, HttpMethod } = await import('@kubernetes/client-node/dist/gen/http/http.js');
      const kc = new KubeConfig();
      kc.loadFromOptions({
        clusters: [{ name: 'c', server: 'https://127.0.0.1:6443', skipTLSVerify: false, proxyUrl: 'http://127.0.0.1:3128' }],
        users: [{ name: 'u', authProvider: { name: 'gcp', config: { 'access-token': 'gcp-token', expiry: '2999-01-01T00:00:00Z' } } }],
        contexts: [{ name: 'x', cluster: 'c', user: 'u' }],
        currentContext: 'x',
      });
      const ctx = new RequestContext('https://127.0.0.1:6443/api', HttpMethod.GET);
      await kc.applySecurityAuthentication(ctx);
      const opts = {};
      await kc.applyToHTTPSOptions(opts);
      const { HttpsProxyAgent } = await import('hpagent');
      console.log(JSON.stringify({ before, after: [...new Set(seen.filter(heavy))].map((u) => u.replace(/.*\\/node_modules\\//, '')),
        auth: ctx.getHeaders()['Authorization'] ?? ctx.getHeaders()['authorization'], proxy: opts.agent instanceof HttpsProxyAgent, proxyUrl: String(opts.agent?.proxy ?? '') }));
    `);
    expect(r.before).toEqual([]);
    expect(r.auth).toBe('Bearer gcp-token');
    expect(r.after).toEqual(expect.arrayContaining(['@kubernetes/client-node/dist/gcp_auth.js']));
    expect(r.after.some((u: string) => u.startsWith('hpagent/'))).toBe(true);
    expect(r.after.some((u: string) => u.startsWith('undici/'))).toBe(true);
    expect(r.proxy).toBe(true);
    expect(r.proxyUrl).toMatch(/127\.0\.0\.1:3128/);
  }, 60_000); // a child process loading the module graph; a bound for a loaded 2-core machine, not a speed check

  it('the CLI entry point installs the hook before any command loads', () => {
    const main = readFileSync(join(root, 'src/cli/main.ts'), 'utf8');
    const firstImport = main.split('\n').find((l) => /^import\s/.test(l));
    expect(firstImport).toBe("import '../sources/client-node-lite.ts';");
    // Commands load with import() only, so nothing reaches config.js before the hook.
    expect(main).not.toMatch(/^import .* from '\.\/(plan|apply|cleanup|agent)\.ts'/m);
  });
});
