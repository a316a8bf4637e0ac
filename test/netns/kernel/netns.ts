// Fresh network namespaces for the host netns lane, and a command runner that
// runs each command inside one (`ip netns exec NS …`), counted like the real one.
import { execa } from 'execa';
import type { CommandRunner, CountingRunner } from '../../../src/kernel/exec.ts';

let seq = 0;
export async function createNetns(prefix: string): Promise<string> {
  const name = `${prefix}-${process.pid}-${seq++}`;
  await execa('ip', ['netns', 'add', name]);
  return name;
}

export async function deleteNetns(name: string): Promise<void> {
  await execa('ip', ['netns', 'del', name], { reject: false });
}

export async function inNs(ns: string, cmd: string, ...args: string[]): Promise<string> {
  const r = await execa('ip', ['netns', 'exec', ns, cmd, ...args], { reject: false });
  if (r.exitCode !== 0) throw new Error(`${cmd} ${args.join(' ')} in ${ns}: ${r.stderr}`);
  return r.stdout;
}

export function nsRunner(ns: string): CountingRunner {
  let n = 0;
  const per: Record<string, number> = {};
  const run: CommandRunner = async (file, args, input) => {
    n++;
    per[file] = (per[file] ?? 0) + 1;
    const r = await execa('ip', ['netns', 'exec', ns, file, ...args], {
      reject: false, stripFinalNewline: false,
      ...(input !== undefined ? { input } : { stdin: 'ignore' as const }),
    });
    const missing = /exec of ".*" failed: No such file/.test(String(r.stderr));
    return { exitCode: r.exitCode ?? 1, stdout: String(r.stdout ?? ''), stderr: String(r.stderr ?? ''), command: [file, ...args].join(' '), missing };
  };
  return { run, count: () => n, byCommand: () => ({ ...per }) };
}
