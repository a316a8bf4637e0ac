// The API server's own rules for the fields the planner reads, so an object from a file that the
// API server would have refused is refused here too, with the API server's reason, instead of being
// programmed (`apply -f`). From kubernetes pkg/apis/core/validation and pkg/apis/discovery/validation:
//   - names: Service a DNS-1035 label; namespaces a DNS-1123 label; EndpointSlices and Nodes a
//     DNS-1123 subdomain;
//   - endpoint addresses and external IPs: ValidateNonSpecialIP (not unspecified, loopback,
//     link-local unicast or link-local multicast);
//   - IPs and CIDRs (KEP-4858, strict IP/CIDR validation): no IPv4-mapped IPv6 address, and a CIDR
//     with bits set beyond its prefix length is ambiguous, not silently normalised;
//   - ClusterIPs: the API server accepts one only from its service CIDR, which cannot be an
//     unspecified, loopback, link-local, multicast or broadcast range (such a ClusterIP is refused
//     here without knowing the CIDR);
//   - nodePorts and healthCheckNodePort: inside --service-node-port-range (default 30000-32767;
//     checked by the planner, see NodeConfig.nodePortRange).

import { canonicalNetwork, checkCIDR, formatIP, hasHostBits, isIPv4Mapped, isLoopback, isUnspecified, parseIP, type IP } from '../net/index.ts';

export const DNS1035_LABEL = /^[a-z]([-a-z0-9]*[a-z0-9])?$/;
export const DNS1123_LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;
export const DNS1123_SUBDOMAIN = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;

export type NameRule = 'DNS-1035 label' | 'DNS-1123 label' | 'DNS-1123 subdomain';

/** The API server's message for a name that breaks its rule, or undefined. */
export function nameProblem(name: string, rule: NameRule): string | undefined {
  const max = rule === 'DNS-1123 subdomain' ? 253 : 63;
  const re = rule === 'DNS-1035 label' ? DNS1035_LABEL : rule === 'DNS-1123 label' ? DNS1123_LABEL : DNS1123_SUBDOMAIN;
  if (name.length > max) return `must be no more than ${max} characters (a ${rule})`;
  if (!re.test(name)) {
    const what =
      rule === 'DNS-1035 label'
        ? "lower-case letters, digits and '-', starting with a letter and ending with a letter or digit"
        : rule === 'DNS-1123 label'
          ? "lower-case letters, digits and '-', starting and ending with a letter or digit"
          : "lower-case labels of letters, digits and '-' joined by '.', each starting and ending with a letter or digit";
    return `a ${rule} must consist of ${what}`;
  }
  return undefined;
}

export { isIPv4Mapped };

function isLinkLocalUnicast(ip: IP): boolean {
  // 169.254.0.0/16, fe80::/10
  return ip.family === 4 ? ip.value >> 16n === 0xa9fen : ip.value >> 118n === 0x3fan;
}

function isLinkLocalMulticast(ip: IP): boolean {
  // Go's net.IP.IsLinkLocalMulticast: 224.0.0.0/24, and IPv6 multicast with link-local scope (ffX2::/16).
  return ip.family === 4 ? ip.value >> 8n === 0xe00000n : ((ip.value >> 112n) & 0xff0fn) === 0xff02n;
}

function isMulticast(ip: IP): boolean {
  return ip.family === 4 ? ip.value >> 28n === 0xen : ip.value >> 120n === 0xffn;
}

/** The strict-validation message for an IPv4-mapped address, or undefined. */
export function mappedProblem(ip: IP): string | undefined {
  if (!isIPv4Mapped(ip)) return undefined;
  return `must not be an IPv4-mapped IPv6 address (use ${JSON.stringify(formatIP({ family: 4, value: ip.value & 0xffffffffn }))})`;
}

/** ValidateNonSpecialIP: endpoint addresses and external IPs. */
export function nonSpecialIPProblem(text: string): string | undefined {
  const ip = parseIP(text);
  if (!ip) return undefined; // syntax is checked (and reported) elsewhere
  const mapped = mappedProblem(ip);
  if (mapped) return mapped;
  if (isUnspecified(ip)) return `may not be unspecified (${text})`;
  if (isLoopback(ip)) return 'may not be in the loopback range (127.0.0.0/8, ::1/128)';
  if (isLinkLocalUnicast(ip)) return 'may not be in the link-local range (169.254.0.0/16, fe80::/10)';
  if (isLinkLocalMulticast(ip)) return 'may not be in the link-local multicast range (224.0.0.0/24, ff02::/10)';
  return undefined;
}

/** A ClusterIP no service CIDR can hold. */
export function clusterIPProblem(text: string): string | undefined {
  const ip = parseIP(text);
  if (!ip) return undefined;
  const mapped = mappedProblem(ip);
  if (mapped) return mapped;
  const why = isUnspecified(ip)
    ? 'unspecified'
    : isLoopback(ip)
      ? 'a loopback address'
      : isLinkLocalUnicast(ip)
        ? 'a link-local address'
        : isMulticast(ip)
          ? 'a multicast address'
          : ip.family === 4 && ip.value === 0xffffffffn
            ? 'the broadcast address'
            : undefined;
  return why ? `${text} is ${why}: the API server allocates ClusterIPs only from its service CIDR, which cannot hold one` : undefined;
}

/** A CIDR whose address has bits set beyond the prefix (KEP-4858: ambiguous, refused), or IPv4-mapped. */
export function cidrProblem(text: string): string | undefined {
  const c = checkCIDR(text.trim(), 'keep').cidr;
  if (!c) return undefined;
  const mapped = mappedProblem(c.ip);
  if (mapped) return `address ${mapped}`;
  if (hasHostBits(c)) return `${JSON.stringify(text)} has host bits set beyond the prefix length: ambiguous (use ${JSON.stringify(canonicalNetwork(c))} or ${JSON.stringify(`${formatIP(c.ip)}/${c.ip.family === 4 ? 32 : 128}`)})`;
  return undefined;
}

/** A port outside the node port range, as the API server's allocator words it. */
export function nodePortProblem(port: number, range: { min: number; max: number }): string | undefined {
  if (port === 0 || (port >= range.min && port <= range.max)) return undefined;
  return `port ${port} is outside the node port range ${range.min}-${range.max} (the API server's --service-node-port-range; it would refuse this Service)`;
}
