// The guest node's network for the tests that run inside the qemu guest against the host's apiserver
// (scenarios.ts, migrate.ts): a bridge cbr0 (10.244.0.1/24) with backend netns serving HTTP on :8080
// (busybox httpd answering its own name) and a routed client netns 10.250.0.2 (its traffic and the
// replies cross the node's stack). Not a vitest file.
import { execa, type ResultPromise } from 'execa';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

export async function sh(cmd: string, args: string[]): Promise<string> {
  const r = await execa(cmd, args, { reject: false });
  if (r.exitCode !== 0) throw new Error(`${cmd} ${args.join(' ')}: exit ${r.exitCode}: ${r.stderr}`);
  return r.stdout;
}

export async function nsExec(ns: string, cmd: string, args: string[]): Promise<{ code: number; out: string }> {
  const r = await execa('ip', ['netns', 'exec', ns, cmd, ...args], { reject: false });
  return { code: r.exitCode ?? -1, out: r.stdout };
}

/** The HTTP servers started (killed by the caller at the end). */
export const httpd: ResultPromise[] = [];

export async function setupNetwork(backends: Array<{ name: string; ip: string }>): Promise<void> {
  await sh('sysctl', ['-qw', 'net.ipv4.ip_forward=1']);
  await sh('ip', ['link', 'add', 'cbr0', 'type', 'bridge']);
  await sh('ip', ['addr', 'add', '10.244.0.1/24', 'dev', 'cbr0']);
  await sh('ip', ['link', 'set', 'cbr0', 'up']);
  for (const b of backends) await addBackend(b.name, b.ip);
  await sh('ip', ['netns', 'add', 'client']);
  await sh('ip', ['link', 'add', 'cl-host', 'type', 'veth', 'peer', 'name', 'cl-pod']);
  await sh('ip', ['link', 'set', 'cl-pod', 'netns', 'client']);
  await sh('ip', ['addr', 'add', '10.250.0.1/24', 'dev', 'cl-host']);
  await sh('ip', ['link', 'set', 'cl-host', 'up']);
  await nsExec('client', 'ip', ['addr', 'add', '10.250.0.2/24', 'dev', 'cl-pod']);
  await nsExec('client', 'ip', ['link', 'set', 'cl-pod', 'up']);
  await nsExec('client', 'ip', ['link', 'set', 'lo', 'up']);
  await nsExec('client', 'ip', ['route', 'add', 'default', 'via', '10.250.0.1']);
}

export async function addBackend(name: string, ip: string): Promise<void> {
  const dir = `/tmp/www-${name}`;
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, 'index.html'), `${name}\n`);
  await sh('ip', ['netns', 'add', name]);
  await sh('ip', ['link', 'add', `h-${name}`, 'type', 'veth', 'peer', 'name', `p-${name}`]);
  await sh('ip', ['link', 'set', `p-${name}`, 'netns', name]);
  await sh('ip', ['link', 'set', `h-${name}`, 'master', 'cbr0']);
  await sh('ip', ['link', 'set', `h-${name}`, 'up']);
  await nsExec(name, 'ip', ['addr', 'add', `${ip}/24`, 'dev', `p-${name}`]);
  await nsExec(name, 'ip', ['link', 'set', `p-${name}`, 'up']);
  await nsExec(name, 'ip', ['link', 'set', 'lo', 'up']);
  await nsExec(name, 'ip', ['route', 'add', 'default', 'via', '10.244.0.1']);
  const p = execa('ip', ['netns', 'exec', name, 'busybox', 'httpd', '-f', '-p', '8080', '-h', dir], { reject: false });
  p.catch(() => undefined);
  httpd.push(p);
}

/** One HTTP GET (from netns `ns`, or the node): the body, or undefined on any failure. */
export async function curl(ns: string | undefined, url: string): Promise<string | undefined> {
  // Generous: the guest CPU is emulated and the host is shared; a timeout here is not a dataplane verdict.
  const args = ['-s', '--max-time', '10', url];
  const r = ns ? await nsExec(ns, 'curl', args) : await execa('curl', args, { reject: false }).then((x) => ({ code: x.exitCode ?? -1, out: x.stdout }));
  return r.code === 0 ? r.out.trim() : undefined;
}
