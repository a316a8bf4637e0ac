// The logger's two formats, line for line: klog's text header and key=value rendering, and Kubernetes'
// structured JSON (zapr's field layout), with -v, --vmodule, split streams and --log-level.
import { describe, expect, it } from 'vitest';
import { createLogger, quote, type LoggerOptions } from '../../../src/log/index.ts';

// 2026-12-07 09:45:01.123456 local time
const T = new Date(2026, 11, 7, 9, 45, 1, 123).getTime() + 0.456;

function capture(opts: LoggerOptions = {}) {
  const lines: Array<[string, string]> = [];
  const log = createLogger({ pid: 12345, now: () => T, write: (s, l) => lines.push([s, l]), ...opts });
  return { log, lines, text: () => lines.map(([, l]) => l).join('') };
}

/** `file:line` of the caller of here() (a log call on the same line has it as its caller). */
function here(): string {
  const frame = new Error().stack!.split('\n')[2]!;
  return `logger.test.ts:${/:(\d+):\d+\)?$/.exec(frame)![1]}`;
}

describe('klog text (the default)', () => {
  it('header, quoted message, key=value', () => {
    const { log, text } = capture();
    const at = here(); log.info({ services: 3, node: 'n1', ok: true }, 'informer caches synced');
    expect(text()).toBe(`I1207 09:45:01.123456   12345 ${at}] "informer caches synced" services=3 node="n1" ok=true\n`);
  });

  it('severities W and E; err first on errors; lists and objects as JSON; multi-line strings as klog blocks; nil', () => {
    const { log, lines } = capture();
    log.warn('plain message');
    log.error({ object: 'Service a/b', err: 'boom' }, 'kernel operation failed');
    log.info({ ips: ['10.0.0.1', 'fd00::1'], o: { a: 1 }, text: 'line1\nline2', none: null, skip: undefined }, 'values');
    expect(lines[0]![1]).toMatch(/^W1207 09:45:01\.123456 {3}12345 logger\.test\.ts:\d+\] "plain message"\n$/);
    expect(lines[1]![1]).toMatch(/\] "kernel operation failed" err="boom" object="Service a\/b"\n$/);
    expect(lines[1]![1]).toMatch(/^E1207 /);
    expect(lines[2]![1]).toMatch(/\] "values" ips=\["10\.0\.0\.1","fd00::1"\] o=\{"a":1\} text=<\n\tline1\n\tline2\n > none=<nil>\n$/);
  });

  it("quotes as Go's strconv.Quote does", () => {
    expect(quote('a"b\\c')).toBe('"a\\"b\\\\c"');
    expect(quote('\x07\x0b\x01\x7f\t')).toBe('"\\a\\v\\x01\\x7f\\t"');
    expect(quote('ünï')).toBe('"ünï"');
  });

  it('-v: info is V(0), debug V(4), trace V(5); warnings and errors always', () => {
    const at = (v: number) => {
      const { log, lines } = capture({ verbosity: v });
      log.info('i');
      log.debug('d');
      log.trace('t');
      log.v(2).info('v2');
      log.warn('w');
      log.error('e');
      return lines.map(([, l]) => /"(\w+)"/.exec(l)![1]).join(',');
    };
    expect(at(0)).toBe('i,w,e');
    expect(at(2)).toBe('i,v2,w,e');
    expect(at(4)).toBe('i,d,v2,w,e');
    expect(at(5)).toBe('i,d,t,v2,w,e');
  });

  it('--vmodule raises the verbosity of the files its patterns match (name without extension)', () => {
    const on = capture({ verbosity: 0, vmodule: [{ filePattern: 'logger.te*', verbosity: 4 }] });
    on.log.debug('d');
    on.log.trace('t');
    expect(on.lines.map(([, l]) => /"(\w+)"/.exec(l)![1])).toEqual(['d']);
    const off = capture({ verbosity: 0, vmodule: [{ filePattern: 'agent', verbosity: 9 }] });
    off.log.debug('d');
    expect(off.lines).toEqual([]);
  });

  it('split stream: info and warnings to stdout, errors to stderr; otherwise all to stderr', () => {
    const s = capture({ splitStream: true });
    s.log.info('i');
    s.log.warn('w');
    s.log.error('e');
    expect(s.lines.map(([st]) => st)).toEqual(['stdout', 'stdout', 'stderr']);
    const one = capture();
    one.log.info('i');
    expect(one.lines[0]![0]).toBe('stderr');
  });

  it("--log-level's least severity", () => {
    const { log, lines } = capture({ minSeverity: 'warn' });
    log.info('i');
    log.warn('w');
    expect(lines).toHaveLength(1);
  });
});

describe('Kubernetes structured JSON (--logging-format=json)', () => {
  it('ts (float milliseconds), caller, msg, v, then the fields', () => {
    const { log, lines } = capture({ format: 'json', verbosity: 4 });
    log.info({ services: 3, node: 'n1' }, 'informer caches synced');
    log.debug({ ms: 1.5 }, 'sync');
    const [a, b] = lines.map(([, l]) => l);
    expect(a).toMatch(/^\{"ts":\d+\.\d+,"caller":"log\/logger\.test\.ts:\d+","msg":"informer caches synced","v":0,"services":3,"node":"n1"\}\n$/);
    expect(JSON.parse(a!).ts).toBeCloseTo(T, 3);
    expect(JSON.parse(b!)).toMatchObject({ msg: 'sync', v: 4, ms: 1.5 });
  });

  it('errors carry err and no v; warnings are V(0) info lines (klog has no warning level in logr)', () => {
    const { log, lines } = capture({ format: 'json' });
    log.error({ object: 'x', err: 'boom' }, 'failed');
    log.warn({ why: 'w' }, 'careful');
    const [e, w] = lines.map(([, l]) => JSON.parse(l) as Record<string, unknown>);
    expect(Object.keys(e!)).toEqual(['ts', 'caller', 'msg', 'err', 'object']);
    expect(e!['v']).toBeUndefined();
    expect(w).toMatchObject({ msg: 'careful', v: 0, why: 'w' });
  });
});
