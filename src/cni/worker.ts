// The CNI worker process: runs the plugins for the agent's thick-mode server
// (src/cni/server.ts forks it). Requests arrive as IPC messages, each answered
// with its exit code and stdout; several run at once, as they did in the agent.
// Plugin work (netlink, blocking flock, setns, iptables) never runs on the
// agent's event loop: a request that hangs here hangs only this process, which
// the server kills at the request's deadline.
import { runSkel } from './proto/skel.ts';
import { bridgePlugin } from './bridge/plugin.ts';
import { ipamPlugin } from './ipam-plugin.ts';
import { toCniError } from './proto/errors.ts';
import type { WorkerAnswer, WorkerRequest } from './wire.ts';

function isRequest(m: unknown): m is WorkerRequest {
  const r = m as WorkerRequest;
  return typeof m === 'object' && m !== null && typeof r.id === 'number' && typeof r.mode === 'string'
    && typeof r.env === 'object' && r.env !== null && typeof r.stdin === 'string';
}

if (!process.send) {
  process.stderr.write('ipvsnet CNI worker: started without an IPC channel (it is forked by the agent)\n');
  process.exit(2);
}
const send = process.send.bind(process);

process.on('message', (m: unknown) => {
  if (!isRequest(m)) return;
  const plugin = m.mode === 'ipam' ? ipamPlugin : bridgePlugin;
  runSkel(plugin, m.env, m.stdin).then(
    (out) => send({ id: m.id, exitCode: out.exitCode, stdout: out.stdout } satisfies WorkerAnswer),
    (e: unknown) => send({ id: m.id, exitCode: 1, stdout: JSON.stringify({ cniVersion: '1.1.0', code: 999, msg: toCniError(e).message }) } satisfies WorkerAnswer),
  );
});
// the agent is gone: nothing more can arrive or be answered
process.on('disconnect', () => process.exit(0));
send({ ready: process.pid });
