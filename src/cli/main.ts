// ipvsnet command-line entry point. Each subcommand lives in its own module
// exporting `run(argv: string[]): Promise<number>` (the process exit code), so
// a subcommand's dependencies load only when it is used.

// First, before any command's modules load: keep client-node's generated API out of memory.
import '../sources/client-node-lite.ts';

type Command = { run: (argv: string[]) => Promise<number> };
// Literal import() calls (not a computed path), so a bundler can split each command into its own chunk.
const commands: Record<string, { load: () => Promise<Command>; summary: string }> = {
  plan: { load: () => import('./plan.ts'), summary: 'print the iptables/ipset/ipvsadm/json payloads for a node, without touching the kernel' },
  apply: { load: () => import('./apply.ts'), summary: 'reconcile the kernel once to the plan for manifests on disk' },
  cleanup: { load: () => import('./cleanup.ts'), summary: 'remove everything ipvsnet owns (and nothing else)' },
  agent: { load: () => import('./agent.ts'), summary: 'run the node agent (kube-proxy compatible flags)' },
};

function usage(): string {
  const lines = ['usage: ipvsnet <command> [flags]', '', 'commands:'];
  for (const [name, c] of Object.entries(commands)) lines.push(`  ${name.padEnd(8)} ${c.summary}`);
  lines.push('', "run 'ipvsnet <command> --help' for a command's flags");
  return lines.join('\n');
}

export async function main(argv: string[]): Promise<number> {
  const [name, ...rest] = argv;
  if (name === undefined || name === '--help' || name === '-h' || name === 'help') {
    process.stdout.write(usage() + '\n');
    return name === undefined ? 2 : 0;
  }
  const cmd = commands[name];
  if (!cmd) {
    process.stderr.write(`ipvsnet: unknown command ${JSON.stringify(name)}\n${usage()}\n`);
    return 2;
  }
  const mod = await cmd.load();
  return mod.run(rest);
}

if (import.meta.main) {
  main(process.argv.slice(2)).then(
    (code) => { process.exitCode = code; },
    (err: unknown) => {
      process.stderr.write(`ipvsnet: ${err instanceof Error ? err.message : String(err)}\n`);
      process.exitCode = 70;
    },
  );
}
