// Command-line numbers for the benchmark scripts: `--name N`.

/** The positive integer after `--name`, or `def` when the flag is absent; throws naming the flag otherwise. */
export function intArg(name: string, def: number): number {
  const i = process.argv.indexOf(`--${name}`);
  if (i < 0) return def;
  const v = Number(process.argv[i + 1]);
  if (!Number.isInteger(v) || v <= 0) throw new Error(`--${name} needs a positive integer`);
  return v;
}
