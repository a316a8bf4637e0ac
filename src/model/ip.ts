// IP address and CIDR helpers: parsing, canonical text (IPv6 per RFC 5952, as
// `ip`, `ipset` and `ipvsadm` print it), family detection and containment.
// Kept dependency-free and allocation-light: the planner calls these for every
// endpoint of every Service.

export type IpFamily = 4 | 6;

export interface ParsedIP {
  family: IpFamily;
  /** Canonical text: dotted quad, or compressed lower-case IPv6. */
  text: string;
  /** 4 or 16 bytes, network order. */
  bytes: Uint8Array;
}

export interface ParsedCIDR {
  family: IpFamily;
  /** Network address (host bits cleared) in canonical text. */
  address: string;
  prefix: number;
  /** "address/prefix" with host bits cleared. */
  text: string;
  bytes: Uint8Array;
}

function parseV4Bytes(s: string): Uint8Array | null {
  const parts = s.split('.');
  if (parts.length !== 4) return null;
  const out = new Uint8Array(4);
  for (let i = 0; i < 4; i++) {
    const p = parts[i]!;
    if (p.length === 0 || p.length > 3) return null;
    let n = 0;
    for (let j = 0; j < p.length; j++) {
      const c = p.charCodeAt(j) - 48;
      if (c < 0 || c > 9) return null;
      n = n * 10 + c;
    }
    if (n > 255) return null;
    out[i] = n;
  }
  return out;
}

function parseV6Bytes(s: string): Uint8Array | null {
  if (s.length < 2 || s.length > 45 || s.includes('%')) return null;
  let head = s;
  let tail = '';
  const dbl = s.indexOf('::');
  if (dbl !== -1) {
    if (s.indexOf('::', dbl + 1) !== -1) return null;
    head = s.slice(0, dbl);
    tail = s.slice(dbl + 2);
  }
  const parseGroups = (part: string): number[] | null => {
    if (part === '') return [];
    const groups = part.split(':');
    const out: number[] = [];
    for (let i = 0; i < groups.length; i++) {
      const g = groups[i]!;
      if (i === groups.length - 1 && g.includes('.')) {
        const v4 = parseV4Bytes(g);
        if (!v4) return null;
        out.push((v4[0]! << 8) | v4[1]!, (v4[2]! << 8) | v4[3]!);
        continue;
      }
      if (g.length === 0 || g.length > 4 || !/^[0-9a-fA-F]+$/.test(g)) return null;
      out.push(parseInt(g, 16));
    }
    return out;
  };
  const h = parseGroups(head);
  const t = parseGroups(tail);
  if (!h || !t) return null;
  // An embedded IPv4 address is only allowed at the very end.
  if (dbl !== -1 && head.includes('.')) return null;
  let groups: number[];
  if (dbl === -1) {
    if (h.length !== 8) return null;
    groups = h;
  } else {
    if (h.length + t.length > 7) return null;
    groups = [...h, ...new Array<number>(8 - h.length - t.length).fill(0), ...t];
  }
  const out = new Uint8Array(16);
  for (let i = 0; i < 8; i++) {
    out[i * 2] = groups[i]! >> 8;
    out[i * 2 + 1] = groups[i]! & 0xff;
  }
  return out;
}

export function formatIPv6(b: Uint8Array): string {
  const g: number[] = [];
  for (let i = 0; i < 8; i++) g.push((b[i * 2]! << 8) | b[i * 2 + 1]!);
  // Longest run (>= 2) of zero groups; first one wins a tie (RFC 5952 4.2.3).
  let bestStart = -1;
  let bestLen = 0;
  for (let i = 0; i < 8; ) {
    if (g[i] !== 0) { i++; continue; }
    let j = i;
    while (j < 8 && g[j] === 0) j++;
    if (j - i > bestLen) { bestStart = i; bestLen = j - i; }
    i = j;
  }
  if (bestLen < 2) return g.map((x) => x.toString(16)).join(':');
  const left = g.slice(0, bestStart).map((x) => x.toString(16)).join(':');
  const right = g.slice(bestStart + bestLen).map((x) => x.toString(16)).join(':');
  return `${left}::${right}`;
}

/** Parse an IPv4 or IPv6 address; null when it is not one. */
export function parseIP(s: string): ParsedIP | null {
  if (typeof s !== 'string') return null;
  if (s.includes(':')) {
    const b = parseV6Bytes(s);
    return b ? { family: 6, text: formatIPv6(b), bytes: b } : null;
  }
  const b = parseV4Bytes(s);
  return b ? { family: 4, text: `${b[0]}.${b[1]}.${b[2]}.${b[3]}`, bytes: b } : null;
}

/** Canonical text of an address, or null. */
export function canonicalIP(s: string): string | null {
  return parseIP(s)?.text ?? null;
}

export function ipFamilyOf(s: string): IpFamily | null {
  return parseIP(s)?.family ?? null;
}

/** Parse "addr/prefix"; host bits are cleared in the result. */
export function parseCIDR(s: string): ParsedCIDR | null {
  if (typeof s !== 'string') return null;
  const slash = s.indexOf('/');
  if (slash === -1) return null;
  const ip = parseIP(s.slice(0, slash));
  const ps = s.slice(slash + 1);
  if (!ip || !/^[0-9]{1,3}$/.test(ps)) return null;
  const prefix = Number(ps);
  const max = ip.family === 4 ? 32 : 128;
  if (prefix > max) return null;
  const bytes = new Uint8Array(ip.bytes);
  for (let bit = prefix; bit < max; bit++) bytes[bit >> 3]! &= ~(0x80 >> (bit & 7));
  const address = ip.family === 4 ? `${bytes[0]}.${bytes[1]}.${bytes[2]}.${bytes[3]}` : formatIPv6(bytes);
  return { family: ip.family, address, prefix, text: `${address}/${prefix}`, bytes };
}

export function cidrContains(cidr: ParsedCIDR, ip: ParsedIP): boolean {
  if (cidr.family !== ip.family) return false;
  const full = cidr.prefix >> 3;
  for (let i = 0; i < full; i++) if (cidr.bytes[i] !== ip.bytes[i]) return false;
  const rem = cidr.prefix & 7;
  if (rem === 0) return true;
  const mask = (0xff << (8 - rem)) & 0xff;
  return (cidr.bytes[full]! & mask) === (ip.bytes[full]! & mask);
}

export function isLoopback(ip: ParsedIP): boolean {
  if (ip.family === 4) return ip.bytes[0] === 127;
  for (let i = 0; i < 15; i++) if (ip.bytes[i] !== 0) return false;
  return ip.bytes[15] === 1;
}

export function isLinkLocalUnicast(ip: ParsedIP): boolean {
  if (ip.family === 4) return ip.bytes[0] === 169 && ip.bytes[1] === 254;
  return ip.bytes[0] === 0xfe && (ip.bytes[1]! & 0xc0) === 0x80;
}

export function isUnspecified(ip: ParsedIP): boolean {
  return ip.bytes.every((b) => b === 0);
}

/** A string that sorts addresses numerically (v4 before v6). */
export function ipSortKey(text: string): string {
  const ip = parseIP(text);
  if (!ip) return `9${text}`;
  let hex = ip.family === 4 ? '4' : '6';
  for (const b of ip.bytes) hex += (b < 16 ? '0' : '') + b.toString(16);
  return hex;
}

/** "ip:port" with brackets for IPv6, as ipvsadm and kube-proxy print it. */
export function joinHostPort(ip: string, port: number): string {
  return ip.includes(':') ? `[${ip}]:${port}` : `${ip}:${port}`;
}

/** ipset prints a full-length prefix as the bare address; mirror that. */
export function ipsetNet(cidr: ParsedCIDR): string {
  return cidr.prefix === (cidr.family === 4 ? 32 : 128) ? cidr.address : cidr.text;
}
