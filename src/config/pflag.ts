// Command-line parsing with the semantics of spf13/pflag as kube-proxy's cobra command sets it up:
// `--name=value`, `--name value`, booleans as `--name` or `--name=<strconv.ParseBool>`, shorthands
// (`-v=4`, `-v 4`, `-v4`), `--` ends the flags, `_` in a name is read as `-` (WordSepNormalizeFunc),
// a repeated list flag appends (the first use replaces the default), a repeated map flag merges.
// Errors carry pflag's and the flag values' own texts ("unknown flag: --x", `invalid argument "yes"
// for "--masquerade-all" flag: strconv.ParseBool: parsing "yes": invalid syntax`).

import { parseIP } from '../net/index.ts';
import { formatGoDuration, goQuote, parseBool, parseFloat32, parseGoDuration, parseInt0, parseQuantity } from './gostrconv.ts';

export type FlagType =
  | 'bool' | 'string' | 'int32' | 'float32' | 'duration' | 'strings' | 'mapStringBool' | 'ip' | 'ipport'
  | 'ProxyMode' | 'LocalMode' | 'Level' | 'pattern=N,...' | 'quantity' | 'version';

export interface FlagDef {
  name: string;
  type: FlagType;
  shorthand?: string;
  /** pflag's MarkDeprecated message: the flag works, hidden from --help, a notice on use. */
  deprecated?: string;
}

export interface VModuleItem { filePattern: string; verbosity: number }
export type FlagValue = boolean | string | number | string[] | Record<string, boolean> | VModuleItem[] | null;

export interface ParsedFlags {
  /** Flags given on the command line (pflag's Changed), with their final values. */
  values: Map<string, FlagValue>;
  positional: string[];
  /** "Flag --x has been deprecated, …" lines, in order of use (pflag prints them to stderr). */
  notices: string[];
}

/** pflag's Value.String() of a parsed value (what kube-proxy's `FLAG: --x="…"` lines show). */
export function flagValueText(v: FlagValue, type?: FlagType): string {
  if (v === null) return '';
  if (type === 'duration' && typeof v === 'number') return formatGoDuration(v);
  if (Array.isArray(v)) return v.length && typeof v[0] === 'object' ? (v as VModuleItem[]).map((i) => `${i.filePattern}=${i.verbosity}`).join(',') : `[${(v as string[]).join(',')}]`;
  if (typeof v === 'object') return Object.keys(v).sort().map((k) => `${k}=${v[k]}`).join(',');
  return String(v);
}

/** A command line pflag refuses; the message is pflag's (without cobra's "Error: " prefix). */
export class FlagError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'FlagError';
  }
}

/** Go's encoding/csv reading of one line, as pflag's StringSlice does. */
export function readCSV(s: string): string[] {
  if (s === '') return [];
  const out: string[] = [];
  let i = 0;
  while (i <= s.length) {
    if (s[i] === '"') {
      let v = '';
      i++;
      for (;;) {
        if (i >= s.length) throw new Error(`parse error on line 1, column ${s.length + 1}: extraneous or missing " in quoted-field`);
        if (s[i] === '"') {
          if (s[i + 1] === '"') { v += '"'; i += 2; continue; }
          i++;
          break;
        }
        v += s[i++];
      }
      if (i < s.length && s[i] !== ',') throw new Error(`parse error on line 1, column ${i + 1}: extraneous or missing " in quoted-field`);
      out.push(v);
      i++;
    } else {
      const end = s.indexOf(',', i);
      const field = end < 0 ? s.slice(i) : s.slice(i, end);
      if (field.includes('"')) throw new Error(`parse error on line 1, column ${i + field.indexOf('"') + 1}: bare " in non-quoted-field`);
      out.push(field);
      if (end < 0) break;
      i = end + 1;
      if (i === s.length) { out.push(''); break; }
    }
  }
  return out;
}

/** Go's net.SplitHostPort: [host]:port or host:port with exactly one colon. */
export function splitHostPort(s: string): { host: string; port: string } | string {
  const missing = `address ${s}: missing port in address`;
  const last = s.lastIndexOf(':');
  if (last < 0) return missing;
  if (s.startsWith('[')) {
    const end = s.indexOf(']');
    if (end < 0) return `address ${s}: missing ']' in address`;
    if (end + 1 === s.length) return missing;
    if (end + 1 !== last) return `address ${s}: too many colons in address`;
    return { host: s.slice(1, end), port: s.slice(last + 1) };
  }
  const host = s.slice(0, last);
  if (host.includes(':')) return `address ${s}: too many colons in address`;
  if (s.includes('[') || s.includes(']')) return `address ${s}: unexpected '[' in address`;
  return { host, port: s.slice(last + 1) };
}

/** netutils.ParseIPSloppy: an IPv4 part may carry leading zeros ("010.0.0.1"). */
export function parseIPSloppy(s: string): boolean {
  if (parseIP(s)) return true;
  const m = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/.exec(s);
  return m !== null && m.slice(1).every((p) => Number(p) <= 255);
}

function parseUint(s: string, bits: number): number {
  if (!/^\d+$/.test(s)) throw new Error(`strconv.ParseUint: parsing ${goQuote(s)}: invalid syntax`);
  const v = BigInt(s);
  if (v >= 1n << BigInt(bits)) throw new Error(`strconv.ParseUint: parsing ${goQuote(s)}: value out of range`);
  return Number(v);
}

/** One Set() of a flag's value; `prev` is the value of an earlier use of the same flag. */
function setValue(def: FlagDef, raw: string, prev: FlagValue | undefined): FlagValue {
  switch (def.type) {
    case 'bool': return parseBool(raw);
    case 'string': case 'ProxyMode': case 'LocalMode': return raw;
    case 'int32': return parseInt0(raw, 32);
    case 'float32': return parseFloat32(raw);
    case 'duration': return parseGoDuration(raw);
    case 'Level': return parseUint(raw, 31);
    case 'quantity': return (parseQuantity(raw), raw);
    case 'strings': return [...((prev as string[] | undefined) ?? []), ...readCSV(raw)];
    case 'version': {
      if (raw === 'raw' || raw.startsWith('v')) return raw;
      return parseBool(raw) ? 'true' : 'false';
    }
    case 'ip': {
      if (raw === '') return null;
      if (!parseIPSloppy(raw)) throw new Error(`${goQuote(raw)} is not a valid IP address`);
      return raw;
    }
    case 'ipport': {
      if (raw === '') return null;
      if (parseIPSloppy(raw)) return raw;
      const hp = splitHostPort(raw);
      if (typeof hp === 'string') throw new Error(`${goQuote(raw)} is not in a valid format (ip or ip:port): ${hp}`);
      if (!parseIPSloppy(hp.host)) throw new Error(`${goQuote(hp.host)} is not a valid IP address`);
      if (!/^\d+$/.test(hp.port) || Number(hp.port) > 65535) throw new Error(`${goQuote(hp.port)} is not a valid number`);
      return raw;
    }
    case 'mapStringBool': {
      const map: Record<string, boolean> = { ...((prev as Record<string, boolean> | undefined) ?? {}) };
      for (const s of raw.split(',')) {
        if (s === '') continue;
        const eq = s.indexOf('=');
        if (eq < 0) throw new Error('malformed pair, expect string=bool');
        const k = s.slice(0, eq).trim();
        const v = s.slice(eq + 1).trim();
        try {
          map[k] = parseBool(v);
        } catch (e) {
          throw new Error(`invalid value of ${k}: ${v}, err: ${(e as Error).message}`);
        }
      }
      return map;
    }
    case 'pattern=N,...': {
      const items = [...((prev as VModuleItem[] | undefined) ?? [])];
      for (const pat of raw.split(',')) {
        if (pat === '') continue;
        const pl = pat.split('=');
        if (pl.length !== 2 || pl[0] === '' || pl[1] === '') throw new Error(`${goQuote(pat)} does not have the pattern=N format`);
        try {
          items.push({ filePattern: pl[0]!, verbosity: parseUint(pl[1]!, 31) });
        } catch (e) {
          throw new Error(`parsing verbosity in ${goQuote(pat)}: ${(e as Error).message}`);
        }
      }
      return items;
    }
  }
}

/** Flags whose bare use means a value (pflag's NoOptDefVal). */
const NO_OPT: Partial<Record<FlagType, string>> = { bool: 'true', version: 'true' };

export function parseCommandLine(argv: readonly string[], defs: readonly FlagDef[]): ParsedFlags {
  const byName = new Map(defs.map((d) => [d.name, d]));
  const byShort = new Map(defs.filter((d) => d.shorthand).map((d) => [d.shorthand!, d]));
  const out: ParsedFlags = { values: new Map(), positional: [], notices: [] };
  const set = (def: FlagDef, raw: string, shown: string) => {
    try {
      out.values.set(def.name, setValue(def, raw, out.values.get(def.name)));
    } catch (e) {
      throw new FlagError(`invalid argument ${goQuote(raw)} for ${goQuote(shown)} flag: ${(e as Error).message}`);
    }
    if (def.deprecated !== undefined) out.notices.push(`Flag --${def.name} has been deprecated, ${def.deprecated}`);
  };
  const shownName = (def: FlagDef) => (def.shorthand ? `-${def.shorthand}, --${def.name}` : `--${def.name}`);

  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (arg.length < 2 || arg[0] !== '-') {
      out.positional.push(arg);
      continue;
    }
    if (arg === '--') {
      out.positional.push(...argv.slice(i + 1));
      break;
    }
    if (arg.startsWith('--')) {
      const body = arg.slice(2);
      if (body.startsWith('-') || body.startsWith('=')) throw new FlagError(`bad flag syntax: ${arg}`);
      const eq = body.indexOf('=');
      const name = (eq < 0 ? body : body.slice(0, eq)).replaceAll('_', '-');
      const def = byName.get(name);
      if (!def) throw new FlagError(`unknown flag: --${name}`);
      if (eq >= 0) set(def, body.slice(eq + 1), shownName(def));
      else if (NO_OPT[def.type] !== undefined) set(def, NO_OPT[def.type]!, shownName(def));
      else if (i + 1 < argv.length) set(def, argv[++i]!, shownName(def));
      else throw new FlagError(`flag needs an argument: --${name}`);
      continue;
    }
    // shorthands: -abc (booleans), -v4, -v=4, -v 4
    let rest = arg.slice(1);
    while (rest.length > 0) {
      const c = rest[0]!;
      const def = byShort.get(c);
      if (!def) throw new FlagError(`unknown shorthand flag: ${goQuote(c).replaceAll('"', "'")} in ${arg}`);
      rest = rest.slice(1);
      if (rest.startsWith('=')) {
        set(def, rest.slice(1), shownName(def));
        rest = '';
      } else if (NO_OPT[def.type] !== undefined) {
        set(def, NO_OPT[def.type]!, shownName(def));
      } else if (rest.length > 0) {
        set(def, rest, shownName(def));
        rest = '';
      } else if (i + 1 < argv.length) {
        set(def, argv[++i]!, shownName(def));
      } else {
        throw new FlagError(`flag needs an argument: ${goQuote(c).replaceAll('"', "'")} in -${c}`);
      }
    }
  }
  return out;
}
