// Go's time.Duration text form, as metav1.Duration serialises it: "30s", "1m0s", "1h2m3.5s", "500ms", "0s".

const UNITS: Record<string, number> = { ns: 1e-6, us: 1e-3, 'µs': 1e-3, 'μs': 1e-3, ms: 1, s: 1000, m: 60_000, h: 3_600_000 };

/** Milliseconds, or an error message. Negative durations are rejected (kube-proxy rejects them too). */
export function parseDuration(text: string): number | string {
  const s = text.trim();
  if (s === '0') return 0;
  if (s === '') return 'empty duration';
  if (s.startsWith('-')) return `negative duration ${JSON.stringify(text)}`;
  const body = s.startsWith('+') ? s.slice(1) : s;
  const re = /(\d+(?:\.\d*)?|\.\d+)(ns|us|µs|μs|ms|s|m|h)/gy;
  let total = 0;
  let pos = 0;
  let m: RegExpExecArray | null;
  while ((m = re.exec(body)) !== null) {
    total += Number(m[1]) * (UNITS[m[2]!] ?? NaN);
    pos = re.lastIndex;
  }
  if (pos !== body.length || pos === 0 || !Number.isFinite(total)) {
    return `invalid duration ${JSON.stringify(text)} (Go syntax, e.g. "30s", "1m0s", "500ms")`;
  }
  return total;
}

/** Go's String() form, for printing: 30000 → "30s", 90000 → "1m30s", 500 → "500ms". */
export function formatDuration(ms: number): string {
  if (ms === 0) return '0s';
  if (ms < 1000) return `${ms}ms`;
  const h = Math.floor(ms / 3_600_000);
  const m = Math.floor((ms % 3_600_000) / 60_000);
  const s = (ms % 60_000) / 1000;
  if (h) return `${h}h${m}m${s}s`;
  if (m) return `${m}m${s}s`;
  return `${s}s`;
}
