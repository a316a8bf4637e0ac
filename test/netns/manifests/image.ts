// A static model of the image manifests/Dockerfile builds, for tests that cannot run Docker (this
// machine has only the client). It reads the Dockerfile and lays out each stage's file system from
// what the repository really holds (COPY sources, filtered by .dockerignore), from package-lock.json
// (npm ci) and from a table of the build steps (RUN) with the files each produces. Anything the model
// does not know (an instruction, a RUN line, a COPY source, a base image) is an error naming it, so
// a change to the Dockerfile that the model cannot follow fails the tests instead of passing them.
// The DaemonSet side (manifests/base/daemonset.yaml, JSON patch) is in pod-spec.ts.
import { existsSync, readFileSync, readdirSync, statSync } from 'node:fs';
import { join, posix } from 'node:path';

export const repoRoot = new URL('../../..', import.meta.url).pathname.replace(/\/$/, '');

// ---------------------------------------------------------------------------------------------
// Dockerfile

export interface Instruction {
  line: number;
  op: string;
  /** the text after the instruction word, continuation lines joined */
  rest: string;
}

/** Instructions with line numbers: comments dropped, backslash continuations joined. */
export function parseDockerfile(text: string): Instruction[] {
  const out: Instruction[] = [];
  const lines = text.split('\n');
  for (let i = 0; i < lines.length; i++) {
    const start = i;
    let l = lines[i]!;
    if (/^\s*(#|$)/.test(l)) continue;
    while (/\\\s*$/.test(l) && i + 1 < lines.length) {
      l = l.replace(/\\\s*$/, ' ');
      i++;
      const next = lines[i]!;
      if (/^\s*#/.test(next)) continue; // comment lines inside a continuation are dropped
      l += next;
    }
    const m = /^\s*(\w+)\s+(.*)$/.exec(l);
    if (!m) throw new Error(`Dockerfile:${start + 1}: cannot parse ${JSON.stringify(l)}`);
    out.push({ line: start + 1, op: m[1]!.toUpperCase(), rest: m[2]!.replace(/\s+/g, ' ').trim() });
  }
  return out;
}

/** The exec (JSON) form of ENTRYPOINT/CMD/RUN; the shell form is refused (it would run via /bin/sh -c). */
export function execForm(ins: Instruction): string[] {
  let v: unknown;
  try {
    v = JSON.parse(ins.rest);
  } catch {
    throw new Error(`Dockerfile:${ins.line}: ${ins.op} must use the exec form ["..."], got ${ins.rest}`);
  }
  if (!Array.isArray(v) || !v.every((s) => typeof s === 'string')) throw new Error(`Dockerfile:${ins.line}: ${ins.op}: not a list of strings`);
  return v as string[];
}

// ---------------------------------------------------------------------------------------------
// Image model

export type Origin =
  | { kind: 'context'; path: string } // a repository file (relative to the repository root)
  | { kind: 'npm'; pkg: string; dev: boolean } // a package directory npm ci installed (opaque)
  | { kind: 'npm-bin'; pkg: string; bin: string } // node_modules/.bin/<name>
  | { kind: 'step'; stage: string; step: string; path: string } // produced by a RUN build step
  | { kind: 'base'; image: string }; // provided by the base image

export interface Stage {
  name: string;
  index: number;
  base: string;
  workdir: string;
  /** absolute path in the stage → where it came from (files; directories are implied) */
  files: Map<string, Origin>;
  /** the RUN steps, in order, with what the model found */
  steps: StepRecord[];
  entrypoint?: string[];
  cmd?: string[];
  /** Debian packages installed by apt-get */
  aptPackages: string[];
}

export interface StepRecord {
  line: number;
  command: string;
  script?: string; // repository-relative script path for `bash <script>` steps
  args: string[];
  outputs: string[];
}

/** What the base images are known to provide (the commands the image's scripts and launcher use). */
export const BASE_IMAGES: Record<string, string[]> = {
  // buildpack-deps:bookworm underneath: bash, gcc (with libc6-dev's static libc.a), make, coreutils
  'node:24-bookworm': ['/usr/local/bin/node', '/usr/local/bin/npm', '/bin/sh', '/bin/bash', '/usr/bin/gcc', '/usr/bin/make', '/usr/bin/realpath', '/usr/lib/x86_64-linux-gnu/libc.a'],
  // debian:bookworm-slim underneath: dash as /bin/sh, coreutils, diffutils (cmp) are Essential
  'node:24-bookworm-slim': ['/usr/local/bin/node', '/usr/local/bin/npm', '/bin/sh', '/usr/bin/readlink', '/usr/bin/dirname', '/usr/bin/cp', '/usr/bin/mv', '/usr/bin/chmod', '/usr/bin/mkdir', '/usr/bin/cmp'],
};

interface StepSpec {
  /** outputs (absolute paths) from the script's repository root in the stage and its arguments */
  outputs(root: string, args: string[]): string[];
}

const abs = (root: string, p: string) => (p.startsWith('/') ? posix.normalize(p) : posix.join(root, p));

/**
 * The build scripts a RUN line may call, with the files each produces. The scripts `cd` to their
 * repository root, so relative arguments and outputs are relative to it. Kept honest by the tests:
 * manifests/cni/build-shims.sh is run for real by test/netns/manifests/dockerfile.test.ts and
 * compared with its entry; build/native/* and dist/* are what scripts/setup.d/10-native.sh and
 * 15-dist.sh leave in the repository (setup runs them; the test lays the image out from those files); build-sea.sh's four
 * files are the ones test/netns/cni/sea.test.ts copies out of its output directory.
 */
export const BUILD_STEPS: Record<string, StepSpec> = {
  'scripts/setup.d/10-native.sh': {
    outputs: (root) =>
      ['build/native/ipvsnet_native.node', 'build/cni/ipvsnet-cni.cjs', 'build/cni/ipvsnet-cni-launch.cjs', 'build/cni/ipvsnet-execa.cjs', 'build/cni/ipvsnet-multinet.mjs', 'build/cni/ipvsnet-bridge', 'build/cni/ipvsnet-ipam', 'build/cni/ipvsnet-multinet',
        'build/cni/node/ipvsnet-bridge', 'build/cni/node/ipvsnet-ipam', 'build/cni/node/ipvsnet-multinet', 'build/cni/node/flags'].map((p) => abs(root, p)),
  },
  'scripts/setup.d/15-dist.sh': {
    // src/ compiled to dist/: the files the script leaves in the repository (setup runs it).
    outputs: (root) => {
      const dist = join(repoRoot, 'dist');
      if (!existsSync(join(dist, '.built'))) throw new Error(`${dist}/.built missing: run scripts/setup.d/15-dist.sh`);
      const files = readdirSync(dist, { recursive: true, withFileTypes: true }).filter((e) => !e.isDirectory());
      return files.map((e) => abs(root, posix.join('dist', posix.relative(dist, join(e.parentPath, e.name)))));
    },
  },
  'scripts/cni/build-sea.sh': {
    outputs: (root, args) => {
      const out = abs(root, args[0] ?? 'build/sea');
      return [
        ...BUILD_STEPS['scripts/setup.d/10-native.sh']!.outputs(root, []),
        abs(root, 'build/sea/ipvsnet-cni.cjs'),
        ...['ipvsnet-bridge', 'ipvsnet-ipam', 'ipvsnet-multinet', 'ipvsnet_native.node'].map((f) => posix.join(out, f)),
      ];
    },
  },
  'manifests/cni/build-shims.sh': {
    outputs: (root, args) => {
      if (args.length < 2) throw new Error('manifests/cni/build-shims.sh needs OUTDIR FALLBACK_DIR [SOCKET]');
      return ['ipvsnet-bridge', 'ipvsnet-ipam', 'ipvsnet-multinet'].map((f) => posix.join(abs(root, args[0]!), f));
    },
  },
};

interface LockPackage {
  dev?: boolean;
  optional?: boolean;
  os?: string | string[];
  cpu?: string | string[];
  libc?: string | string[];
  bin?: Record<string, string> | string;
}

function matches(v: string | string[] | undefined, want: string): boolean {
  if (v === undefined) return true;
  const list = Array.isArray(v) ? v : [v];
  if (list.some((s) => s.startsWith('!'))) return !list.includes('!' + want);
  return list.includes(want);
}

/** Top-level packages npm ci installs on linux/x64 glibc (the image's platform). */
export function lockPackages(omitDev: boolean): Array<{ name: string; pkg: LockPackage }> {
  const lock = JSON.parse(readFileSync(join(repoRoot, 'package-lock.json'), 'utf8')) as { packages: Record<string, LockPackage> };
  const out: Array<{ name: string; pkg: LockPackage }> = [];
  for (const [key, pkg] of Object.entries(lock.packages)) {
    if (!key.startsWith('node_modules/')) continue;
    const name = key.slice('node_modules/'.length);
    if (name.includes('/node_modules/')) continue; // nested copies live inside their parent's directory
    if (omitDev && pkg.dev) continue;
    if (!matches(pkg.os, 'linux') || !matches(pkg.cpu, 'x64') || !matches(pkg.libc, 'glibc')) continue;
    out.push({ name, pkg });
  }
  return out;
}

/** .dockerignore: plain root-relative paths only (the test would have to learn globs and negation). */
export function dockerignore(): string[] {
  const p = join(repoRoot, '.dockerignore');
  if (!existsSync(p)) return [];
  const pats = readFileSync(p, 'utf8').split('\n').map((l) => l.trim()).filter((l) => l !== '' && !l.startsWith('#'));
  for (const pat of pats) if (/[*?[\]!]/.test(pat)) throw new Error(`.dockerignore: ${JSON.stringify(pat)}: the image model understands plain paths only`);
  return pats.map((s) => s.replace(/^\/+|\/+$/g, ''));
}

function ignored(rel: string, pats: string[]): boolean {
  return pats.some((p) => rel === p || rel.startsWith(p + '/'));
}

/** Files of the build context under `rel` (a file or a directory), .dockerignore applied. */
function contextFiles(rel: string, pats: string[]): string[] {
  const norm = posix.normalize(rel).replace(/^\.\/|\/$/g, '');
  if (norm.startsWith('..')) throw new Error(`COPY ${rel}: outside the build context`);
  const full = join(repoRoot, norm);
  if (!existsSync(full) || ignored(norm, pats)) return [];
  if (!statSync(full).isDirectory()) return [norm];
  const out: string[] = [];
  for (const e of readdirSync(full, { recursive: true, withFileTypes: true })) {
    if (e.isDirectory()) continue;
    const r = posix.relative(repoRoot, join(e.parentPath, e.name));
    if (!ignored(r, pats)) out.push(r);
  }
  return out.sort();
}

export interface Image {
  stages: Stage[];
  final: Stage;
  stage(name: string): Stage;
}

/** Does `path` exist in the stage (a file, a directory some file is under, or inside an installed package)? */
export function exists(stage: Stage, path: string): boolean {
  const p = posix.normalize(path).replace(/\/$/, '');
  if (stage.files.has(p)) return true;
  for (const [f, o] of stage.files) {
    if (f.startsWith(p + '/')) return true;
    // inside an npm package directory: the model keeps packages opaque; the host's install (same
    // lock, same platform) says what is inside
    if (o.kind === 'npm' && p.startsWith(f + '/')) return existsSync(join(repoRoot, 'node_modules', o.pkg, p.slice(f.length + 1)));
  }
  return false;
}

/** Files (and opaque package directories) at or under `path` in the stage. */
export function under(stage: Stage, path: string): Array<[string, Origin]> {
  const p = posix.normalize(path).replace(/\/$/, '');
  return [...stage.files].filter(([f]) => f === p || f.startsWith(p + '/'));
}

/** Repository-relative paths a build script names (`src/…`, `scripts/…`, `manifests/…`, `node_modules/…`, `bin/…`). */
export function pathsNamedIn(text: string): string[] {
  const t = text.replace(/\$\{?root\}?\//g, ' ');
  const re = /(?<![\w./$-])((?:src|scripts|manifests|node_modules|bin)\/[\w.@+/-]*[\w])/g;
  return [...new Set([...t.matchAll(re)].map((m) => m[1]!))].sort();
}

/** A script and, transitively, the .sh/.mjs scripts it names: every repository path they name. */
export function scriptReads(script: string): Map<string, string> {
  const seen = new Map<string, string>(); // path → the script that names it
  const queue = [script];
  const done = new Set<string>();
  while (queue.length) {
    const s = queue.shift()!;
    if (done.has(s)) continue;
    done.add(s);
    const text = readFileSync(join(repoRoot, s), 'utf8');
    for (const p of pathsNamedIn(text)) {
      if (!seen.has(p)) seen.set(p, s);
      if (/\.(sh|mjs)$/.test(p) && existsSync(join(repoRoot, p))) queue.push(p);
    }
  }
  return seen;
}

function splitWords(s: string): string[] {
  if (/["'`$|;<>&()]/.test(s.replace(/&&/g, ''))) throw new Error(`cannot split ${JSON.stringify(s)}: quoting, variables and redirections are beyond the model`);
  return s.split(' ').filter(Boolean);
}

/** Build the model from manifests/Dockerfile; throws on anything it cannot follow. */
export function buildImage(dockerfile = readFileSync(join(repoRoot, 'manifests', 'Dockerfile'), 'utf8')): Image {
  const pats = dockerignore();
  const stages: Stage[] = [];
  let cur: Stage | undefined;
  const byName = (n: string) => {
    const s = stages.find((x) => x.name === n) ?? (/^\d+$/.test(n) ? stages[Number(n)] : undefined);
    if (!s) throw new Error(`no stage ${JSON.stringify(n)}`);
    return s;
  };
  for (const ins of parseDockerfile(dockerfile)) {
    const at = `Dockerfile:${ins.line}: ${ins.op}`;
    if (ins.op === 'FROM') {
      const m = /^(\S+)(?:\s+AS\s+(\S+))?$/i.exec(ins.rest);
      if (!m) throw new Error(`${at}: cannot parse ${ins.rest}`);
      const base = m[1]!;
      const files = new Map<string, Origin>();
      const fromStage = stages.find((s) => s.name === base);
      if (fromStage) for (const [k, v] of fromStage.files) files.set(k, v);
      else {
        const provided = BASE_IMAGES[base];
        if (!provided) throw new Error(`${at}: base image ${base} unknown to the model (add what it provides to BASE_IMAGES)`);
        for (const p of provided) files.set(p, { kind: 'base', image: base });
      }
      cur = { name: m[2] ?? String(stages.length), index: stages.length, base, workdir: '/', files, steps: [], aptPackages: [] };
      stages.push(cur);
      continue;
    }
    if (!cur) throw new Error(`${at}: before any FROM`);
    const st = cur;
    switch (ins.op) {
      case 'WORKDIR':
        st.workdir = abs(st.workdir, ins.rest);
        break;
      case 'COPY': {
        const words = ins.rest.split(' ');
        let from: Stage | undefined;
        while (words[0]?.startsWith('--')) {
          const flag = words.shift()!;
          const fm = /^--from=(.+)$/.exec(flag);
          if (fm) from = byName(fm[1]!);
          else if (!/^--(chmod|chown|link)=?/.test(flag)) throw new Error(`${at}: flag ${flag} unknown to the model`);
        }
        if (words.length < 2) throw new Error(`${at}: needs a source and a destination`);
        if (ins.rest.startsWith('[')) throw new Error(`${at}: the JSON form is beyond the model`);
        const destRaw = words.pop()!;
        const dest = abs(st.workdir, destRaw);
        const destIsDir = destRaw.endsWith('/') || words.length > 1;
        for (const src of words) {
          if (/[*?[]/.test(src)) throw new Error(`${at}: wildcard ${src} is beyond the model`);
          let entries: Array<[string, Origin]>; // [path relative to the source, origin]
          let srcIsDir: boolean;
          if (from) {
            const p = abs('/', src);
            const found = under(from, p);
            if (found.length === 0) throw new Error(`${at}: ${src} is not in stage ${from.name} (no COPY or build step there produces it)`);
            srcIsDir = !(found.length === 1 && found[0]![0] === p);
            entries = found.map(([f, o]) => [srcIsDir ? f.slice(p.length + 1) : posix.basename(f), o]);
          } else {
            const files = contextFiles(src, pats);
            if (files.length === 0) throw new Error(`${at}: ${src} is not in the build context (missing from the repository, or excluded by .dockerignore)`);
            const norm = posix.normalize(src).replace(/^\.\/|\/$/g, '');
            srcIsDir = !(files.length === 1 && files[0] === norm);
            entries = files.map((f) => [srcIsDir ? (norm === '.' ? f : f.slice(norm.length + 1)) : posix.basename(f), { kind: 'context', path: f }]);
          }
          for (const [rel, o] of entries) {
            const target = srcIsDir || destIsDir ? posix.join(dest, rel) : dest;
            st.files.set(target, o);
          }
        }
        break;
      }
      case 'RUN': {
        if (ins.rest.startsWith('[')) throw new Error(`${at}: the exec form is beyond the model`);
        const cmd = ins.rest;
        const rec: StepRecord = { line: ins.line, command: cmd, args: [], outputs: [] };
        if (/^npm ci\b/.test(cmd)) {
          const words = splitWords(cmd);
          const omitDev = words.includes('--omit=dev');
          for (const w of words.slice(2)) if (!['--omit=dev', '--no-fund', '--no-audit'].includes(w)) throw new Error(`${at}: npm ci option ${w} unknown to the model`);
          if (!exists(st, '/usr/local/bin/npm')) throw new Error(`${at}: no npm in stage ${st.name}`);
          for (const f of ['package.json', 'package-lock.json']) if (!exists(st, posix.join(st.workdir, f))) throw new Error(`${at}: npm ci needs ${f} in ${st.workdir}`);
          for (const { name, pkg } of lockPackages(omitDev)) {
            const dir = posix.join(st.workdir, 'node_modules', name);
            st.files.set(dir, { kind: 'npm', pkg: name, dev: pkg.dev === true });
            rec.outputs.push(dir);
            const bins = typeof pkg.bin === 'string' ? { [name.split('/').pop()!]: pkg.bin } : (pkg.bin ?? {});
            for (const b of Object.keys(bins)) {
              const p = posix.join(st.workdir, 'node_modules/.bin', b);
              st.files.set(p, { kind: 'npm-bin', pkg: name, bin: b });
              rec.outputs.push(p);
            }
          }
        } else if (/^apt-get update && apt-get install /.test(cmd)) {
          const m = /apt-get install -y --no-install-recommends ((?:[\w.+-]+ ?)+?)(?: && rm -rf \/var\/lib\/apt\/lists\/\*)?$/.exec(cmd);
          if (!m) throw new Error(`${at}: apt-get line beyond the model: ${cmd}`);
          st.aptPackages.push(...m[1]!.trim().split(' '));
        } else if (/^bash /.test(cmd)) {
          if (!exists(st, '/bin/bash')) throw new Error(`${at}: no bash in stage ${st.name}`);
          const [, script, ...args] = splitWords(cmd);
          const scriptAbs = abs(st.workdir, script!);
          const key = Object.keys(BUILD_STEPS).find((k) => scriptAbs.endsWith('/' + k));
          if (!key) throw new Error(`${at}: ${script} is not a build step the model knows (add it and its outputs to BUILD_STEPS)`);
          if (!existsSync(join(repoRoot, key))) throw new Error(`${at}: ${key} does not exist in the repository`);
          if (!exists(st, scriptAbs)) throw new Error(`${at}: ${script} is not in stage ${st.name} at this point (COPY it first)`);
          const root = scriptAbs.slice(0, -key.length - 1) || '/';
          // everything the script (and the scripts it calls) names must be in the stage already
          for (const [p, by] of scriptReads(key)) {
            if (!exists(st, posix.join(root, p))) throw new Error(`${at}: ${by} uses ${p}, which is not in stage ${st.name} at this point (COPY it, or install it, before this RUN)`);
          }
          rec.script = key;
          rec.args = args;
          rec.outputs = BUILD_STEPS[key]!.outputs(root, args);
          for (const o of rec.outputs) st.files.set(o, { kind: 'step', stage: st.name, step: key, path: o });
        } else {
          throw new Error(`${at}: ${JSON.stringify(cmd)} is beyond the model (known: npm ci, apt-get install, bash <build step>)`);
        }
        st.steps.push(rec);
        break;
      }
      case 'ENTRYPOINT':
        st.entrypoint = execForm(ins);
        break;
      case 'CMD':
        st.cmd = execForm(ins);
        break;
      case 'LABEL':
      case 'EXPOSE':
      case 'STOPSIGNAL':
        break;
      default:
        throw new Error(`${at}: instruction unknown to the image model`);
    }
  }
  if (stages.length === 0) throw new Error('Dockerfile: no FROM');
  return { stages, final: stages[stages.length - 1]!, stage: byName };
}
