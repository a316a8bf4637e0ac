// The one way the kernel adapters run external commands: execa with an
// argument array (never a shell), optional stdin, never throwing on a non-zero
// exit (the adapters turn exit codes into errors that name the object). Each
// run is counted so a sync can report how many processes it exec'd.

import { execa } from 'execa';

export interface CommandResult {
  exitCode: number;
  stdout: string;
  stderr: string;
  /** The command that was run (for error messages). */
  command: string;
  /** The binary was not found. */
  missing: boolean;
}

export type CommandRunner = (file: string, args: string[], input?: string) => Promise<CommandResult>;

export interface CountingRunner {
  run: CommandRunner;
  /** Processes exec'd since creation. */
  count(): number;
  /** Per-binary counts. */
  byCommand(): Record<string, number>;
}

export function createRunner(): CountingRunner {
  let n = 0;
  const per: Record<string, number> = {};
  const run: CommandRunner = async (file, args, input) => {
    n++;
    per[file] = (per[file] ?? 0) + 1;
    const command = [file, ...args].join(' ');
    const r = await execa(file, args, {
      reject: false,
      stripFinalNewline: false,
      maxBuffer: 1 << 30,
      ...(input !== undefined ? { input } : { stdin: 'ignore' as const }),
    });
    const missing = r.exitCode === undefined && /ENOENT/.test(String(r.message ?? r.stderr));
    return {
      exitCode: r.exitCode ?? (missing ? 127 : 1),
      stdout: typeof r.stdout === 'string' ? r.stdout : '',
      stderr: typeof r.stderr === 'string' ? r.stderr : String(r.message ?? ''),
      command,
      missing,
    };
  };
  return { run, count: () => n, byCommand: () => ({ ...per }) };
}
