// Runs kube-proxy v1.37.2 itself on every case of test/fixtures/kube-proxy/cases.input.json (a command
// line, and a --config file where the case has one: "@" in the arguments is its path) with
// --write-config-to, and records what it did into test/fixtures/kube-proxy/cases.json: the exit code,
// the error it printed (pflag's "Error: …" or the err of "command failed"), the lenient-decoding
// warning, deprecation notices and the configuration it wrote. test/unit/config/kube-proxy-cases.test.ts
// holds ipvsnet to the same answers.
//   node scripts/kube-proxy/run-cases.ts [path-to-kube-proxy]
import { execa } from 'execa';
import { mkdtempSync, readFileSync, rmSync, writeFileSync, existsSync } from 'node:fs';
import { tmpdir, homedir } from 'node:os';
import { join, resolve } from 'node:path';

const root = resolve(import.meta.dirname, '../..');
const kp = process.argv[2] ?? join(homedir(), '.cache/ipvsnet/kube-proxy-v1.37.2');
if (!existsSync(kp)) throw new Error(`${kp} missing: run scripts/kube-proxy/inventory.sh first`);
interface Case { name: string; args: string[]; config?: string }
const cases = JSON.parse(readFileSync(join(root, 'test/fixtures/kube-proxy/cases.input.json'), 'utf8')) as Case[];

/** Go's strconv.Unquote of a klog-quoted value. */
const unquote = (s: string): string => JSON.parse(s.replace(/\\x([0-9a-f]{2})/g, '\\u00$1')) as string;

const out = [];
for (const c of cases) {
  const dir = mkdtempSync(join(tmpdir(), 'ipvsnet-kp-case-'));
  try {
    const cfgPath = join(dir, 'config.yaml');
    if (c.config !== undefined) writeFileSync(cfgPath, c.config);
    const outPath = join(dir, 'out.yaml');
    const args = c.args.map((a) => a.replace(/=@$/, `=${cfgPath}`));
    const r = await execa(kp, [`--write-config-to=${outPath}`, ...args], { reject: false, timeout: 30_000, env: { HOME: dir } });
    const lines = String(r.stderr).split('\n');
    const flagError = lines.find((l) => l.startsWith('Error: '))?.slice('Error: '.length);
    const failed = lines.map((l) => /"command failed" err=(".*")$/.exec(l)).find(Boolean);
    const lenient = lines.map((l) => /"Using lenient decoding as strict decoding failed" err=(".*")$/.exec(l)).find(Boolean);
    const notices = lines.filter((l) => l.startsWith('Flag --'));
    out.push({
      name: c.name,
      args: c.args,
      ...(c.config !== undefined ? { config: c.config } : {}),
      exitCode: r.exitCode,
      ...(flagError !== undefined ? { flagError } : {}),
      ...(failed ? { error: unquote(failed[1]!) } : {}),
      ...(lenient ? { lenientWarning: unquote(lenient[1]!) } : {}),
      ...(notices.length ? { notices } : {}),
      ...(existsSync(outPath) ? { written: readFileSync(outPath, 'utf8') } : {}),
    });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
writeFileSync(join(root, 'test/fixtures/kube-proxy/cases.json'), JSON.stringify(out, null, 1) + '\n');
process.stderr.write(`run-cases: ${out.length} cases, ${out.filter((o) => o.exitCode !== 0).length} refused by kube-proxy\n`);
