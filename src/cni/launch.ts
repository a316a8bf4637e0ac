// The standalone plugins' loader (bundled into build/cni/ipvsnet-cni-launch.cjs; the launchers in
// build/cni/node/ run `node ipvsnet-cni-launch.cjs BUNDLE MODE`): it runs the CommonJS bundle of the
// plugins (BUNDLE, build/cni/ipvsnet-cni.cjs) with a V8 code cache per CNI command.
//
// A standalone plugin is a process per ADD and per DEL, so compiling its code is a good part of its
// cost. Node's own compile cache (NODE_COMPILE_CACHE) keeps only what is compiled when the file is
// first compiled, the top level: the functions an ADD runs are compiled lazily in every process. This
// loader compiles the bundle with vm.Script and, after the first successful run of each command, stores
// V8's code cache as it is then (with every function that command compiled), so the next run of the
// same command starts with that code. The plugin itself runs as it would under `node BUNDLE MODE`: same code, same
// argv, same results, errors and exit codes.
//
// The cache (IPVSNET_COMPILE_CACHE, else .code-cache beside the bundle) holds code that runs as root:
// it is used only when its directory belongs to this user and no one else may write to it (it is made
// 0700, its files 0600). Its files are named after the command, Node's flags (a hash of execArgv), the
// bundle's size, mtime and inode and Node's version, so a rebuilt bundle or another Node never reads an
// old file, and runs with other flags (V8 rejects a cache made with other flags) keep files of their
// own instead of rewriting one file in turn. V8 also rejects a cache made by another V8, and the file is
// written again then. Writes go to a
// temporary file renamed into place, so concurrent plugins never read half a file. Any failure of the
// cache only means compiling without it.
import { closeSync, fstatSync, mkdirSync, openSync, readdirSync, readFileSync, readSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join, resolve } from 'node:path';
import { Script } from 'node:vm';
import { mark } from './trace.ts';

mark('loader');

const COMMANDS = new Set(['ADD', 'DEL', 'CHECK', 'GC', 'STATUS', 'VERSION']);

/** The cache directory, when it is safe to use: ours, 0700-like (made so when missing). */
function cacheDir(dir: string): string | undefined {
  try {
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    const st = statSync(dir);
    const uid = process.getuid?.() ?? -1;
    return st.isDirectory() && st.uid === uid && (st.mode & 0o022) === 0 ? dir : undefined;
  } catch {
    return undefined;
  }
}

function readAll(fd: number, size: number): Buffer {
  const buf = Buffer.allocUnsafe(size);
  let off = 0;
  while (off < size) {
    const n = readSync(fd, buf, off, size - off, off);
    if (n === 0) break;
    off += n;
  }
  return buf.subarray(0, off);
}

function tryRead(path: string): Buffer | undefined {
  try {
    return readFileSync(path);
  } catch {
    return undefined;
  }
}

/** FNV-1a, 32 bits, of Node's command-line flags: the part of V8's cache check a file name can carry */
function flagsHash(): string {
  let h = 0x811c9dc5;
  for (const c of Buffer.from(process.execArgv.join('\0'))) h = Math.imul(h ^ c, 0x01000193) >>> 0;
  return h.toString(16).padStart(8, '0');
}

const bundle = resolve(process.argv[2] ?? '');
// the plugin sees the argv of `node BUNDLE MODE ...`
process.argv.splice(1, 1);

const fd = openSync(bundle, 'r');
const st = fstatSync(fd);
const source = readAll(fd, st.size).toString('utf8');
closeSync(fd);

const command = process.env['CNI_COMMAND'] ?? '';
const dir = COMMANDS.has(command) ? cacheDir(process.env['IPVSNET_COMPILE_CACHE'] || join(dirname(bundle), '.code-cache')) : undefined;
const prefix = `${command}-${flagsHash()}-`;
const name = `${prefix}${st.size}-${Math.trunc(st.mtimeMs)}-${st.ino}-${process.version}-${process.arch}.v8cache`;
const file = dir && join(dir, name);
const cached = file ? tryRead(file) : undefined;

const script = new Script(`(function (exports, require, module, __filename, __dirname) {${source}\n})`, {
  filename: bundle,
  ...(cached ? { cachedData: cached } : {}),
});
if (file && (!cached || script.cachedDataRejected)) {
  // at exit (the plugin ends with process.exit), with everything this command compiled; only after a
  // success, which ran the command's whole path (an early error would leave a cache without it)
  process.once('exit', (code) => {
    if (code !== 0) return;
    const tmp = `${file}.${process.pid}.tmp`;
    try {
      writeFileSync(tmp, script.createCachedData(), { mode: 0o600 });
      renameSync(tmp, file);
      // this command's files (with these flags) for an earlier bundle or Node
      for (const f of readdirSync(dir!)) if (f.startsWith(prefix) && f.endsWith('.v8cache') && f !== name) rmSync(join(dir!, f), { force: true });
    } catch {
      rmSync(tmp, { force: true });
    }
  });
}
mark('compiled');
const mod = { exports: {} };
(script.runInThisContext() as (...a: unknown[]) => void)(mod.exports, createRequire(bundle), mod, bundle, dirname(bundle));
