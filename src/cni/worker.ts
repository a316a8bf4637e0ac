// The CNI worker process: runs the plugins for the agent's thick-mode server
// (src/cni/server.ts forks it). Requests arrive as IPC messages, each answered
// with its exit code and stdout (src/cni/worker-loop.ts). Plugin work (netlink,
// blocking flock, setns, iptables) never runs on the agent's event loop: a
// request that hangs here hangs only this process, which the server kills at
// the request's deadline. With multi-network on, the agent forks
// src/multinet/worker.ts instead, which serves ipvsnet-multinet too.
import { bridgePlugin } from './bridge/plugin.ts';
import { ipamPlugin } from './ipam-plugin.ts';
import { serveWorker } from './worker-loop.ts';

serveWorker((req) => {
  if (req.mode === 'ipam') return { plugin: ipamPlugin };
  if (req.mode === 'bridge') return { plugin: bridgePlugin };
  return { refuse: `ipvsnet: the agent does not serve ipvsnet-${req.mode} (multi-network is off: start the agent with --multi-network)` };
});
