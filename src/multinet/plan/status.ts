// network-status (NPWG spec 4.1.2.1, as the NAD client library builds it): one entry per attachment,
// its sandbox interface, IPs without prefix, its MAC, `default` on the network holding the default
// route, dns, and the gateways of that default route. Pure.
import type { Result } from '../../cniproto/types.ts';
import type { Attachment } from './attachments.ts';

export interface NetworkStatus {
  name: string;
  interface: string;
  ips?: string[];
  mac?: string;
  default?: boolean;
  dns?: Record<string, unknown>;
  gateway?: string[];
}

const isDefaultDst = (dst: string) => dst === '0.0.0.0/0' || dst === '::/0';

export function networkStatus(attachments: readonly Attachment[], results: readonly Result[]): NetworkStatus[] {
  const moved = attachments.some((a) => a.defaultRoute);
  return attachments.map((a, i) => {
    const r = results[i];
    const st: NetworkStatus = { name: a.network, interface: a.ifname };
    if (!r) return st;
    const ifs = r.interfaces ?? [];
    const idx = ifs.findIndex((x) => x.name === a.ifname && x.sandbox);
    const mine = (r.ips ?? []).filter((ip) => idx < 0 || ip.interface === undefined || ip.interface === idx);
    if (mine.length) st.ips = mine.map((ip) => ip.address.split('/')[0]!);
    const mac = idx >= 0 ? ifs[idx]!.mac : undefined;
    if (mac) st.mac = mac;
    const isDefault = moved ? !!a.defaultRoute : a.isDefaultNetwork;
    if (isDefault) st.default = true;
    st.dns = r.dns && Object.keys(r.dns).length ? { ...r.dns } : {};
    const gws = a.defaultRoute ?? (r.routes ?? []).filter((rt) => isDefaultDst(rt.dst) && rt.gw).map((rt) => rt.gw!);
    const fromIps = (r.routes ?? []).some((rt) => isDefaultDst(rt.dst) && !rt.gw) ? mine.map((ip) => ip.gateway).filter((g): g is string => !!g) : [];
    const all = [...new Set([...gws, ...fromIps])];
    if (isDefault && all.length) st.gateway = all;
    return st;
  });
}
