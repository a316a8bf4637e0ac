// What the host's kernel offers, as kube-proxy checks it at start (platformCheckSupported in
// cmd/kube-proxy/app/server_linux.go): IPv6 is supported when /proc/net/if_inet6 exists and
// net.ipv6.conf.all.disable_ipv6 is not 1. Both are per network namespace.

import { access, readFile } from 'node:fs/promises';

export async function ipv6Support(proc = '/proc'): Promise<{ supported: boolean; reason?: string }> {
  try {
    await access(`${proc}/net/if_inet6`);
  } catch {
    return { supported: false, reason: 'No kernel support for family' };
  }
  const disabled = await readFile(`${proc}/sys/net/ipv6/conf/all/disable_ipv6`, 'utf8').catch(() => '');
  if (disabled.trim() === '1') return { supported: false, reason: 'Kernel support disabled for family' };
  return { supported: true };
}
