// `ipvsnet agent`: the node agent, with kube-proxy's flags (see src/config).
// On SIGTERM/SIGINT it stops watching and leaves the kernel as it is (like kube-proxy), so traffic
// keeps flowing across restarts; `--cleanup` removes everything ipvsnet owns and exits.

import { escapeText } from '../model/diagnostics.ts';
import pino from 'pino';
import { resolveAgentConfig, usage, ConfigError, type AgentConfig } from '../config/index.ts';
import { loadKubeConfig } from '../sources/kube.ts';
import { Agent } from '../agent/agent.ts';
import type { Family } from '../plan/types.ts';

function familiesOf(cfg: AgentConfig): Family[] {
  const fams = new Set<Family>([4]);
  for (const c of cfg.node.clusterCIDRs) if (c.includes(':')) fams.add(6);
  return [...fams];
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
  const { Reconciler } = await import('../reconcile/index.ts');
  if (cfg.cleanup) {
    const { reconciler } = await Reconciler.open({ logger: log, families: [4, 6] });
    const { POD_EGRESS_CLEANUP } = await import('../routes/masquerade.ts');
    const r = await reconciler.cleanup({ chains: POD_EGRESS_CLEANUP });
    reconciler.close();
    log.info({ operations: r.totalOperations, failures: r.failures.length }, 'cleanup done');
    return r.failures.length ? 1 : 0;
  }

  const kc = loadKubeConfig({ kubeconfig: cfg.kubeconfig, master: cfg.master });
  const { IncrementalPlanner } = await import('../plan/index.ts');
  const families = familiesOf(cfg);
  const { reconciler, problems } = await Reconciler.open({ logger: log, families, excludeCIDRs: cfg.node.excludeCIDRs });
  for (const p of problems) log.warn({ problem: p }, 'kernel feature missing');
  // kube-proxy's IPVS sysctls (vs/conntrack=1 lets iptables masquerade IPVS traffic, e.g. from the
  // node itself to a ClusterIP; strict ARP when asked). A failure is logged; the agent goes on.
  const { applySysctls, kubeProxySysctls } = await import('../kernel/sysctl.ts');
  const sysctls = await applySysctls(kubeProxySysctls({ strictARP: cfg.node.strictARP }));
  for (const c of sysctls.changed) log.info(c, 'sysctl set');
  for (const f of sysctls.failed) log.error({ err: f.message }, 'sysctl could not be set');
  let ipvsStats: { listServices: () => Promise<never[]> } | undefined;
  try {
    const { openIpvs } = (await import('../kernel/ipvs/genl.ts')) as { openIpvs: () => Promise<import('../kernel/ipvs/types.ts').Ipvs> };
    const ipvs = await openIpvs();
    const t = cfg.ipvsTimeouts;
    if (t.tcp || t.tcpFin || t.udp) {
      const set: Partial<Record<'tcp' | 'tcpFin' | 'udp', number>> = {};
      if (t.tcp) set.tcp = t.tcp;
      if (t.tcpFin) set.tcpFin = t.tcpFin;
      if (t.udp) set.udp = t.udp;
      await ipvs.setTimeouts(set);
    }
    ipvsStats = ipvs as never;
  } catch (e) {
    log.warn({ err: e instanceof Error ? e.message : String(e) }, 'IPVS statistics unavailable');
  }
  // ipvsnet's pod-network extensions, driven by the same Node informer (opt-in flags).
  const afterSync: Array<(plan: import('../plan/types.ts').Plan) => Promise<void>> = [];
  let agentRef: Agent | undefined;
  let cniServer: import('../cni/server.ts').CniServer | undefined;
  if (cfg.podRoutes || cfg.cniConfDir) {
    const routes = await import('../routes/index.ts');
    const nodes = () => (agentRef?.sources.nodes.list() ?? []) as never[];
    if (cfg.podRoutes) {
      const rc = new routes.RouteController({ nodeName: cfg.nodeName });
      afterSync.push(async () => {
        const r = await rc.sync(nodes());
        for (const e of r.errors) log.error({ err: e }, 'pod route operation failed');
        if (r.added.length || r.removed.length) log.info({ added: r.added.length, removed: r.removed.length, unreachable: r.unreachablePeers }, 'pod routes synced');
      });
      // Pod egress masquerading (nat chain IPVSNET-POD-EGRESS), recomputed from this Node's podCIDR
      // at every sync; an unchanged plan re-reads the kernel at most once per sync period.
      // --pod-egress-masquerade=false removes a chain left by an earlier run.
      const { PodEgressMasquerade } = await import('../routes/masquerade.ts');
      const egress = new PodEgressMasquerade({ clusterCIDRs: cfg.node.clusterCIDRs, randomFully: cfg.node.randomFully, verifyIntervalMs: cfg.syncPeriodMs });
      const egressOn = cfg.podEgressMasquerade;
      let egressRemoved = false;
      let egressDiag = '';
      afterSync.push(async () => {
        if (!egressOn && egressRemoved) return;
        const r = egressOn ? await egress.sync(agentRef?.sources.nodes.get(cfg.nodeName) as never) : await egress.remove();
        if (!egressOn && r.errors.length === 0) egressRemoved = true;
        for (const e of r.errors) log.error({ err: e }, 'pod egress masquerade rules failed');
        const diag = JSON.stringify(r.plan.diagnostics);
        if (diag !== egressDiag) for (const d of r.plan.diagnostics) log.warn(d, 'pod egress masquerade'); // logged when they change
        egressDiag = diag;
        for (const f of r.families) if (f.action === 'applied' || f.action === 'removed') log.info({ family: f.family, action: f.action }, 'pod egress masquerade chain synced');
      });
    }
    if (cfg.cniConfDir) {
      // Thick mode: the plugins' shim hands CNI requests to this server; it falls back to the
      // standalone plugin when the agent is down.
      const { startCniServer } = await import('../cni/server.ts');
      cniServer = await startCniServer({
        ...(cfg.cniSocket ? { socketPath: cfg.cniSocket } : {}),
        onRequest: (r) => log.debug(r, 'CNI request served'),
      });
      log.info({ socket: cniServer.socketPath }, 'CNI thick-mode server listening');
      const confDir = cfg.cniConfDir;
      afterSync.push(async () => {
        const self = agentRef?.sources.nodes.get(cfg.nodeName);
        if (!self) return;
        const r = routes.writeConflist(self as never, { confDir });
        if (r.changed) log.info({ path: r.path }, 'CNI conflist written');
      });
    }
  }
  const agent = new Agent(cfg, {
    kc,
    planner: new IncrementalPlanner(cfg.node),
    reconciler,
    logger: log,
    ipvsStats,
    afterSync,
  });
  agentRef = agent;
  let stopping = false;
  const done = new Promise<number>((resolve) => {
    const stop = (sig: string) => {
      if (stopping) return;
      stopping = true;
      log.info({ signal: sig }, 'stopping (kernel state left in place)');
      agent.stop().then(
        async () => {
          await cniServer?.close();
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
    log.error({ err: e instanceof Error ? e.message : String(e) }, 'start failed');
    await agent.stop().catch(() => undefined);
    return 1;
  }
  log.info(agent.status(), 'first sync done');
  return done;
}
