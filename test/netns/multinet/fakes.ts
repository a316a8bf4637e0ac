// Fake CNI delegates for the conformance tests: one shell script, installed under any plugin name,
// that records each call (argv, the whole environment, stdin) and answers as the test told it
// (files under behave/: <type>.<COMMAND>.out is printed, .exit is the exit code, .sleep seconds
// to wait first). Without instructions, ADD answers a result in the config's own cniVersion (with
// ips[].version below 1.0.0, as real plugins do) and the rest answer nothing, exit 0.
import { chmodSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

const SCRIPT = `#!/bin/sh
d=$(dirname "$0"); t=$(basename "$0"); log="$d/log"
n=$(ls "$log" | wc -l); seq=$(printf %04d $((n / 3)))
base="$log/$seq-$$-$t-$CNI_COMMAND"
printf '%s\\n' "$0" "$@" > "$base.argv"
env | sort > "$base.env"
cat > "$base.stdin"
b="$d/behave/$t.$CNI_COMMAND"
if [ -f "$b.sleep" ]; then sleep "$(cat "$b.sleep")" & echo $! > "$d/sleeping.pid"; wait $!; fi
if [ -f "$b.out" ]; then cat "$b.out"
elif [ "$CNI_COMMAND" = ADD ]; then
  v=$(grep -o '"cniVersion":"[^"]*"' "$base.stdin" | head -1 | cut -d'"' -f4)
  case "$v" in 0.*) ver='"version":"4",' ;; *) ver='' ;; esac
  printf '{"cniVersion":"%s","interfaces":[{"name":"%s","mac":"0a:00:00:00:00:01","sandbox":"%s"}],"ips":[{%s"address":"10.99.0.7/24","gateway":"10.99.0.1","interface":0}],"routes":[{"dst":"0.0.0.0/0","gw":"10.99.0.1"}],"dns":{}}\\n' "$v" "$CNI_IFNAME" "$CNI_NETNS" "$ver"
fi
[ -f "$b.exit" ] && exit "$(cat "$b.exit")"
exit 0
`;

export interface Call {
  seq: number;
  type: string;
  command: string;
  env: Record<string, string>;
  stdin: string;
  conf: Record<string, unknown>;
}

export class Fakes {
  readonly dir: string;
  constructor(dir: string, types: string[]) {
    this.dir = dir;
    mkdirSync(join(dir, 'log'), { recursive: true });
    mkdirSync(join(dir, 'behave'), { recursive: true });
    for (const t of types) {
      writeFileSync(join(dir, t), SCRIPT);
      chmodSync(join(dir, t), 0o755);
    }
  }

  /** tell plugin `type` how to answer `command` */
  behave(type: string, command: string, b: { out?: string | object; exit?: number; sleep?: number }): void {
    const p = join(this.dir, 'behave', `${type}.${command}`);
    if (b.out !== undefined) writeFileSync(`${p}.out`, typeof b.out === 'string' ? b.out : JSON.stringify(b.out));
    if (b.exit !== undefined) writeFileSync(`${p}.exit`, String(b.exit));
    if (b.sleep !== undefined) writeFileSync(`${p}.sleep`, String(b.sleep));
  }

  /** forget every instruction and every recorded call */
  reset(): void {
    for (const sub of ['log', 'behave']) {
      rmSync(join(this.dir, sub), { recursive: true, force: true });
      mkdirSync(join(this.dir, sub));
    }
  }

  calls(): Call[] {
    const log = join(this.dir, 'log');
    const names = readdirSync(log);
    // a call is recorded once its stdin is (a fake still writing its record is not listed yet)
    return names.filter((n) => n.endsWith('.env') && names.includes(`${n.slice(0, -4)}.stdin`)).sort().map((n) => {
      const base = n.slice(0, -4);
      const [seq, _pid, ...rest] = base.split('-'); // the pid keeps two fakes running at once apart
      const command = rest.pop()!;
      const env = Object.fromEntries(readFileSync(join(log, n), 'utf8').split('\n').filter(Boolean).map((l) => [l.slice(0, l.indexOf('=')), l.slice(l.indexOf('=') + 1)]));
      const stdin = readFileSync(join(log, `${base}.stdin`), 'utf8');
      let conf: Record<string, unknown> = {};
      try {
        conf = JSON.parse(stdin) as Record<string, unknown>;
      } catch {
        /* kept as text */
      }
      return { seq: Number(seq), type: rest.join('-'), command, env, stdin, conf };
    });
  }

  /** the pid of the `sleep` a fake started (told to sleep), to end it by its id */
  sleeper(): number | undefined {
    try {
      return Number(readFileSync(join(this.dir, 'sleeping.pid'), 'utf8').trim()) || undefined;
    } catch {
      return undefined;
    }
  }

  /** "type COMMAND ifname" per call, in order */
  trace(): string[] {
    return this.calls().map((c) => `${c.type} ${c.command} ${c.env['CNI_IFNAME'] ?? '-'}`);
  }
}
