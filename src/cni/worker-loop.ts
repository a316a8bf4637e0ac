// The request loop of a CNI worker process (src/cni/server.ts forks one): requests arrive as IPC
// messages and are answered with their exit code, stdout and the plugin's report, one at a time.
// Which plugin serves a mode is the entry point's choice (src/cni/worker.ts: bridge and ipam;
// src/multinet/worker.ts: those and ipvsnet-multinet).
import { runSkel } from '../cniproto/skel.ts';
import type { Plugin } from '../cniproto/skel.ts';
import { toCniError } from '../cniproto/errors.ts';
import type { WorkerAnswer, WorkerRequest } from './wire.ts';

export interface Served {
  plugin: Plugin;
  /** what the plugin reported while serving (sent back with the answer) */
  report?: () => unknown;
}

function isRequest(m: unknown): m is WorkerRequest {
  const r = m as WorkerRequest;
  return typeof m === 'object' && m !== null && typeof r.id === 'number' && typeof r.mode === 'string'
    && typeof r.env === 'object' && r.env !== null && typeof r.stdin === 'string';
}

/** Serve requests until the agent disconnects; `pick` gives the plugin of a request (or a refusal). */
export function serveWorker(pick: (req: WorkerRequest) => Served | { refuse: string }): void {
  if (!process.send) {
    process.stderr.write('ipvsnet CNI worker: started without an IPC channel (it is forked by the agent)\n');
    process.exit(2);
  }
  const send = process.send.bind(process);
  process.on('message', (m: unknown) => {
    if (!isRequest(m)) return;
    const s = pick(m);
    if ('refuse' in s) {
      send({ id: m.id, exitCode: 1, stdout: JSON.stringify({ cniVersion: '1.1.0', code: 50, msg: s.refuse }) } satisfies WorkerAnswer);
      return;
    }
    runSkel(s.plugin, m.env, m.stdin).then(
      (out) => {
        const report = s.report?.();
        send({ id: m.id, exitCode: out.exitCode, stdout: out.stdout, ...(report !== undefined ? { report } : {}) } satisfies WorkerAnswer);
      },
      (e: unknown) => send({ id: m.id, exitCode: 1, stdout: JSON.stringify({ cniVersion: '1.1.0', code: 999, msg: toCniError(e).message }) } satisfies WorkerAnswer),
    );
  });
  // the agent is gone: nothing more can arrive or be answered
  process.on('disconnect', () => process.exit(0));
  send({ ready: process.pid });
}
