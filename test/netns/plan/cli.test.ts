// `ipvsnet plan` end to end through bin/ipvsnet: formats, diagnostics on stderr, exit codes.

import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { execa } from 'execa';

const root = new URL('../../../', import.meta.url).pathname;
const bin = join(root, 'bin/ipvsnet');
const ex = (f: string) => join(root, 'examples', f);
const run = (args: string[]) => execa(bin, ['plan', ...args], { reject: false, cwd: root });
const tmp = mkdtempSync(join(tmpdir(), 'ipvsnet-cli-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

describe('ipvsnet plan', { timeout: 300_000 }, () => {
  it('plans every shipped example with exit 0 and no diagnostics', async () => {
    for (const f of ['cluster.yaml', 'cases/', '']) {
      const r = await run(['-f', ex(f), '--node', 'node-1', '--cluster-cidr', '10.244.0.0/16,fd00:10:244::/56', '-o', 'json']);
      // Each case file repeats the same Nodes: identical duplicates are not worth a warning.
      expect(r.stderr).toBe('');
      expect(r.exitCode).toBe(0);
      const plan = JSON.parse(r.stdout);
      expect(plan.node).toBe('node-1');
    }
  });

  it('iptables is the default format; ipset and ipvsadm render the same plan', async () => {
    const args = ['-f', ex('cases/kube-dns.yaml'), '--node', 'node-1'];
    const ipt = await run(args);
    expect(ipt.exitCode).toBe(0);
    expect(ipt.stdout).toContain('*nat');
    expect(ipt.stdout).toContain('-A KUBE-SERVICES -m comment --comment "Kubernetes service cluster ip + port for masquerade purpose" -m set --match-set KUBE-CLUSTER-IP src,dst -j KUBE-MARK-MASQ');
    const ipvsadm = await run([...args, '--format', 'ipvsadm']);
    expect(ipvsadm.stdout).toContain('-A -u 10.96.0.10:53 -s rr\n-a -u 10.96.0.10:53 -r 10.244.1.3:53 -m -w 1\n');
    const ipset = await run([...args, '-o', 'ipset']);
    expect(ipset.stdout).toContain('add KUBE-CLUSTER-IP 10.96.0.10,udp:53 -exist');
    expect(ipset.stdout).toContain('add KUBE-LOOP-BACK 10.244.1.3,tcp:9153,10.244.1.3 -exist');
  });

  it('--masquerade-all, --ipvs-scheduler, --nodeport-addresses and --family change the output', async () => {
    const r = await run(['-f', ex('cases/nodeport.yaml'), '--node', 'node-1', '--masquerade-all', '--ipvs-scheduler', 'wlc', '--nodeport-addresses', '10.0.0.0/8', '-o', 'json']);
    const plan = JSON.parse(r.stdout);
    expect(plan.families[0].iptables.restore).toContain('--match-set KUBE-CLUSTER-IP dst,dst -j KUBE-MARK-MASQ');
    // web has its own scheduler (annotation); no node address matches 10/8, so no NodePort virtual server.
    expect(plan.families[0].virtualServers.map((v: { kind: string; scheduler: string }) => `${v.kind}/${v.scheduler}`)).toEqual(['clusterIP/mh']);
    const v6 = await run(['-f', ex('cases/dual-stack.yaml'), '--node', 'node-1', '--family', '6', '-o', 'ipvsadm']);
    expect(v6.stdout).toContain('-A -t [fd00:10:96::80:10]:80 -s rr');
    expect(v6.stdout).not.toContain('10.96.80.10');
  });

  it('the only Node is the default --node', async () => {
    const f = join(tmp, 'one-node.yaml');
    writeFileSync(f, `apiVersion: v1\nkind: Node\nmetadata: { name: solo }\nstatus: { addresses: [{ type: InternalIP, address: 192.168.5.5 }] }\n`);
    const r = await run(['-f', f, '-o', 'json']);
    expect(JSON.parse(r.stdout).node).toBe('solo');
  });

  it('exit 3 when objects were skipped; one diagnostic per line naming kind, ns/name, field', async () => {
    const f = join(tmp, 'bad.yaml');
    writeFileSync(
      f,
      `apiVersion: v1\nkind: Service\nmetadata: { name: good }\nspec: { clusterIP: 10.96.0.1, ports: [{ port: 80 }] }\n---\n` +
        `apiVersion: v1\nkind: Service\nmetadata: { name: bad, namespace: shop }\nspec: { clusterIP: 10.96.0.2, ports: [{ port: 0 }] }\n`,
    );
    const r = await run(['-f', f, '-o', 'ipvsadm']);
    expect(r.exitCode).toBe(3);
    // (execa strips the final newline)
    expect(r.stderr).toBe('error: Service shop/bad spec.ports[0].port: port 0 out of range 1..65535');
    expect(r.stdout).toBe('-A -t 10.96.0.1:80 -s rr');
  });

  it('a bad file is one diagnostic naming it, exit 3, the other files still planned (issue 10, faults 5 and 12)', async () => {
    const d = join(tmp, 'mixed');
    mkdirSync(d);
    writeFileSync(join(d, 'a-good.yaml'), `apiVersion: v1\nkind: Service\nmetadata: { name: good }\nspec: { clusterIP: 10.96.0.1, ports: [{ port: 80 }] }\n`);
    writeFileSync(join(d, 'b-aliases.yaml'), `kind: Service\nmetadata: { name: x, labels: &l { a: b } }\nspec: { ports: [${Array(150).fill('*l').join(',')}] }\n`);
    writeFileSync(join(d, 'c-deep.json'), '['.repeat(100_000) + ']'.repeat(100_000));
    execFileSync('mkfifo', [join(d, 'd-pipe.yaml')]);
    const r = await run(['-f', d, '-o', 'ipvsadm']);
    expect(r.exitCode).toBe(3);
    expect(r.stdout).toBe('-A -t 10.96.0.1:80 -s rr');
    expect(r.stderr.split('\n')).toEqual([
      expect.stringMatching(new RegExp(`^error: Config ${join(d, 'b-aliases.yaml')} document 1: uses more than 100 YAML aliases`)),
      expect.stringMatching(new RegExp(`^error: Config ${join(d, 'c-deep.json')} document 1: nested deeper than 100 levels`)),
      expect.stringMatching(new RegExp(`^error: Config ${join(d, 'd-pipe.yaml')} \\(file\\): not a regular file \\(a FIFO\\)`)),
    ]);
  });

  it('an injected flag value is refused before any output; an injected object name stays on one line (issue 10, fault 9)', async () => {
    const r = await run(['-f', ex('cluster.yaml'), '--node', 'node-1', '--ipvs-scheduler', 'rr\n-A -t 10.0.0.1:80 -s rr', '-o', 'ipvsadm']);
    expect(r.exitCode).toBe(2);
    expect(r.stdout).toBe('');
    expect(r.stderr.split('\n')).toEqual([expect.stringMatching(/^ipvsnet plan: --ipvs-scheduler: unknown IPVS scheduler "rr\\n-A -t 10.0.0.1:80 -s rr"/), "run 'ipvsnet plan --help' for usage"]);
    const f = join(tmp, 'inject.json');
    writeFileSync(f, JSON.stringify({ apiVersion: 'v1', kind: 'Service', metadata: { name: 'web\n-A -t 10.0.0.1:80 -s rr' }, spec: { clusterIP: '10.96.0.1', ports: [{ port: 80 }] } }));
    const r2 = await run(['-f', f, '-o', 'ipvsadm']);
    expect(r2.exitCode).toBe(3);
    expect(r2.stdout).toBe('');
    expect(r2.stderr.split('\n')).toHaveLength(1);
    expect(r2.stderr).toContain('default/web\\n-A -t 10.0.0.1:80 -s rr metadata.name');
  });

  it('exit 0 with warnings only', async () => {
    const f = join(tmp, 'warn.yaml');
    writeFileSync(f, `apiVersion: v1\nkind: Service\nmetadata: { name: w, annotations: { ipvsnet.io/scheduler: fastest } }\nspec: { clusterIP: 10.96.0.1, ports: [{ port: 80 }] }\n`);
    const r = await run(['-f', f, '-o', 'ipvsadm']);
    expect(r.exitCode).toBe(0);
    expect(r.stderr).toMatch(/^warning: Service default\/w metadata.annotations\["ipvsnet.io\/scheduler"\]: unknown IPVS scheduler "fastest"/);
  });

  it('exit 2 for unusable arguments or unreadable files', async () => {
    expect((await run([])).exitCode).toBe(2);
    expect((await run(['-f', ex('cluster.yaml'), '--format', 'nft'])).exitCode).toBe(2);
    expect((await run(['-f', ex('cluster.yaml'), '--bogus'])).exitCode).toBe(2);
    expect((await run(['-f', ex('cluster.yaml'), '--family', '5'])).exitCode).toBe(2);
    const missing = await run(['-f', join(tmp, 'missing.yaml')]);
    expect(missing.exitCode).toBe(2);
    expect(missing.stderr).toContain('missing.yaml');
    expect((await run(['--kubeconfig', join(tmp, 'no-kubeconfig')])).exitCode).toBe(2);
  });

  it('--help documents the formats and the exit codes', async () => {
    const r = await run(['--help']);
    expect(r.exitCode).toBe(0);
    for (const s of ['--format', 'ipvsadm -R', 'ipset restore', 'iptables-restore --noflush', '0  everything was planned', '3  some objects', '2  unusable arguments', '70 an internal error', 'not a regular file', 'YAML aliases']) expect(r.stdout).toContain(s);
  });

  it('output is deterministic', async () => {
    const a = await run(['-f', ex('cluster.yaml'), '--node', 'node-1', '-o', 'json']);
    const b = await run(['-f', ex('cluster.yaml'), '--node', 'node-1', '-o', 'json']);
    expect(a.stdout).toBe(b.stdout);
  });
});
