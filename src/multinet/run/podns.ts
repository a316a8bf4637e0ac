// What the wrapper itself does inside the pod's network namespace: before a delegate, check that its
// interface name is free (a delegate that fails on an existing name would otherwise have it removed by
// the rollback's DEL); after the delegates, move the default route (`default-route`).
// Through `nsenter --net=<netns> ip …` with argument arrays; `ip -j` gives JSON.
import { execa } from 'execa';
import { CniError, ErrInternal } from '../../cniproto/errors.ts';
import { existsSync } from 'node:fs';
import { parseIP } from '../../net/index.ts';
import { LinkAdapter } from '../../kernel/link.ts';

/** Whether `ifname` exists in the namespace at `netns` (false when there is no such namespace: the delegate reports that). */
export async function podHasLink(netns: string, ifname: string): Promise<boolean> {
  if (!netns || !existsSync(netns)) return false;
  const links = new LinkAdapter(netns);
  try {
    return (await links.getLink(ifname)) !== undefined;
  } finally {
    links.close();
  }
}

async function ipIn(netns: string, args: string[]): Promise<string> {
  const r = await execa('nsenter', [`--net=${netns}`, 'ip', ...args], { reject: false, timeout: 10_000, extendEnv: false, env: { PATH: '/usr/sbin:/usr/bin:/sbin:/bin' } });
  if (r.exitCode !== 0) throw new CniError(ErrInternal, `ip ${args.join(' ')} in ${netns} failed: ${String(r.stderr).trim().slice(0, 200)}`);
  return String(r.stdout);
}

/**
 * Make `gateways` (through `ifname`) the pod's only default routes: every other default route of
 * the same family goes (Multus's default-route).
 */
export async function moveDefaultRoute(netns: string, ifname: string, gateways: readonly string[]): Promise<void> {
  for (const gw of gateways) {
    const fam = parseIP(gw)?.family === 6 ? '-6' : '-4';
    const text = await ipIn(netns, [fam, '-j', 'route', 'show', 'default']);
    const routes = JSON.parse(text || '[]') as Array<{ dev?: string; gateway?: string; metric?: number }>;
    for (const r of routes) {
      if (r.dev === ifname && r.gateway === gw) continue;
      await ipIn(netns, [fam, 'route', 'del', 'default', ...(r.gateway ? ['via', r.gateway] : []), ...(r.dev ? ['dev', r.dev] : []), ...(r.metric !== undefined ? ['metric', String(r.metric)] : [])]);
    }
    if (!routes.some((r) => r.dev === ifname && r.gateway === gw)) await ipIn(netns, [fam, 'route', 'add', 'default', 'via', gw, 'dev', ifname]);
  }
}
