// The one logger of the project, in the two formats kube-proxy writes (component-base logs):
//
//   text (klog, the default):
//     I1207 09:45:01.123456   12345 agent.ts:109] "informer caches synced" ms=12 services=3
//     <severity I/W/E><MMDD> <hh:mm:ss.micro, local time> <pid, width 7> <file:line>] "<msg>" key=value…
//   json (--logging-format=json, Kubernetes' structured JSON):
//     {"ts":1765100701123.456,"caller":"agent/agent.ts:109","msg":"informer caches synced","v":0,"ms":12}
//     info entries carry their verbosity as "v"; error entries carry "err" and no "v" (zapr's layout).
//
// file:line is the real caller of the log method (the TypeScript or compiled JavaScript file).
// Verbosity as klog's: info is V(0), debug V(4), trace V(5); a V(n) line is written when n ≤ -v (or the
// --vmodule pattern matching the caller's file name without extension). Warnings and errors are always
// written. Lines go to stderr, or with splitStream info to stdout and errors to stderr. Every line is
// written at once (synchronously for files and pipes), so nothing is lost at exit.
//
// The methods take (fields, msg) or (msg), as pino's do, so a pino logger also fits `Logger`.

export type LogFn = (fieldsOrMsg: object | string, msg?: string) => void;

export interface Logger {
  error: LogFn;
  warn: LogFn;
  info: LogFn;
  debug: LogFn;
  trace: LogFn;
}

export interface LoggerOptions {
  format?: 'text' | 'json';
  /** klog -v */
  verbosity?: number;
  vmodule?: ReadonlyArray<{ filePattern: string; verbosity: number }>;
  splitStream?: boolean;
  /** Least severity written (ipvsnet's --log-level); default info. */
  minSeverity?: 'none' | 'error' | 'warn' | 'info';
  /** Where lines go (tests); default process.stdout / process.stderr. */
  write?: (stream: 'stdout' | 'stderr', line: string) => void;
  /** Clock in milliseconds since the epoch, with fractions (tests). */
  now?: () => number;
  pid?: number;
}

type Severity = 'E' | 'W' | 'I';

interface Caller { file: string; short: string; line: number }

const THIS_FILE = /\/log\/index\.[jt]s:/;

/** The first stack frame outside this file: its base name, its last folder/base name, its line. */
function callerOf(stack: string | undefined): Caller {
  for (const frame of (stack ?? '').split('\n').slice(1)) {
    const m = /\(?(?:file:\/\/)?([^()\s]+):(\d+):\d+\)?\s*$/.exec(frame);
    if (!m || THIS_FILE.test(`${m[1]}:`)) continue;
    const parts = m[1]!.split('/');
    return { file: parts.at(-1)!, short: parts.slice(-2).join('/'), line: Number(m[2]) };
  }
  return { file: 'ipvsnet', short: 'ipvsnet', line: 0 };
}

/** Go's strconv.Quote (ASCII control characters escaped, everything else as it is). */
export function quote(s: string): string {
  return JSON.stringify(s).replace(/\\u00([0-9a-f]{2})/g, (_, h: string) => ({ '07': '\\a', '0b': '\\v' })[h] ?? `\\x${h}`).replace(/\x7f/g, '\\x7f');
}

/** One key=value of klog's text format. */
function textValue(v: unknown): string {
  if (typeof v === 'string') {
    if (!v.includes('\n')) return quote(v);
    return `<\n${v.replace(/\n$/, '').split('\n').map((l) => `\t${l}`).join('\n')}\n >`;
  }
  if (v === null || v === undefined) return '<nil>';
  if (typeof v === 'number' || typeof v === 'boolean' || typeof v === 'bigint') return String(v);
  if (v instanceof Error) return quote(v.message);
  try {
    return JSON.stringify(v);
  } catch {
    return quote(String(v));
  }
}

const pad = (n: number, w = 2) => String(n).padStart(w, '0');

function globToRegExp(p: string): RegExp {
  return new RegExp(`^${p.replace(/[.+^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '.*').replace(/\?/g, '.')}$`);
}

export class KLogger implements Logger {
  readonly format: 'text' | 'json';
  readonly verbosity: number;
  readonly #vmodule: Array<{ re: RegExp; full: boolean; verbosity: number }>;
  readonly #split: boolean;
  readonly #min: number;
  readonly #write: (stream: 'stdout' | 'stderr', line: string) => void;
  readonly #now: () => number;
  readonly #pid: number;

  constructor(opts: LoggerOptions = {}) {
    this.format = opts.format ?? 'text';
    this.verbosity = opts.verbosity ?? 0;
    this.#vmodule = (opts.vmodule ?? []).map((v) => ({ re: globToRegExp(v.filePattern), full: v.filePattern.includes('/'), verbosity: v.verbosity }));
    this.#split = opts.splitStream ?? false;
    this.#min = { none: 3, error: 2, warn: 1, info: 0 }[opts.minSeverity ?? 'info'];
    this.#write = opts.write ?? ((s, line) => void (s === 'stdout' ? process.stdout : process.stderr).write(line));
    this.#now = opts.now ?? (() => performance.timeOrigin + performance.now());
    this.#pid = opts.pid ?? process.pid;
  }

  error: LogFn = (a, b) => this.#log('E', 0, a, b);
  warn: LogFn = (a, b) => this.#log('W', 0, a, b);
  info: LogFn = (a, b) => this.#log('I', 0, a, b);
  debug: LogFn = (a, b) => this.#log('I', 4, a, b);
  trace: LogFn = (a, b) => this.#log('I', 5, a, b);

  /** klog's V(level): a logger whose info lines are at that verbosity. */
  v(level: number): { info: LogFn; enabled: boolean } {
    return { info: (a, b) => this.#log('I', level, a, b), enabled: this.#vmodule.length > 0 || level <= this.verbosity };
  }

  #enabled(level: number, caller: () => Caller): boolean {
    if (level <= this.verbosity) return true;
    if (this.#vmodule.length === 0) return false;
    const c = caller();
    const base = c.file.replace(/\.[^.]*$/, '');
    const full = c.short.replace(/\.[^.]*$/, '');
    const rule = this.#vmodule.find((r) => r.re.test(r.full ? full : base));
    return rule !== undefined && level <= rule.verbosity;
  }

  #log(sev: Severity, level: number, a: object | string, b: string | undefined): void {
    const rank = sev === 'E' ? 2 : sev === 'W' ? 1 : 0;
    if (rank < this.#min) return;
    let caller: Caller | undefined;
    const getCaller = () => (caller ??= callerOf(new Error().stack));
    if (sev === 'I' && !this.#enabled(level, getCaller)) return;
    const fields = typeof a === 'string' ? {} : (a as Record<string, unknown>);
    const msg = typeof a === 'string' ? a : (b ?? '');
    const line = this.format === 'json' ? this.#json(sev, level, msg, fields, getCaller()) : this.#text(sev, msg, fields, getCaller());
    this.#write(this.#split && sev !== 'E' ? 'stdout' : 'stderr', line);
  }

  #text(sev: Severity, msg: string, fields: Record<string, unknown>, c: Caller): string {
    const t = this.#now();
    const d = new Date(Math.floor(t));
    const micros = Math.floor((t - Math.floor(t / 1000) * 1000) * 1000);
    let s = `${sev}${pad(d.getMonth() + 1)}${pad(d.getDate())} ${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}.${pad(micros, 6)} ${String(this.#pid).padStart(7)} ${c.file}:${c.line}] ${quote(msg)}`;
    const keys = Object.keys(fields);
    // errors first, as logger.Error(err, msg, …) prints them
    if (sev === 'E' && keys.includes('err')) keys.sort((x, y) => Number(y === 'err') - Number(x === 'err'));
    for (const k of keys) if (fields[k] !== undefined) s += ` ${k}=${textValue(fields[k])}`;
    return s + '\n';
  }

  #json(sev: Severity, level: number, msg: string, fields: Record<string, unknown>, c: Caller): string {
    const head: Record<string, unknown> = { ts: Math.round(this.#now() * 1000) / 1000, caller: `${c.short}:${c.line}`, msg };
    if (sev === 'E') {
      if (fields['err'] !== undefined) head['err'] = fields['err'];
    } else {
      head['v'] = level;
    }
    const rest = Object.fromEntries(Object.entries(fields).filter(([k, v]) => v !== undefined && !(sev === 'E' && k === 'err') && !(k in head)));
    try {
      return JSON.stringify({ ...head, ...rest }, (_k, v: unknown) => (typeof v === 'bigint' ? String(v) : v instanceof Error ? v.message : v)) + '\n';
    } catch {
      return JSON.stringify({ ...head, fields: String(rest) }) + '\n';
    }
  }
}

export function createLogger(opts: LoggerOptions = {}): KLogger {
  return new KLogger(opts);
}

/** The one-shot commands' level names (IPVSNET_LOG_LEVEL): silent, error, warn (their default), info, debug, trace. */
export function logLevelFromEnv(level: string | undefined): LoggerOptions {
  switch (level) {
    case 'silent': return { minSeverity: 'none' };
    case 'fatal': case 'error': return { minSeverity: 'error' };
    case 'info': return { minSeverity: 'info' };
    case 'debug': return { verbosity: 4 };
    case 'trace': return { verbosity: 5 };
    default: return { minSeverity: 'warn' };
  }
}

/** A logger that writes nothing (tests, library defaults). */
export const silentLogger: Logger = { error() {}, warn() {}, info() {}, debug() {}, trace() {} };
