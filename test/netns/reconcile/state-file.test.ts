// The state file belongs to the network namespace it describes. /run is shared by every netns of a
// host, so `ipvsnet apply` / `cleanup` run with `ip netns exec` (a rehearsal) must neither read nor
// overwrite the record another namespace (the host's running agent) keeps of what it owns.
// The real `bin/ipvsnet` in fresh namespaces (no IPVS on the host: apply reports it missing and exits
// 1, but still records the virtual servers it plans, which is what is checked here).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { execa } from 'execa';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { createNetns, deleteNetns, inNs } from '../kernel/netns.ts';

const ROOT = join(import.meta.dirname, '../../..');
const BIN = join(ROOT, 'bin/ipvsnet');
const RUN_DIR = '/run/ipvsnet';
// A ClusterIP no other test uses, so this namespace's record is recognised among any others under /run.
const VIP = `10.96.${200 + (process.pid % 50)}.${1 + Math.floor(Math.random() * 250)}`;
const KEY = `TCP/${VIP}/8080`;

const dir = mkdtempSync('/tmp/ipvsnet-statefile-');
const manifests = join(dir, 'm');
let A = '', B = '';

function manifest(): string {
  return `apiVersion: v1
kind: Node
metadata: { name: node-1 }
spec: { podCIDRs: [10.244.1.0/24] }
status: { addresses: [{ type: InternalIP, address: 192.168.10.11 }] }
---
apiVersion: v1
kind: Service
metadata: { name: rehearsal, namespace: default }
spec:
  clusterIP: ${VIP}
  ports: [{ name: http, port: 8080, protocol: TCP, targetPort: 8080 }]
---
apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata: { name: rehearsal-1, namespace: default, labels: { kubernetes.io/service-name: rehearsal } }
addressType: IPv4
ports: [{ name: http, port: 8080, protocol: TCP }]
endpoints: [{ addresses: [10.244.1.40], conditions: { ready: true }, nodeName: node-1 }]
`;
}

async function ipvsnet(ns: string, ...args: string[]) {
  return execa('ip', ['netns', 'exec', ns, BIN, ...args], { reject: false, env: { IPVSNET_LOG_LEVEL: 'silent' } });
}
const apply = (ns: string, ...extra: string[]) => ipvsnet(ns, 'apply', '-f', manifests, '--node', 'node-1', '--cluster-cidr', '10.244.0.0/16', '--iptables-backend', 'nft', ...extra);
const cleanup = (ns: string, ...extra: string[]) => ipvsnet(ns, 'cleanup', '--iptables-backend', 'nft', '--family', '4', ...extra);

async function netnsOf(ns: string): Promise<string> {
  return (await inNs(ns, 'readlink', '/proc/self/ns/net')).trim();
}

/** Every state file under /run/ipvsnet whose record lists KEY, with the namespace it names. */
function recordsOfKey(): { file: string; netns: unknown; virtualServers: unknown }[] {
  if (!existsSync(RUN_DIR)) return [];
  const out: { file: string; netns: unknown; virtualServers: unknown }[] = [];
  for (const rel of readdirSync(RUN_DIR, { recursive: true, encoding: 'utf8' })) {
    if (!rel.endsWith('.json')) continue;
    const file = join(RUN_DIR, rel);
    let raw: { netns?: unknown; virtualServers?: unknown };
    try { raw = JSON.parse(readFileSync(file, 'utf8')) as typeof raw; } catch { continue; }
    if (Array.isArray(raw.virtualServers) && raw.virtualServers.includes(KEY)) out.push({ file, netns: raw.netns, virtualServers: raw.virtualServers });
  }
  return out;
}

beforeAll(async () => {
  mkdirSync(manifests, { recursive: true });
  writeFileSync(join(manifests, 'svc.yaml'), manifest());
  A = await createNetns('ipvsnet-stA');
  B = await createNetns('ipvsnet-stB');
  for (const ns of [A, B]) await inNs(ns, 'ip', 'link', 'set', 'lo', 'up');
});
afterAll(async () => {
  // Each namespace removes its own record (and its chains and sets) before it goes; then its state
  // directory goes too (the kernel may give a later namespace the same inode).
  for (const ns of [A, B]) {
    if (!ns) continue;
    await cleanup(ns);
    rmSync(join(RUN_DIR, `net-${/\d+/.exec(await netnsOf(ns))![0]}`), { recursive: true, force: true });
    await deleteNetns(ns);
  }
  rmSync(dir, { recursive: true, force: true });
});

describe('state file per network namespace', () => {
  it('apply in one netns records its virtual servers in a file naming that netns; cleanup in another netns leaves that record alone', async () => {
    const a = await apply(A);
    expect(a.exitCode).toBe(1); // the host kernel has no IPVS and no dummy links: apply says so and exits 1
    const before = recordsOfKey();
    expect(before).toHaveLength(1);

    const c = await cleanup(B);
    expect(c.exitCode, c.stderr).toBe(0);
    // A's record is still there, unchanged: a cleanup elsewhere never erases it.
    expect(recordsOfKey()).toEqual(before);
    // It names A's namespace and lives in A's directory.
    const idA = await netnsOf(A);
    expect(before[0]!.netns).toBe(idA);
    expect(before[0]!.file).toBe(join(RUN_DIR, `net-${/\d+/.exec(idA)![0]}`, 'state.json'));

    // A's own cleanup empties A's record.
    expect((await cleanup(A)).exitCode).toBe(0);
    expect(recordsOfKey()).toEqual([]);
  });

  it('a state file given with --state-file that another netns recorded is neither read nor overwritten', async () => {
    const shared = join(dir, 'shared-state.json');
    await apply(A, '--state-file', shared);
    const recorded = readFileSync(shared, 'utf8');
    expect(JSON.parse(recorded)).toMatchObject({ netns: await netnsOf(A), virtualServers: [KEY] });

    const b = await apply(B, '--state-file', shared);
    expect(b.exitCode).toBe(1);
    expect(b.stderr).toContain(`state file ${shared} belongs to network namespace ${await netnsOf(A)}`);
    expect(readFileSync(shared, 'utf8')).toBe(recorded);

    await cleanup(B, '--state-file', shared);
    expect(readFileSync(shared, 'utf8')).toBe(recorded);

    expect((await cleanup(A, '--state-file', shared)).exitCode).toBe(0);
    expect(JSON.parse(readFileSync(shared, 'utf8'))).toMatchObject({ netns: await netnsOf(A), virtualServers: [] });
  });
});
