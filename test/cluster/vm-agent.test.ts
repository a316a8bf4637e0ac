// The agent inside the VM lane (Debian kernel with IPVS) against the host's real kube-apiserver,
// reached from the guest at https://10.0.2.2:<port>, authenticated as the manifest's ServiceAccount.
// The guest side (test/cluster/guest/scenarios.ts) reads the real kernel and sends real traffic; this
// side creates the API objects, stops/restarts the apiserver for the outage scenario, and asserts each
// check the guest reported.
import { describe, it, expect, beforeAll } from 'vitest';
import { execa } from 'execa';
import { mkdirSync, writeFileSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import {
  clusterState, adminKubeConfig, createNamespace, createService, createSlice, sliceBody, registerNode, uniq, kubeRequest,
  applyManifest, serviceAccountToken, writeKubeconfig, repoRoot, sleep,
} from './helpers.ts';
import { GuestRun, guestCheckCases } from './guest-checks.ts';
import { startApiserver, stopApiserver } from '../../scripts/cluster/cluster.ts';

const state = clusterState();
const admin = adminKubeConfig(state);
const OUTAGE_SECONDS = 30;

const EXPECTED = [
  'start: ClusterIP virtual server with both endpoints',
  'start: NodePort virtual server on the node IP',
  'start: ClusterIP bound on kube-ipvs0',
  'start: KUBE-CLUSTER-IP ipset member',
  'traffic: ClusterIP reaches both backends (rr)',
  'traffic: NodePort answers',
  'traffic: ClusterIP from the node itself',
  'health: /healthz 200',
  'metrics: per-virtual-server IPVS stats',
  'change: new endpoint programmed',
  'tamper: deleted ipset member restored by the periodic resync',
  'tamper: deleted virtual server restored by the periodic resync',
  'tamper: deleted KUBE-SERVICES rule restored by the periodic resync',
  'kill -9: zero failed requests across the restart',
  'kill -9: the resync finds nothing to change',
  'outage: host stopped and restarted the apiserver',
  'outage: zero failed requests while the apiserver is down',
  'outage: /healthz stays 200 (nothing queued, so healthy per the 2×syncPeriod rule)',
  'outage: virtual server untouched',
  'outage: a change made after the restart is programmed',
];

const run = new GuestRun();

describe('agent in the VM against the real apiserver', () => {
  beforeAll(async () => {
    const ns = uniq('vm');
    const nodeName = 'ipvsnet-vm';
    await kubeRequest(admin, 'DELETE', `/api/v1/nodes/${nodeName}`).catch(() => undefined);
    await registerNode(admin, nodeName, { internalIP: '10.0.2.15', podCIDR: '10.244.0.0/24' });
    await createNamespace(admin, ns);
    const svc = await createService(admin, ns, 'web', { type: 'NodePort', ports: [{ port: 80, targetPort: 8080 }] });
    const backends = [{ name: 'be1', ip: '10.244.0.11' }, { name: 'be2', ip: '10.244.0.12' }];
    await createSlice(admin, sliceBody(ns, 'web-a', 'web', backends.map((b) => ({ ip: b.ip, nodeName })), [{ port: 8080 }]));
    await applyManifest(admin, 'base/rbac.yaml');
    const agentKubeconfig = writeKubeconfig('vm-agent', await serviceAccountToken(admin, 'kube-system', 'ipvsnet', 7200), state.guestServer);
    const ctl = join(repoRoot, 'build', 'vm-share', uniq('cluster'));
    mkdirSync(ctl, { recursive: true });
    writeFileSync(join(ctl, 'params.json'), JSON.stringify({
      ns,
      nodeName,
      service: { name: 'web', clusterIP: svc.spec.clusterIP, port: 80, nodePort: svc.spec.ports[0]!.nodePort },
      sliceName: 'web-a',
      backends,
      agentKubeconfig,
      adminKubeconfig: state.guestKubeconfig,
      syncPeriodSeconds: 10,
      outageSeconds: OUTAGE_SECONDS,
    }));
    const vm = execa(join(repoRoot, 'scripts/vm/run.sh'), ['--timeout', '2700', '--hostname', nodeName, '--env', `IPVSNET_CTL=${ctl}`, '--env', `NODE_COMPILE_CACHE=${join(repoRoot, 'build', 'vm-share', 'node-compile-cache')}`, '--', 'node', 'test/cluster/guest/scenarios.ts'], {
      reject: false,
      all: true,
      cwd: repoRoot,
    });
    let finished = false;
    void vm.finally(() => (finished = true));
    // The outage scenario: the guest says when; the host stops the apiserver for OUTAGE_SECONDS.
    while (!finished) {
      if (existsSync(join(ctl, 'outage-ready')) && !existsSync(join(ctl, 'host-apiserver-stopped'))) {
        await stopApiserver(state);
        writeFileSync(join(ctl, 'host-apiserver-stopped'), String(Date.now()));
        await sleep(OUTAGE_SECONDS * 1000);
        await startApiserver(state);
        writeFileSync(join(ctl, 'host-apiserver-restarted'), String(Date.now()));
      }
      await sleep(200);
    }
    const r = await vm;
    run.record(r, ctl);
  }, 2_900_000);

  guestCheckCases(run, EXPECTED);
});
