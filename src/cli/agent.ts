// `ipvsnet agent`: the node agent, with kube-proxy's flags (see src/config). This file parses the
// flags and wires the parts together: the API server sources and Events (src/agent/cluster.ts), the
// proxy's planner and reconciler, the pod-network controller (src/podnet), the CNI thick-mode
// server, and the Agent that drives them (src/agent/agent.ts).
// On SIGTERM/SIGINT it stops watching and leaves the kernel as it is (like kube-proxy), so traffic
// keeps flowing across restarts; `--cleanup` removes everything ipvsnet owns and exits.

import { escapeText } from '../model/diagnostics.ts';
import pino from 'pino';
import type { Logger } from 'pino';
import { resolveAgentConfig, usage, ConfigError, type AgentConfig } from '../config/index.ts';
import { loadKubeConfig } from '../sources/kube.ts';
import { Agent, type AgentController } from '../agent/agent.ts';
import { clusterDeps } from '../agent/cluster.ts';
import { parseCIDR, type Family } from '../net/index.ts';
import type { Ipvs } from '../kernel/ipvs/types.ts';

function familiesOf(cfg: AgentConfig): Family[] {
  const fams = new Set<Family>([4]);
  for (const c of cfg.node.clusterCIDRs) if (parseCIDR(c)?.ip.family === 6) fams.add(6);
  return [...fams];
}

const message = (e: unknown) => (e instanceof Error ? e.message : String(e));

/** One IPVS socket for the reconciler, the statistics and the timeouts; null without IPVS. */
async function openIpvsWithTimeouts(cfg: AgentConfig, log: Logger): Promise<Ipvs | null> {
  const { openIpvs } = await import('../kernel/open.ts');
  let ipvs: Ipvs;
  try {
    ipvs = await openIpvs();
  } catch (e) {
    log.error({ problem: message(e) }, 'missing kernel feature; that part of the plan is skipped');
    return null;
  }
  const t = cfg.ipvsTimeouts;
  const set: Partial<Record<'tcp' | 'tcpFin' | 'udp', number>> = {};
  if (t.tcp) set.tcp = t.tcp;
  if (t.tcpFin) set.tcpFin = t.tcpFin;
  if (t.udp) set.udp = t.udp;
  if (Object.keys(set).length) await ipvs.setTimeouts(set).catch((e: unknown) => log.error({ err: message(e) }, 'IPVS timeouts could not be set'));
  return ipvs;
}

/** `agent --cleanup`: what `ipvsnet cleanup` removes, with the agent's flags. */
async function cleanup(cfg: AgentConfig, log: Logger): Promise<number> {
  const { Reconciler } = await import('../reconcile/index.ts');
  const { cleanupPodNetwork } = await import('../podnet/index.ts');
  const { reconciler } = await Reconciler.open({ logger: log, families: [4, 6] });
  const r = await reconciler.cleanup();
  reconciler.close();
  const p = await cleanupPodNetwork({ families: [4, 6], ...(cfg.cniConfDir ? { confDir: cfg.cniConfDir } : {}) });
  for (const e of [...r.failures.map((f) => `${f.object}: ${f.operation}: ${f.error}`), ...p.errors]) log.error({ err: e }, 'cleanup operation failed');
  log.info({ operations: r.totalOperations, failures: r.failures.length, podRoutes: p.routes.length, podEgress: p.egress.restores, conflist: p.conflist?.action }, 'cleanup done');
  return r.failures.length || p.errors.length ? 1 : 0;
}

export async function run(argv: string[]): Promise<number> {
  if (argv.includes('--help') || argv.includes('-h')) {
    process.stdout.write(usage() + '\n');
    return 0;
  }
  let cfg: AgentConfig;
  try {
    cfg = resolveAgentConfig(argv);
  } catch (e) {
    if (e instanceof ConfigError) {
      process.stderr.write(`ipvsnet agent: invalid configuration:\n${e.message.split('\n').map(escapeText).join('\n')}\n`);
      return 1;
    }
    throw e;
  }
  const log = pino({ name: 'ipvsnet-agent', level: cfg.logLevel }, pino.destination(2));
  if (cfg.cleanup) return cleanup(cfg, log);

  const kc = loadKubeConfig({ kubeconfig: cfg.kubeconfig, master: cfg.master });
  const { IncrementalPlanner } = await import('../plan/index.ts');
  const { Reconciler } = await import('../reconcile/index.ts');
  const { mallocTrim } = await import('../native/index.ts');
  const families = familiesOf(cfg);
  const ipvs = await openIpvsWithTimeouts(cfg, log);
  const { reconciler, problems } = await Reconciler.open({ logger: log, families, excludeCIDRs: cfg.node.excludeCIDRs, ipvs });
  for (const p of problems) log.warn({ problem: p }, 'kernel feature missing');
  // kube-proxy's IPVS sysctls (vs/conntrack=1 lets iptables masquerade IPVS traffic, e.g. from the
  // node itself to a ClusterIP; strict ARP when asked). A failure is logged; the agent goes on.
  const { applySysctls, kubeProxySysctls } = await import('../kernel/sysctl.ts');
  const sysctls = await applySysctls(kubeProxySysctls({ strictARP: cfg.node.strictARP }));
  for (const c of sysctls.changed) log.info(c, 'sysctl set');
  for (const f of sysctls.failed) log.error({ err: f.message }, 'sysctl could not be set');

  // The pod network (opt-in): peer routes and the egress chain with --pod-routes, the conflist with --cni-conf-dir.
  const controllers: AgentController[] = [];
  let closePodNetwork = () => {};
  if (cfg.podRoutes || cfg.cniConfDir) {
    const podnet = await import('../podnet/index.ts');
    const kernel = podnet.openPodNetworkKernel();
    closePodNetwork = () => kernel.close();
    const clusterFamilies = [...new Set(cfg.node.clusterCIDRs.map((c) => parseCIDR(c)?.ip.family).filter((f): f is Family => f !== undefined))];
    const reconcilerPn = new podnet.PodNetworkReconciler(kernel, { egressFamilies: clusterFamilies, verifyIntervalMs: cfg.syncPeriodMs });
    controllers.push(new podnet.PodNetworkController({
      nodeName: cfg.nodeName,
      routes: cfg.podRoutes,
      ...(cfg.podRoutes ? { egress: { enabled: cfg.podEgressMasquerade, clusterCIDRs: cfg.node.clusterCIDRs, randomFully: cfg.node.randomFully } } : {}),
      ...(cfg.cniConfDir ? { conflist: { confDir: cfg.cniConfDir } } : {}),
      reconciler: reconcilerPn,
      logger: log,
    }));
  }
  // Multi-network (opt-in): its own Pod and NAD informers (never waited for), the wrapper conflist,
  // and the CNI server's multinet requests.
  let multinet: import('../multinet/controller.ts').MultinetController | undefined;
  if (cfg.multiNetwork && cfg.cniConfDir) {
    const { MultinetController } = await import('../multinet/controller.ts');
    multinet = new MultinetController({
      kc, nodeName: cfg.nodeName, confDir: cfg.cniConfDir, logger: log,
      ...(cfg.multiNetworkGlobalNamespaces ? { namespaceIsolation: true, globalNamespaces: cfg.multiNetworkGlobalNamespaces } : {}),
      ...(cfg.multiNetworkHostRoot ? { hostRoot: cfg.multiNetworkHostRoot } : {}),
    });
    controllers.push(multinet);
    multinet.start();
  }
  let cniServer: import('../cni/server.ts').CniServer | undefined;
  if (cfg.cniConfDir) {
    // Thick mode: the plugins' shim hands CNI requests to this server; it falls back to the
    // standalone plugin when the agent is down.
    const { startCniServer } = await import('../cni/server.ts');
    const { multinetWorkerEntry } = await import('../multinet/entry.ts');
    cniServer = await startCniServer({
      ...(multinet ? { workerEntry: multinetWorkerEntry(), contextFor: multinet.contextFor, onReport: multinet.onReport } : {}),
      ...(cfg.cniSocket ? { socketPath: cfg.cniSocket } : {}),
      requestTimeoutMs: cfg.cniRequestTimeoutMs,
      onRequest: (r) => (r.failedBy ? log.warn(r, 'CNI request failed') : log.debug(r, 'CNI request served')),
      onWorker: (e) => log.info(e, 'CNI worker process'),
    });
    log.info({ socket: cniServer.socketPath }, 'CNI thick-mode server listening');
  }
  const agent = new Agent(cfg, {
    ...clusterDeps(kc, cfg.nodeName, log),
    planner: new IncrementalPlanner(cfg.node),
    reconciler,
    controllers,
    logger: log,
    ...(ipvs ? { ipvsStats: ipvs as never } : {}),
    releaseMemory: () => { mallocTrim(); },
  });
  let stopping = false;
  const done = new Promise<number>((resolve) => {
    const stop = (sig: string) => {
      if (stopping) return;
      stopping = true;
      log.info({ signal: sig }, 'stopping (kernel state left in place)');
      agent.stop().then(
        async () => {
          await cniServer?.close();
          multinet?.stop();
          closePodNetwork();
          reconciler.close();
          resolve(0);
        },
        () => resolve(1),
      );
    };
    process.once('SIGTERM', () => stop('SIGTERM'));
    process.once('SIGINT', () => stop('SIGINT'));
  });
  log.info({ node: cfg.nodeName, syncPeriodMs: cfg.syncPeriodMs, minSyncPeriodMs: cfg.minSyncPeriodMs, server: kc.getCurrentCluster()?.server, healthz: cfg.healthz, metrics: cfg.metrics }, 'starting');
  try {
    await agent.start();
  } catch (e) {
    log.error({ err: message(e) }, 'start failed');
    await agent.stop().catch(() => undefined);
    return 1;
  }
  log.info(agent.status(), 'first sync done');
  return done;
}
