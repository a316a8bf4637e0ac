// Go's value parsers as pflag calls them for kube-proxy's flags, with Go's own error texts, so a bad
// value is refused with the message kube-proxy prints: strconv.ParseBool, strconv.ParseInt(s, 0, 32),
// strconv.ParseFloat(s, 32), time.ParseDuration (negative durations parse; validation refuses them)
// and its String() form. Every function returns the value or throws a plain Error with Go's text.

const quote = (s: string) => goQuote(s);

/** Go's strconv.Quote for the ASCII range (printable non-ASCII is kept as it is, as Go does). */
export function goQuote(s: string): string {
  let out = '"';
  for (const ch of s) {
    const c = ch.codePointAt(0)!;
    if (ch === '"' || ch === '\\') out += '\\' + ch;
    else if (ch === '\n') out += '\\n';
    else if (ch === '\t') out += '\\t';
    else if (ch === '\r') out += '\\r';
    else if (c === 7) out += '\\a';
    else if (c === 8) out += '\\b';
    else if (c === 12) out += '\\f';
    else if (c === 11) out += '\\v';
    else if (c < 0x20 || c === 0x7f) out += '\\x' + c.toString(16).padStart(2, '0');
    else out += ch;
  }
  return out + '"';
}

const TRUE = new Set(['1', 't', 'T', 'TRUE', 'true', 'True']);
const FALSE = new Set(['0', 'f', 'F', 'FALSE', 'false', 'False']);

export function parseBool(s: string): boolean {
  if (TRUE.has(s)) return true;
  if (FALSE.has(s)) return false;
  throw new Error(`strconv.ParseBool: parsing ${quote(s)}: invalid syntax`);
}

/** strconv.ParseInt(s, 0, bits): sign, 0x/0o/0b/0 prefixes, underscores between digits. */
export function parseInt0(s: string, bits = 32): number {
  const syntax = () => new Error(`strconv.ParseInt: parsing ${quote(s)}: invalid syntax`);
  let body = s;
  let neg = false;
  if (body.startsWith('+') || body.startsWith('-')) {
    neg = body[0] === '-';
    body = body.slice(1);
  }
  let base = 10;
  let digits = body;
  if (/^0[xX]/.test(body)) [base, digits] = [16, body.slice(2)];
  else if (/^0[oO]/.test(body)) [base, digits] = [8, body.slice(2)];
  else if (/^0[bB]/.test(body)) [base, digits] = [2, body.slice(2)];
  else if (/^0./.test(body)) [base, digits] = [8, body.slice(1)];
  const prefixed = digits !== body;
  // underscores only between digits (or after a base prefix), as Go's underscoreOK allows
  if (digits.includes('_')) {
    if (!(prefixed ? /^_?[0-9a-zA-Z]+(_[0-9a-zA-Z]+)*$/ : /^[0-9a-zA-Z]+(_[0-9a-zA-Z]+)*$/).test(digits)) throw syntax();
    digits = digits.replaceAll('_', '');
  }
  if (digits === '') throw syntax();
  const valid = { 2: /^[01]+$/, 8: /^[0-7]+$/, 10: /^[0-9]+$/, 16: /^[0-9a-fA-F]+$/ }[base as 2 | 8 | 10 | 16];
  if (!valid.test(digits)) throw syntax();
  const v = BigInt(base === 10 ? digits : `0${{ 2: 'b', 8: 'o', 16: 'x' }[base as 2 | 8 | 16]}${digits}`) * (neg ? -1n : 1n);
  const max = (1n << BigInt(bits - 1)) - 1n;
  if (v > max || v < -max - 1n) throw new Error(`strconv.ParseInt: parsing ${quote(s)}: value out of range`);
  return Number(v);
}

/** strconv.ParseFloat(s, 32), decimal forms (and Inf/NaN as Go spells them). */
export function parseFloat32(s: string): number {
  const t = s.replaceAll('_', '');
  if (/^[+-]?(inf|infinity)$/i.test(t)) return t.startsWith('-') ? -Infinity : Infinity;
  if (/^nan$/i.test(t)) return NaN;
  if (!/^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$/.test(t) && !/^[+-]?0[xX][0-9a-fA-F.]+[pP][+-]?\d+$/.test(t)) {
    throw new Error(`strconv.ParseFloat: parsing ${quote(s)}: invalid syntax`);
  }
  const v = Math.fround(Number(t));
  if (!Number.isFinite(v)) throw new Error(`strconv.ParseFloat: parsing ${quote(s)}: value out of range`);
  return v;
}

const UNIT_NS: Record<string, number> = { ns: 1, us: 1e3, 'µs': 1e3, 'μs': 1e3, ms: 1e6, s: 1e9, m: 60e9, h: 3600e9 };

/** time.ParseDuration, in milliseconds (fractions of a millisecond kept). */
export function parseGoDuration(s: string): number {
  const invalid = () => new Error(`time: invalid duration ${quote(s)}`);
  let body = s;
  let neg = false;
  if (body.startsWith('-') || body.startsWith('+')) {
    neg = body[0] === '-';
    body = body.slice(1);
  }
  if (body === '0') return 0;
  if (body === '') throw invalid();
  let ns = 0;
  while (body !== '') {
    const num = /^(\d*)(\.(\d*))?/.exec(body)!;
    if (num[0] === '' || num[0] === '.') throw invalid();
    body = body.slice(num[0].length);
    const unit = /^[^0-9.]*/.exec(body)![0];
    if (unit === '') throw new Error(`time: missing unit in duration ${quote(s)}`);
    const mult = UNIT_NS[unit];
    if (mult === undefined) throw new Error(`time: unknown unit ${quote(unit)} in duration ${quote(s)}`);
    body = body.slice(unit.length);
    ns += Number(`${num[1] || '0'}.${num[3] ?? ''}0`) * mult;
    if (ns > 9223372036854775807) throw invalid();
  }
  return (neg ? -ns : ns) / 1e6;
}

/** Go's Duration.String() of a millisecond count: 30000 → "30s", 90000 → "1m30s", 1.5 → "1.5ms". */
export function formatGoDuration(ms: number): string {
  if (ms === 0) return '0s';
  const neg = ms < 0;
  const ns = Math.round(Math.abs(ms) * 1e6);
  let out: string;
  if (ns < 1e9) {
    const [unit, div] = ns < 1e3 ? ['ns', 1] : ns < 1e6 ? ['µs', 1e3] : ['ms', 1e6];
    out = `${trimFrac(ns / (div as number))}${unit as string}`;
  } else {
    const h = Math.floor(ns / 3600e9);
    const m = Math.floor((ns % 3600e9) / 60e9);
    const sec = trimFrac((ns % 60e9) / 1e9);
    out = h ? `${h}h${m}m${sec}s` : m ? `${m}m${sec}s` : `${sec}s`;
  }
  return neg ? `-${out}` : out;
}

const trimFrac = (n: number) => String(Number(n.toFixed(9)));

/** resource.ParseQuantity for the log buffer sizes: a number with an optional SI or binary suffix. */
export function parseQuantity(s: string): number {
  const m = /^([+-]?\d+(?:\.\d+)?)(Ki|Mi|Gi|Ti|Pi|Ei|k|K|M|G|T|P|E|m)?$/.exec(s.trim());
  if (!m) throw new Error('quantities must match the regular expression \'^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$\'');
  const mult: Record<string, number> = { Ki: 2 ** 10, Mi: 2 ** 20, Gi: 2 ** 30, Ti: 2 ** 40, Pi: 2 ** 50, Ei: 2 ** 60, k: 1e3, K: 1e3, M: 1e6, G: 1e9, T: 1e12, P: 1e15, E: 1e18, m: 1e-3 };
  return Number(m[1]) * (m[2] ? mult[m[2]]! : 1);
}
