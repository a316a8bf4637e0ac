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
  AGENT_FLAGS, agentConfigFrom, flagValueText, ipvsnetVersion, kubeProxyYaml, reportedVersionError, parseAgentCommandLine, resolveKubeProxy, usage, versionLine, ConfigError, FlagError,
  type AgentConfig,
} from '../config/index.ts';
import { createLogger, type KLogger, type Logger } from '../log/index.ts';
import { loadKubeConfig } from '../sources/kube.ts';
import { Agent, type AgentController } from '../agent/agent.ts';
import { clusterDeps } from '../agent/cluster.ts';
import { AgentMetrics } from '../metrics/index.ts';
import { parseCIDR, type Family } from '../net/index.ts';
import type { Ipvs } from '../kernel/ipvs/types.ts';

/** SIGTERM → exit within this, whatever the API server or a stuck part does. */
export const SHUTDOWN_DEADLINE_MS = 1500;

/**
 * kube-proxy's families: both whenever the host supports IPv6 (its IPv6 proxier runs on IPv4-only
 * clusters too), IPv4 alone otherwise.
 */
async function hostFamilies(log: Logger): Promise<Family[]> {
  const { ipv6Support } = await import('../kernel/host.ts');
  const v6 = await ipv6Support();
  if (!v6.supported) {
    log.info({ ipFamily: 'IPv6' }, v6.reason ?? 'No kernel support for family');
    return [4];
  }
  // kube-proxy also needs ip6tables for the family.
  const { detectBackend } = await import('../kernel/iptables.ts');
  const { createRunner } = await import('../kernel/exec.ts');
  try {
    await detectBackend(createRunner().run, 6);
  } catch (e) {
    log.info({ ipFamily: 'IPv6', error: message(e) }, 'No iptables support for family');
    return [4];
  }
  return [4, 6];
}

/**
 * The test lanes' escape from the IPVS check, and the only one: the cluster and node lanes run the
 * real agent on the host, whose kernel has neither IPVS nor dummy links. With this variable set to 1
 * and IPVS missing, the agent says so at start and runs without IPVS and kube-ipvs0 (ipsets and
 * iptables are still programmed); without it, a missing IPVS ends the agent as it ends kube-proxy.
 */
export const TEST_WITHOUT_IPVS_ENV = 'IPVSNET_TEST_WITHOUT_IPVS';

const message = (e: unknown) => (e instanceof Error ? e.message : String(e));

/** One IPVS socket for the reconciler, the statistics and the timeouts; null when IPVS is missing and the test escape is set; throws otherwise. */
async function openIpvsWithTimeouts(cfg: AgentConfig, log: Logger): Promise<Ipvs | null> {
  const { openIpvs } = await import('../kernel/open.ts');
  let ipvs: Ipvs;
  try {
    ipvs = await openIpvs();
  } catch (e) {
    if (process.env[TEST_WITHOUT_IPVS_ENV] !== '1') throw new Error(`can't use the IPVS proxier: ${message(e)}`);
    log.warn({ problem: message(e), env: `${TEST_WITHOUT_IPVS_ENV}=1` }, 'IPVS is missing: running WITHOUT IPVS and kube-ipvs0 for a test lane (kube-proxy would exit here)');
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

/**
 * kube-proxy's node settings at start: the conntrack sysctls (kube-proxy's log lines: "Set sysctl",
 * "Setting conntrack hashsize") and the process's oom_score_adj. A failure is logged and the agent
 * goes on (kube-proxy exits on a conntrack failure: docs/kube-proxy-differences.md).
 */
async function applyNodeSettings(cfg: AgentConfig, log: Logger): Promise<void> {
  const { applyConntrackSettings, applyOomScoreAdj, HASHSIZE_PATH } = await import('../kernel/conntrack-sysctls.ts');
  const ct = cfg.conntrack;
  const secs = (ms: number | null) => (ms === null ? null : Math.round(ms / 1000));
  try {
    const steps = await applyConntrackSettings({
      maxPerCore: ct.maxPerCore ?? 0, min: ct.min ?? 0,
      tcpEstablishedTimeout: secs(ct.tcpEstablishedTimeoutMs), tcpCloseWaitTimeout: secs(ct.tcpCloseWaitTimeoutMs),
      tcpBeLiberal: ct.tcpBeLiberal, udpTimeout: secs(ct.udpTimeoutMs) ?? 0, udpStreamTimeout: secs(ct.udpStreamTimeoutMs) ?? 0,
    });
    for (const st of steps) {
      if (st.action === 'skipped') log.debug({ entry: st.entry, value: st.value, reason: st.reason }, 'Conntrack setting left as it is');
      else if (st.entry === HASHSIZE_PATH) log.info({ conntrackHashsize: st.value }, 'Setting conntrack hashsize');
      else log.info({ entry: st.entry, value: st.value }, 'Set sysctl');
    }
  } catch (e) {
    log.error({ err: message(e) }, 'could not set conntrack parameters from kube-proxy configuration');
  }
  if (cfg.oomScoreAdj !== null) {
    await applyOomScoreAdj(cfg.oomScoreAdj).catch((e: unknown) => log.warn({ err: message(e) }, 'Failed to apply OOMScore'));
  }
}

/** kube-proxy's iptables-mode chains and nftables-mode tables (src/reconcile/leftovers.ts); returns the number of failures. */
async function removeLeftovers(log: Logger): Promise<number> {
  const { removeKubeProxyLeftoversHere } = await import('../reconcile/leftovers.ts');
  const r = await removeKubeProxyLeftoversHere([4, 6]);
  for (const f of r.iptables) log.info({ family: `IPv${f.family}`, chains: f.chains.length, rules: f.rules, kept: f.kept }, 'removed kube-proxy iptables-mode leftovers');
  if (r.nftTables.length) log.info({ tables: r.nftTables }, 'removed kube-proxy nftables-mode tables');
  if (r.nftMissing) log.warn({}, 'nft is not installed: kube-proxy nftables-mode tables, if any, are not removed');
  for (const e of r.errors) log.error({ err: e }, 'Error cleaning up leftover kube-proxy rules');
  return r.errors.length;
}

/** `agent --cleanup`: what `ipvsnet cleanup` removes, and kube-proxy's other modes' leftovers, with the agent's flags. */
async function cleanup(cfg: AgentConfig, log: KLogger): Promise<number> {
  const leftoverErrors = await removeLeftovers(log);
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
  return r.failures.length || p.errors.length || leftoverErrors ? 1 : 0;
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
    // the privileged part of the start (kube-proxy: conntrack, the IPVS check and settings, sysctls), without the API server
    await applyNodeSettings(cfg, log);
    try {
      (await openIpvsWithTimeouts(cfg, log))?.close?.();
    } catch (e) {
      log.error({ err: message(e) }, 'Error running ProxyServer');
      return 1;
    }
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
  const families = await hostFamilies(log);
  const nodeConfig = { ...cfg.node, families };
  await applyNodeSettings(cfg, log);
  let ipvs: Ipvs | null;
  try {
    ipvs = await openIpvsWithTimeouts(cfg, log);
  } catch (e) {
    log.error({ err: message(e) }, 'Error running ProxyServer');
    return 1;
  }
  // Without IPVS (the test escape only) there is nothing to bind kube-ipvs0's addresses for.
  const { reconciler, problems } = await Reconciler.open({
    logger: log, families, excludeCIDRs: cfg.node.excludeCIDRs, ipvs, ...(ipvs ? {} : { link: null }), gracefulTimeoutMs: cfg.gracefulTerminationBoundMs || Infinity, repairIntervalMs: cfg.syncPeriodMs,
  });
  for (const p of problems) log.warn({ problem: p }, 'kernel feature missing');
  await applyProxySysctls(cfg, log);

  // IP pools (opt-in): claim this Node's podCIDR(s) from the IPPools that select it (src/pools).
  const poolFeed = new (await import('./agent-pools.ts')).PoolFeed(); // the pools (natOutgoing) for the pod network's egress chain
  const claimer = cfg.ipPools ? new (await import('../pools/claimer.ts')).PoolClaimer({ kc, nodeName: cfg.nodeName, logger: log, onPools: poolFeed.onPools }) : undefined;
  claimer?.start();
  const { startLoadBalancerParts, nodePortAddresses } = await import('./agent-lb.ts');
  const lbParts = await startLoadBalancerParts(cfg, kc, log);
  // The pod network (opt-in): peer routes and the egress chain with --pod-routes, the conflist with --cni-conf-dir.
  const controllers: AgentController[] = lbParts?.controller ? [lbParts.controller] : [];
  let closePodNetwork = () => {};
  if (cfg.podRoutes || cfg.cniConfDir) {
    const podnet = await import('../podnet/index.ts');
    const kernel = podnet.openPodNetworkKernel();
    closePodNetwork = () => kernel.close();
    const clusterFamilies = [...new Set(cfg.node.clusterCIDRs.map((c) => parseCIDR(c)?.ip.family).filter((f): f is Family => f !== undefined))];
    const reconcilerPn = new podnet.PodNetworkReconciler(kernel, { egressFamilies: clusterFamilies, verifyIntervalMs: cfg.syncPeriodMs });
    const podnetCtl = new podnet.PodNetworkController({
      nodeName: cfg.nodeName,
      routes: cfg.podRoutes,
      ...(cfg.podRoutes ? { egress: { enabled: cfg.podEgressMasquerade, clusterCIDRs: cfg.node.clusterCIDRs, randomFully: cfg.node.randomFully } } : {}),
      ...(cfg.cniConfDir ? { conflist: { confDir: cfg.cniConfDir } } : {}),
      reconciler: reconcilerPn,
      logger: log,
    });
    controllers.push(podnetCtl);
    poolFeed.feed(podnetCtl);
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
  const { LinkAdapter } = await import('../kernel/link.ts');
  const { DEFAULT_DUMMY } = await import('../reconcile/addresses.ts');
  const addressSource = new LinkAdapter();
  const agent = new Agent(cfg, {
    // Every Node only for the peer routes; the proxy and the conflist read this node's alone (kube-proxy watches only its own).
    ...clusterDeps(kc, cfg.nodeName, log, new AgentMetrics({ version: ipvsnetVersion() }), { allNodes: cfg.podRoutes }),
    planner: new IncrementalPlanner(nodeConfig),
    // NodePorts are served on the node's interface addresses (kube-ipvs0's and announced LoadBalancer addresses excepted), read each sync.
    localAddresses: async () => nodePortAddresses(await addressSource.addressesExcept(DEFAULT_DUMMY), lbParts?.serviceAddresses?.()),
    reconciler,
    controllers,
    logger: log,
    ...(ipvs ? { ipvsStats: ipvs as never } : {}),
    // bin/ipvsnet runs the agent with --expose-gc for this one collection after the first sync (src/agent/README.md, Memory)
    releaseMemory: (after) => { if (after === 'first-sync') (globalThis as { gc?: (o: object) => void }).gc?.({ type: 'major', execution: 'sync', flavor: 'last-resort' }); mallocTrim(); },
  });
  poolFeed.syncWith(() => agent.runner.run());

  // Shutdown: stop every part at once; whatever has not finished by the deadline is left behind (the
  // kernel state stays either way), and the process exits even if a socket is still open.
  let stopping = false;
  let configWatch: FSWatcher | undefined;
  let leftovers: Promise<unknown> | undefined;
  let finish!: (code: number) => void;
  const done = new Promise<number>((resolve) => (finish = resolve));
  const stop = (sig: string, code = 0) => {
    if (stopping) return;
    stopping = true;
    configWatch?.close();
    claimer?.stop();
    const t0 = performance.now();
    log.info({ signal: sig }, 'stopping (kernel state left in place)');
    const deadline = setTimeout(() => {
      log.warn({ deadlineMs: SHUTDOWN_DEADLINE_MS }, 'shutdown deadline reached; exiting with parts still stopping');
      exitSoon(code);
    }, SHUTDOWN_DEADLINE_MS);
    // the leftover clean-up's iptables children end before the process does (bounded by the deadline)
    void Promise.allSettled([agent.stop(), cniServer?.close(), lbParts?.stop(), leftovers]).then((results) => {
      multinet?.stop();
      closePodNetwork();
      addressSource.close();
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
  // kube-proxy in IPVS mode removes the nftables mode's tables at start; ipvsnet also removes the
  // iptables mode's chains, whose rules would otherwise sit in front of its virtual servers. After
  // the first sync: until IPVS serves the Services, kube-proxy's rules go on serving them on a node
  // taken over from kube-proxy (test/cluster/vm-migrate.test.ts).
  if (!stopping) await (leftovers = removeLeftovers(log));
  return done;
}
