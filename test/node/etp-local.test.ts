// A LoadBalancer Service with externalTrafficPolicy: Local: the apiserver allocates its
// healthCheckNodePort, and the node's agent answers it (kube-proxy's body) from the host side.
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { nodeWhere, kubectl, createNamespace, createWebDeployment, runningPods, eventually, uniq, nodeAddressFromHost } from './helpers.ts';

const where = nodeWhere();
const ns = uniq('etp');
const HC_PORT = 30091;

async function hc(): Promise<{ code: number; body: any }> {
  const r = await fetch(`http://${nodeAddressFromHost(HC_PORT)}/`, { signal: AbortSignal.timeout(3000) });
  return { code: r.status, body: await r.json() };
}

describe(`externalTrafficPolicy: Local on the real node (${where})`, () => {
  beforeAll(async () => {
    await createNamespace(ns);
    await createWebDeployment(ns, 'web', 2);
    await kubectl(['apply', '-f', '-'], {
      input: JSON.stringify({
        apiVersion: 'v1', kind: 'Service', metadata: { name: 'lb', namespace: ns },
        spec: { type: 'LoadBalancer', externalTrafficPolicy: 'Local', healthCheckNodePort: HC_PORT, selector: { app: 'web' }, ports: [{ port: 80, targetPort: 8080, nodePort: 30090 }] },
      }),
    });
    await runningPods(ns, 'app=web', 2);
  }, 600_000);
  afterAll(async () => {
    await kubectl(['delete', 'namespace', ns, '--wait=true', '--timeout=120s'], { reject: false });
  });

  it('the apiserver kept the healthCheckNodePort asked for', async () => {
    expect((await kubectl(['-n', ns, 'get', 'svc', 'lb', '-o', 'jsonpath={.spec.healthCheckNodePort}'])).stdout).toBe(String(HC_PORT));
  });

  it('the agent answers it from the host side: 200 with both local endpoints', async () => {
    const r = await eventually('health check 200 with 2 local endpoints', async () => {
      const x = await hc();
      return x.code === 200 && x.body.localEndpoints === 2 ? x : undefined;
    });
    expect(r.body.service).toEqual({ namespace: ns, name: 'lb' });
    expect(r.body.serviceProxyHealthy).toBe(true);
  });

  it('scaled to 0: 503 with no local endpoints', async () => {
    await kubectl(['-n', ns, 'scale', 'deployment', 'web', '--replicas=0']);
    await runningPods(ns, 'app=web', 0);
    const r = await eventually('health check 503', async () => {
      const x = await hc();
      return x.code === 503 ? x : undefined;
    });
    expect(r.body.localEndpoints).toBe(0);
  });
});
