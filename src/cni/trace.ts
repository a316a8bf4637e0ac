// Phase marks of one standalone plugin process, for `npm run bench:cni -- --breakdown`. When
// IPVSNET_CNI_TRACE names a file, the process appends one JSON line to it at exit: its time origin
// (epoch ms, so the bench can place the process's start after its own spawn), Node's start-up
// milestones (performance.nodeTiming) and the marks the loader and the plugin set, in ms since that
// origin. Without the variable a mark is one comparison: nothing is recorded or written.
//
// The loader (launch.ts) and the plugin bundle are separate files that each include this module;
// they share one list through a global so the loader's marks and the plugin's end up in one line.
import { appendFileSync } from 'node:fs';

interface TraceState {
  file: string | undefined;
  marks: Array<[string, number]>;
}

const KEY = Symbol.for('ipvsnet.cni.trace');

function state(): TraceState {
  const g = globalThis as { [KEY]?: TraceState };
  let s = g[KEY];
  if (!s) {
    const file = process.env['IPVSNET_CNI_TRACE'] || undefined;
    s = { file, marks: [] };
    g[KEY] = s;
    if (file) process.once('exit', () => write(s!));
  }
  return s;
}

function write(s: TraceState): void {
  const t = performance.nodeTiming;
  const line = {
    pid: process.pid,
    command: process.env['CNI_COMMAND'] ?? '',
    timeOrigin: performance.timeOrigin,
    node: { nodeStart: t.nodeStart, v8Start: t.v8Start, environment: t.environment, bootstrapComplete: t.bootstrapComplete },
    marks: [...s.marks, ['exit', performance.now()]],
  };
  try {
    appendFileSync(s.file!, JSON.stringify(line) + '\n');
  } catch {
    /* tracing never changes the plugin's outcome */
  }
}

/** Record that the process reached `name` (only when IPVSNET_CNI_TRACE is set). */
export function mark(name: string): void {
  const s = state();
  if (s.file) s.marks.push([name, performance.now()]);
}
