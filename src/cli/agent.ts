// `ipvsnet agent`: the node agent, with kube-proxy's command line and configuration (src/config). This
// file wires: the command line → the resolved configuration → the logger (src/log) → the API server
// sources and Events (src/agent/cluster.ts), the proxy's planner and reconciler, the pod-network
// controller (src/podnet), the CNI thick-mode server, and the Agent that drives them.
// Like kube-proxy: a refused command line prints pflag's "Error: …" and exits 1; a refused configuration
// logs "command failed" with kube-proxy's error text and exits 1; --help, --version, --write-config-to,
// --init-only and --cleanup do their one thing and exit. On SIGTERM/SIGINT the agent stops watching
// and leaves the kernel as it is (kube-proxy does the same), within SHUTDOWN_DEADLINE_MS whatever the
// API server does.

import { watch, writeFileSync, type FSWatcher } from 'node:fs';
import {
  AGENT_FLAGS, agentConfigFrom, flagValueText, kubeProxyYaml, reportedVersionError, parseAgentCommandLine, resolveKubeProxy, usage, versionLine, ConfigError, FlagError,
  type AgentConfig,
} from '../config/index.ts';
import { createLogger, type KLogger, type Logger } from '../log/index.ts';
import { loadKubeConfig } from '../sources/kube.ts';
import { Agent, type AgentController } from '../agent/agent.ts';
import { clusterDeps } from '../agent/cluster.ts';
import { parseCIDR, type Family } from '../net/index.ts';
import type { Ipvs } from '../kernel/ipvs/types.ts';

/** SIGTERM → exit within this, whatever the API server or a stuck part does. */
export const SHUTDOWN_DEADLINE_MS = 1500;

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

/** kube-proxy's IPVS sysctls (vs/conntrack=1 lets iptables masquerade IPVS traffic; strict ARP when asked). */
async function applyProxySysctls(cfg: AgentConfig, log: KLogger): Promise<number> {
  const { applySysctls, kubeProxySysctls } = await import('../kernel/sysctl.ts');
  const sysctls = await applySysctls(kubeProxySysctls({ strictARP: cfg.node.strictARP }));
  for (const c of sysctls.changed) log.v(2).info(c, 'sysctl set');
  for (const f of sysctls.failed) log.error({ err: f.message }, 'sysctl could not be set');
  return sysctls.failed.length;
}

/** `agent --cleanup`: what `ipvsnet cleanup` removes, with the agent's flags. */
async function cleanup(cfg: AgentConfig, log: KLogger): Promise<number> {
  const { Reconciler } = await import('../reconcile/index.ts');
  const { cleanupPodNetwork } = await import('../podnet/index.ts');
  const { reconciler } = await Reconciler.open({ logger: log, families: [4, 6] });
  const r = await reconciler.cleanup();
  reconciler.close();
  const p = await cleanupPodNetwork({ families: [4, 6], ...(cfg.cniConfDir ? { confDir: cfg.cniConfDir } : {}) });
  if (cfg.cniConfDir) {
    const { cleanupMultinetConflist } = await import('../multinet/cleanup.ts');
    const m = await cleanupMultinetConflist(cfg.cniConfDir).catch((e: unknown) => ({ path: cfg.cniConfDir!, action: `failed: ${message(e)}` }));
    log.info({ path: m.path, action: m.action }, 'multi-network conflist');
  }
  for (const e of [...r.failures.map((f) => `${f.object}: ${f.operation}: ${f.error}`), ...p.errors]) log.error({ err: e }, 'cleanup operation failed');
  log.info({ operations: r.totalOperations, failures: r.failures.length, podRoutes: p.routes.length, podEgress: p.egress.restores, conflist: p.conflist?.action }, 'cleanup done');
  return r.failures.length || p.errors.length ? 1 : 0;
}

/** The command line and configuration, or the exit code of a run that ends here (help, version, errors). */
function configure(argv: string[]): { cfg: AgentConfig; log: KLogger } | number {
  let parsed;
  try {
    parsed = parseAgentCommandLine(argv);
  } catch (e) {
    if (!(e instanceof FlagError)) throw e;
    process.stderr.write(`Error: ${e.message}\nRun 'ipvsnet agent --help' for usage.\n`);
    return 1;
  }
  for (const n of parsed.notices) process.stderr.write(`${n}\n`);
  if (parsed.values.get('help') === true) {
    process.stdout.write(usage() + '\n');
    return 0;
  }
  const version = parsed.values.get('version') as string | undefined;
  if (version === 'true' || version === 'raw') {
    process.stdout.write(versionLine(version === 'raw') + '\n');
    return 0;
  }
  const badVersion = version === undefined ? undefined : reportedVersionError(version);
  if (badVersion) {
    process.stderr.write(`Error: ${badVersion}\n`);
    return 1;
  }
  let format: 'text' | 'json' = 'text';
  try {
    const kp = resolveKubeProxy(parsed.values, parsed.notices);
    format = kp.config.logging.format === 'json' ? 'json' : 'text';
    const cfg = agentConfigFrom(kp);
    const log = createLogger(cfg.logging);
    // kube-proxy's cliflag.PrintFlags at V(1) (ipvsnet prints the flags given, not every flag's default)
    if (log.v(1).enabled) {
      for (const [name, v] of [...parsed.values].sort(([a], [b]) => a.localeCompare(b))) log.v(1).info(`FLAG: --${name}=${JSON.stringify(flagValueText(v, AGENT_FLAGS.find((d) => d.name === name)?.type))}`);
    }
    for (const n of kp.notes) log[n.level](n.kv, n.msg);
    return { cfg, log };
  } catch (e) {
    if (!(e instanceof ConfigError)) throw e;
    // kube-proxy's "command failed", in the format asked for once the logging settings were valid
    createLogger({ format: e.logFormat ?? format }).error({ err: e.message }, 'command failed');
    return 1;
  }
}

export async function run(argv: string[]): Promise<number> {
  const configured = configure(argv);
  if (typeof configured === 'number') return configured;
  const { cfg, log } = configured;
  if (cfg.writeConfigTo) {
    try {
      writeFileSync(cfg.writeConfigTo, kubeProxyYaml(cfg.kubeProxy));
    } catch (e) {
      log.error({ err: message(e) }, 'command failed');
      return 1;
    }
    log.info({ file: cfg.writeConfigTo }, 'Wrote configuration');
    return 0;
  }
  if (cfg.cleanup) return cleanup(cfg, log);
  if (cfg.initOnly) {
    // the privileged part of the start (kube-proxy: sysctls and the IPVS settings), without the API server
    const ipvs = await openIpvsWithTimeouts(cfg, log);
    ipvs?.close?.();
    return (await applyProxySysctls(cfg, log)) ? 1 : 0;
  }

  let kc;
  try {
    kc = loadKubeConfig({ kubeconfig: cfg.kubeconfig, master: cfg.master });
  } catch (e) {
    log.error({ err: message(e) }, 'command failed');
    return 1;
  }
  const { IncrementalPlanner } = await import('../plan/index.ts');
  const { Reconciler } = await import('../reconcile/index.ts');
  const { mallocTrim } = await import('../native/index.ts');
  const families = familiesOf(cfg);
  const ipvs = await openIpvsWithTimeouts(cfg, log);
  const { reconciler, problems } = await Reconciler.open({ logger: log, families, excludeCIDRs: cfg.node.excludeCIDRs, ipvs, gracefulTimeoutMs: cfg.gracefulTerminationBoundMs || Infinity });
  for (const p of problems) log.warn({ problem: p }, 'kernel feature missing');
  await applyProxySysctls(cfg, log);

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
  if (cfg.cniConfDir && !cfg.multiNetwork) {
    // multi-network switched off: a wrapper conflist left from before would send pods to a plugin this agent refuses
    const { cleanupMultinetConflist } = await import('../multinet/cleanup.ts');
    const m = await cleanupMultinetConflist(cfg.cniConfDir).catch((e: unknown) => ({ path: cfg.cniConfDir!, action: `failed: ${message(e)}` }));
    if (m.action !== 'absent') log.info({ path: m.path, action: m.action }, 'multi-network is off: its conflist');
  }
  if (cfg.multiNetwork && cfg.cniConfDir) {
    const { MultinetController } = await import('../multinet/controller.ts');
    multinet = new MultinetController({
      kc, nodeName: cfg.nodeName, confDir: cfg.cniConfDir, logger: log,
      ...(cfg.multiNetworkGlobalNamespaces ? { namespaceIsolation: true, globalNamespaces: cfg.multiNetworkGlobalNamespaces } : {}),
      ...(cfg.multiNetworkHostRoot ? { hostRoot: cfg.multiNetworkHostRoot } : {}),
      ...(cfg.multiNetworkDefaultNetworks ? { defaultNetworks: cfg.multiNetworkDefaultNetworks } : {}),
      ...(cfg.multiNetworkReadinessIndicatorFile ? { readinessIndicatorFile: cfg.multiNetworkReadinessIndicatorFile } : {}),
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

  // Shutdown: stop every part at once; whatever has not finished by the deadline is left behind (the
  // kernel state stays either way), and the process exits even if a socket is still open.
  let stopping = false;
  let configWatch: FSWatcher | undefined;
  let finish!: (code: number) => void;
  const done = new Promise<number>((resolve) => (finish = resolve));
  const stop = (sig: string, code = 0) => {
    if (stopping) return;
    stopping = true;
    configWatch?.close();
    const t0 = performance.now();
    log.info({ signal: sig }, 'stopping (kernel state left in place)');
    const deadline = setTimeout(() => {
      log.warn({ deadlineMs: SHUTDOWN_DEADLINE_MS }, 'shutdown deadline reached; exiting with parts still stopping');
      exitSoon(code);
    }, SHUTDOWN_DEADLINE_MS);
    void Promise.allSettled([agent.stop(), cniServer?.close()]).then((results) => {
      multinet?.stop();
      closePodNetwork();
      reconciler.close();
      clearTimeout(deadline);
      const failed = results.filter((r) => r.status === 'rejected').map((r) => message((r as PromiseRejectedResult).reason));
      for (const err of failed) log.error({ err }, 'part failed to stop');
      log.info({ ms: Math.round(performance.now() - t0) }, 'stopped');
      exitSoon(failed.length ? 1 : code);
    });
  };
  /** Resolve the run; if something still holds the event loop (a socket to a hung API server), exit anyway. */
  const exitSoon = (code: number) => {
    finish(code);
    setTimeout(() => process.exit(code), 200).unref();
  };
  process.once('SIGTERM', () => stop('SIGTERM'));
  process.once('SIGINT', () => stop('SIGINT'));
  // kube-proxy watches its --config file and exits (1) when it is written or replaced, so that its
  // supervisor starts it again on the new content.
  if (cfg.configFile) {
    try {
      configWatch = watch(cfg.configFile, (event) => {
        if (event !== 'change' && event !== 'rename') return;
        log.error({ err: "content of the proxy server's configuration file was updated" }, 'Error running ProxyServer');
        stop('config file changed', 1);
      });
      configWatch.on('error', (e) => log.error({ err: message(e) }, 'config file watch failed'));
    } catch (e) {
      log.error({ err: message(e) }, 'command failed');
      return 1;
    }
  }

  log.v(2).info({ minSyncPeriod: cfg.minSyncPeriodMs, syncPeriod: cfg.syncPeriodMs, maxSyncPeriod: cfg.syncPeriodMs }, 'ipvs sync params');
  log.info({ node: cfg.nodeName, syncPeriod: cfg.syncPeriodMs, minSyncPeriod: cfg.minSyncPeriodMs, server: kc.getCurrentCluster()?.server, healthz: cfg.healthz, metrics: cfg.metrics }, 'starting');
  try {
    await agent.start();
  } catch (e) {
    if (stopping) return done;
    log.error({ err: message(e) }, 'start failed');
    stop('start failed');
    await done;
    return 1;
  }
  if (!stopping) log.info(agent.status(), 'first sync done');
  return done;
}
