// Seed 000's scenario, run with the seed's ipvlan NAD in the VM guest (test/vm/multinet/seed000.test.ts)
// and with a macvlan copy on the host, which has no ipvlan (test/netns/multinet/seed000.test.ts).
// A real PostgreSQL in its own netns at 192.168.100.235 accepts only 192.168.100.132–145 (pg_hba,
// and a firewall rule that drops other sources, as the seed's security group does). The node netns
// reaches it through `ens6`, a veth whose peer is the database's NIC. The seed's two Deployments'
// pod templates are served through the shim and the multi-network CNI server (harness.ts).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { execa } from 'execa';
import type { ResultPromise } from 'execa';
import { chmodSync, chownSync, existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Node, addrs, inNs, ipJson, prerequisites } from './harness.ts';
import { seed000HostlocalPod as hostlocal, seed000NotNadPod as notNad } from '../../fixtures/seeds/multinet.ts';

const PG = '/usr/lib/postgresql/15/bin';
const STORE = '/var/myipam/db-ipvlan-hostlocal-conf-worker3';
const NAD_NAME = 'default/db-ipvlan-hostlocal-conf-worker3';

/** A PostgreSQL server in netns `ns` at 192.168.100.235:5432, database `db` with a `users` table. */
export class ClosedPostgres {
  dir = '';
  private server: ResultPromise | undefined;

  async start(ns: string): Promise<void> {
    if (!existsSync(`${PG}/postgres`)) throw new Error(`PostgreSQL missing at ${PG} (Debian's postgresql package)`);
    const [uid, gid] = await Promise.all(['-u', '-g'].map(async (f) => Number((await execa('id', [f, 'postgres'])).stdout)));
    // the security group: nothing but .132–.145 reaches 5432
    await execa('ip', ['netns', 'exec', ns, 'iptables', '-A', 'INPUT', '-p', 'tcp', '--dport', '5432', '-m', 'iprange', '!', '--src-range', '192.168.100.132-192.168.100.145', '-j', 'DROP']);
    this.dir = mkdtempSync('/tmp/ivt-pg-');
    chmodSync(this.dir, 0o755);
    const data = join(this.dir, 'data');
    mkdirSync(data);
    writeFileSync(join(this.dir, 'pw'), 's3cret\n');
    for (const p of [data, this.dir, join(this.dir, 'pw')]) chownSync(p, uid!, gid!);
    const asPostgres = (cmd: string, args: string[]) => execa('runuser', ['-u', 'postgres', '--', cmd, ...args], { cwd: this.dir });
    await asPostgres(`${PG}/initdb`, ['-D', data, '-U', 'admin', `--pwfile=${join(this.dir, 'pw')}`, '-A', 'scram-sha-256']);
    writeFileSync(join(data, 'pg_hba.conf'), ['local all all trust', 'host db admin 192.168.100.132/30 scram-sha-256', 'host db admin 192.168.100.136/29 scram-sha-256', 'host db admin 192.168.100.144/31 scram-sha-256', ''].join('\n'));
    this.server = execa('ip', ['netns', 'exec', ns, 'runuser', '-u', 'postgres', '--', `${PG}/postgres`, '-D', data, '-c', 'listen_addresses=192.168.100.235', '-c', 'port=5432', '-c', `unix_socket_directories=${this.dir}`], { reject: false, cwd: this.dir });
    let ready = false;
    for (let i = 0; i < 600 && !ready; i++) {
      ready = (await execa(`${PG}/pg_isready`, ['-h', this.dir, '-p', '5432'], { reject: false })).exitCode === 0;
      if (!ready) await new Promise((r) => setTimeout(r, 100));
    }
    if (!ready) throw new Error('PostgreSQL did not become ready within 60 s');
    const local = (d: string, sql: string) => asPostgres('/usr/bin/psql', ['-h', this.dir, '-p', '5432', '-U', 'admin', '-d', d, '-v', 'ON_ERROR_STOP=1', '-c', sql]);
    await local('postgres', 'create database db');
    await local('db', "create table users (id int, name text); insert into users values (1, 'alice'), (2, 'bob')");
  }

  async stop(): Promise<void> {
    this.server?.kill('SIGTERM');
    await this.server;
    if (this.dir) rmSync(this.dir, { recursive: true, force: true });
  }
}

/** psql from pod netns `ns` to the closed database, as the seed's client does (password given). */
export async function psql(ns: string, sql: string): Promise<{ exitCode: number; out: string; err: string }> {
  const r = await execa('ip', ['netns', 'exec', ns, 'env', 'PGPASSWORD=s3cret', 'PGCONNECT_TIMEOUT=3', '/usr/bin/psql', '-h', '192.168.100.235', '-p', '5432', '-U', 'admin', '-d', 'db', '-tAc', sql], { reject: false, timeout: 60_000 });
  return { exitCode: r.exitCode ?? -1, out: String(r.stdout).trim(), err: String(r.stderr).trim() };
}

/**
 * Registers seed 000's hooks and tests with NAD manifest `nad`, whose plugin makes `kind` links
 * ('ipvlan' as the seed has it, 'macvlan' for the host copy).
 */
export function seed000Scenario(kind: 'ipvlan' | 'macvlan', nad: string): void {
  const node = new Node();
  const pg = new ClosedPostgres();
  const myipamExisted = existsSync('/var/myipam');

  beforeAll(async () => {
    await prerequisites();
    if (!existsSync(`/usr/lib/cni/${kind}`)) throw new Error(`missing prerequisite /usr/lib/cni/${kind} (containernetworking-plugins)`);
    if (existsSync(STORE)) throw new Error(`${STORE} exists before the test: another run's leftovers (remove them first)`);
    await node.start('10.244.2.0/24');
    const db = await node.netns('ivmdb');
    // ens6: the node's NIC into the database subnet (a veth whose peer is the database's)
    await execa('ip', ['link', 'add', 'ens6', 'netns', node.ns, 'type', 'veth', 'peer', 'name', 'db0', 'netns', db]);
    await execa('ip', ['-n', node.ns, 'link', 'set', 'ens6', 'up']);
    await execa('ip', ['-n', db, 'addr', 'add', '192.168.100.235/24', 'dev', 'db0']);
    await execa('ip', ['-n', db, 'link', 'set', 'db0', 'up']);
    await pg.start(db);
    node.apply('nad.yaml', nad);
  });
  afterAll(async () => {
    await pg.stop();
    await node.stop();
    rmSync(STORE, { recursive: true, force: true });
    if (!myipamExisted) rmSync('/var/myipam', { recursive: true, force: true });
  });

  describe(`seed 000 (${kind}): a closed PostgreSQL reached only through the NAD`, () => {
    it('the pod without the annotation cannot connect; the pod with it gets net1 .132 and reads users as .132', async () => {
      node.apply('not-nad.yaml', notNad('sample-client-not-nad-6ff4554cc4-ggjwh'));
      node.apply('hostlocal.yaml', hostlocal('sample-client-hostlocal-68469d59f-zckmh'));
      const plain = await node.addPodNetns();
      expect((await node.cni('ADD', { id: 'c-plain', podNetns: plain, pod: 'sample-client-not-nad-6ff4554cc4-ggjwh' })).exitCode).toBe(0);
      expect((await ipJson(plain, ['link', 'show'])).map((l) => l['ifname'])).toEqual(['lo', 'eth0']);
      const refused = await psql(plain, 'select 1');
      expect(refused.exitCode).not.toBe(0);

      const pod = await node.addPodNetns();
      const add = await node.cni('ADD', { id: 'c-db1', podNetns: pod, pod: 'sample-client-hostlocal-68469d59f-zckmh' });
      expect(add.exitCode, add.stdout).toBe(0);
      // what the NAD means (the seed's sample output shows .37/24, which this range cannot give)
      expect(await addrs(pod, 'net1')).toEqual(['192.168.100.132/24']);
      const [net1] = await ipJson<Array<{ linkinfo?: { info_kind?: string } }>>(pod, ['-d', 'link', 'show', 'dev', 'net1']);
      expect(net1!.linkinfo?.info_kind).toBe(kind);
      const users = await psql(pod, 'select * from users order by id');
      expect(users.out, users.err).toBe('1|alice\n2|bob');
      expect((await psql(pod, 'select inet_client_addr()')).out).toBe('192.168.100.132');
      const [rep] = await node.reports('c-db1');
      expect((rep!['status'] as Array<Record<string, unknown>>).map((s) => [s['name'], s['interface'], s['ips']])).toEqual([
        ['ipvsnet', 'eth0', ['10.244.2.3']], [NAD_NAME, 'net1', ['192.168.100.132']],
      ]);
    });

    it('fails the 15th pod on the 14-address range cleanly, and DEL frees addresses after the NAD or the Pod is gone', async () => {
      const pods: Array<[string, string]> = [];
      for (let i = 2; i <= 14; i++) {
        const name = `sample-client-hostlocal-68469d59f-x${i}`;
        node.apply(`p${i}.yaml`, hostlocal(name));
        const ns = await node.addPodNetns();
        const r = await node.cni('ADD', { id: `c-db${i}`, podNetns: ns, pod: name });
        expect(r.exitCode, r.stdout).toBe(0);
        pods.push([`c-db${i}`, ns]);
      }
      expect(readdirSync(STORE).filter((f) => f.startsWith('192.')).length).toBe(14);
      node.apply('p15.yaml', hostlocal('sample-client-hostlocal-68469d59f-x15'));
      const ns15 = await node.addPodNetns();
      const full = await node.cni('ADD', { id: 'c-db15', podNetns: ns15, pod: 'sample-client-hostlocal-68469d59f-x15' });
      expect(full.exitCode).toBe(1);
      expect(String(full.json?.['msg'])).toMatch(/NetworkAttachmentDefinition default\/db-ipvlan-hostlocal-conf-worker3 \(net1\): .*no IP addresses available/);
      // nothing left: no interfaces in the pod, no cache, no default-network address for it
      expect((await ipJson(ns15, ['link', 'show'])).map((l) => l['ifname'])).toEqual(['lo']);
      expect(readdirSync(node.cacheDir).filter((f) => f.startsWith('c-db15'))).toEqual([]);
      expect(readdirSync(STORE).filter((f) => f.startsWith('192.')).length).toBe(14);
      const [fail] = await node.reports('c-db15');
      expect(fail!['error']).toMatchObject({ msg: expect.stringMatching(/no IP addresses available/) });

      // the NAD is deleted: DEL still frees .133 (from the cache)
      node.remove('nad.yaml');
      expect((await node.cni('DEL', { id: 'c-db2', podNetns: pods[0]![1] })).exitCode).toBe(0);
      expect(existsSync(`${STORE}/192.168.100.133`)).toBe(false);
      // the Pod object is deleted too: DEL frees .134
      node.remove('p3.yaml');
      expect((await node.cni('DEL', { id: 'c-db3', podNetns: pods[1]![1], pod: 'sample-client-hostlocal-68469d59f-x3' })).exitCode).toBe(0);
      expect(existsSync(`${STORE}/192.168.100.134`)).toBe(false);
      // with the NAD back, the 15th pod now gets an address
      node.apply('nad.yaml', nad);
      const again = await node.cni('ADD', { id: 'c-db15', podNetns: ns15, pod: 'sample-client-hostlocal-68469d59f-x15' });
      expect(again.exitCode, again.stdout).toBe(0);
      expect((await addrs(ns15, 'net1'))[0]).toMatch(/^192\.168\.100\.13[34]\/24$/);
      for (const [id, ns] of [...pods.slice(2), ['c-db15', ns15], ['c-db1', node.pods[1]!], ['c-plain', node.pods[0]!]] as Array<[string, string]>) {
        const d = await node.cni('DEL', { id, podNetns: ns });
        expect(d.exitCode, d.stdout).toBe(0);
      }
      expect(readdirSync(STORE).filter((f) => f.startsWith('192.'))).toEqual([]);
      expect(readdirSync(node.cacheDir)).toEqual([]);
      const left = await inNs(node.ns, 'ip', ['-j', 'link', 'show', 'type', kind]);
      expect(JSON.parse(left.stdout || '[]')).toEqual([]);
    });
  });
}
