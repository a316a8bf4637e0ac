// The names ipvsnet-bridge gives what it creates, so ADD, DEL, GC and the tests compute them the
// same way: the host veth's name, its alias (the attachment's identity for DEL and GC), the VLAN
// gateway port's name.

export const ALIAS_PREFIX = 'ipvsnet:';

/** 32-bit FNV-1a (node:crypto costs milliseconds of start-up; this is a name, not a secret). */
export function fnv1a32(s: string): number {
  let h = 0x811c9dc5;
  for (const b of Buffer.from(s, 'utf8')) {
    h ^= b;
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  return h >>> 0;
}

/** Deterministic host-side veth name for an attachment: "veth" + 8 hex. */
export function hostVethName(network: string, containerId: string, ifname: string): string {
  return 'veth' + fnv1a32(`${network}/${containerId}/${ifname}`).toString(16).padStart(8, '0');
}

/**
 * The longest alias the kernel keeps: IFALIASZ is 256 and the attribute's length counts the NUL our
 * string attributes carry, so 254 bytes of text (255 fails with ERANGE/EINVAL).
 */
export const IFALIAS_MAX = 254;
const NETWORK_IN_ALIAS_MAX = 100;

function sha256Hex(s: string): string {
  // node:crypto is loaded only for the rare long name: it costs start-up time in the standalone plugin
  return process.getBuiltinModule('node:crypto').createHash('sha256').update(s).digest('hex');
}

/** The alias prefix of every attachment of `network` (GC finds a network's veths by it). */
export function aliasPrefix(network: string): string {
  const n = Buffer.byteLength(network) <= NETWORK_IN_ALIAS_MAX ? network : '#' + sha256Hex(network).slice(0, 40);
  return `${ALIAS_PREFIX}${n}/`;
}

/**
 * IFLA_IFALIAS on the host veth: identifies the attachment for DEL and GC. `ipvsnet:<network>/<id>/<ifname>`
 * when it fits in IFALIAS_MAX bytes; otherwise `<prefix>#<sha256 of id/ifname>` (a container ID
 * never starts with '#', so the two forms cannot meet). Never cut: a cut alias could name two attachments.
 */
export function vethAlias(network: string, containerId: string, ifname: string): string {
  const prefix = aliasPrefix(network);
  const full = `${prefix}${containerId}/${ifname}`;
  return Buffer.byteLength(full) <= IFALIAS_MAX ? full : `${prefix}#${sha256Hex(`${containerId}/${ifname}`)}`;
}

/** Host-side name of the <bridge>.<vlan> gateway veth's bridge port. */
export function vlanGatewayPortName(bridge: string, vlan: number): string {
  return 'veth' + fnv1a32(`vlan-gateway/${bridge}.${vlan}`).toString(16).padStart(8, '0');
}
