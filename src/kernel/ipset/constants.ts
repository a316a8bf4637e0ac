// ipset's netfilter-netlink numbers (include/uapi/linux/netfilter/ipset/ip_set.h) and the names
// `ipset save` prints (libipset's ICMP tables, /etc/protocols), for ./codec.ts and ./transport.ts.

export const NFNL_SUBSYS_IPSET = 6;
export const IPSET_PROTOCOL_MIN = 6;
export const IPSET_PROTOCOL = 7;
export const IPSET_CMD_PROTOCOL = 1;
export const IPSET_CMD_CREATE = 2;
export const IPSET_CMD_DESTROY = 3;
export const IPSET_CMD_FLUSH = 4;
export const IPSET_CMD_SWAP = 6;
export const IPSET_CMD_LIST = 7;
export const IPSET_CMD_SAVE = 8;
export const IPSET_CMD_ADD = 9;
export const IPSET_CMD_DEL = 10;
export const IPSET_CMD_TYPE = 13;

export const NFPROTO_UNSPEC = 0;
export const NFPROTO_IPV4 = 2;
export const NFPROTO_IPV6 = 10;

// Command-level attributes.
export const ATTR_PROTOCOL = 1;
export const ATTR_SETNAME = 2;
export const ATTR_TYPENAME = 3;
export const ATTR_SETNAME2 = 3;
export const ATTR_REVISION = 4;
export const ATTR_FAMILY = 5;
export const ATTR_DATA = 7;
export const ATTR_ADT = 8;
export const ATTR_PROTOCOL_MIN = 10;
export const ATTR_REVISION_MIN = 10;
// CADT attributes (create header and elements).
export const ATTR_IP = 1;
export const ATTR_IP_TO = 2;
export const ATTR_CIDR = 3;
export const ATTR_PORT = 4;
export const ATTR_PORT_TO = 5;
export const ATTR_TIMEOUT = 6;
export const ATTR_PROTO = 7;
export const ATTR_CADT_FLAGS = 8;
export const ATTR_MARK = 10;
export const ATTR_MARKMASK = 11;
export const ATTR_BITMASK = 12;
export const ATTR_INITVAL = 17;
export const ATTR_HASHSIZE = 18;
export const ATTR_MAXELEM = 19;
export const ATTR_NETMASK = 20;
export const ATTR_BUCKETSIZE = 21;
export const ATTR_SIZE = 23;
// Element-only attributes.
export const ATTR_ETHER = 17;
export const ATTR_NAME = 18;
export const ATTR_IP2 = 20;
export const ATTR_CIDR2 = 21;
export const ATTR_IFACE = 23;
// Nested address attributes.
export const ATTR_IPADDR_IPV4 = 1;
export const ATTR_IPADDR_IPV6 = 2;

export const FLAG_PHYSDEV = 1 << 1;
export const FLAG_WITH_COUNTERS = 1 << 3;
export const FLAG_WITH_COMMENT = 1 << 4;
export const FLAG_WITH_FORCEADD = 1 << 5;
export const FLAG_WITH_SKBINFO = 1 << 6;

export const IPSET_ERR_PRIVATE = 4096;
/** ipset's own error codes (enum ipset_errno), as the kernel returns them negated. */
export const IPSET_ERRORS: Record<number, string> = {
  4097: 'IPSET_ERR_PROTOCOL',
  4098: 'IPSET_ERR_FIND_TYPE',
  4099: 'IPSET_ERR_MAX_SETS',
  4100: 'IPSET_ERR_BUSY',
  4101: 'IPSET_ERR_EXIST_SETNAME2',
  4102: 'IPSET_ERR_TYPE_MISMATCH',
  4103: 'IPSET_ERR_EXIST',
  4104: 'IPSET_ERR_INVALID_CIDR',
  4105: 'IPSET_ERR_INVALID_NETMASK',
  4106: 'IPSET_ERR_INVALID_FAMILY',
  4107: 'IPSET_ERR_TIMEOUT',
  4108: 'IPSET_ERR_REFERENCED',
  4109: 'IPSET_ERR_IPADDR_IPV4',
  4110: 'IPSET_ERR_IPADDR_IPV6',
  4111: 'IPSET_ERR_COUNTER',
  4112: 'IPSET_ERR_COMMENT',
  4113: 'IPSET_ERR_INVALID_MARKMASK',
  4114: 'IPSET_ERR_SKBINFO',
  4115: 'IPSET_ERR_BITMASK_NETMASK_EXCL',
};
/** The first type-specific error number: its meaning depends on the set's type (ip_set_hash.h, ip_set_bitmap.h). */
export const IPSET_ERR_TYPE_SPECIFIC = 4352;
export const HASH_ERRORS = ['IPSET_ERR_HASH_FULL', 'IPSET_ERR_HASH_ELEM', 'IPSET_ERR_INVALID_PROTO', 'IPSET_ERR_MISSING_PROTO', 'IPSET_ERR_HASH_RANGE_UNSUPPORTED', 'IPSET_ERR_HASH_RANGE'];
export const BITMAP_ERRORS = ['IPSET_ERR_BITMAP_RANGE', 'IPSET_ERR_BITMAP_RANGE_SIZE'];

// Names `ipset save` prints for ICMP / ICMPv6 type/code pairs (libipset's tables, as ipset 7.17 prints them).
export const ICMP_NAMES: Record<number, string> = {
  0x0000: 'echo-reply', 0x0300: 'network-unreachable', 0x0301: 'host-unreachable', 0x0302: 'protocol-unreachable',
  0x0303: 'port-unreachable', 0x0304: 'fragmentation-needed', 0x0305: 'source-route-failed', 0x0306: 'network-unknown',
  0x0307: 'host-unknown', 0x0309: 'network-prohibited', 0x030a: 'host-prohibited', 0x030b: 'TOS-network-unreachable',
  0x030c: 'TOS-host-unreachable', 0x030d: 'communication-prohibited', 0x030e: 'host-precedence-violation',
  0x030f: 'precedence-cutoff', 0x0400: 'source-quench', 0x0500: 'network-redirect', 0x0501: 'host-redirect',
  0x0502: 'TOS-network-redirect', 0x0503: 'TOS-host-redirect', 0x0800: 'echo-request', 0x0900: 'router-advertisement',
  0x0a00: 'router-solicitation', 0x0b00: 'ttl-zero-during-transit', 0x0b01: 'ttl-zero-during-reassembly',
  0x0c00: 'ip-header-bad', 0x0c01: 'required-option-missing', 0x0d00: 'timestamp-request', 0x0e00: 'timestamp-reply',
  0x1100: 'address-mask-request', 0x1200: 'address-mask-reply',
};
export const ICMPV6_NAMES: Record<number, string> = {
  0x0100: 'no-route', 0x0101: 'communication-prohibited', 0x0103: 'address-unreachable', 0x0104: 'port-unreachable',
  0x0200: 'packet-too-big', 0x0300: 'ttl-zero-during-transit', 0x0301: 'ttl-zero-during-reassembly',
  0x0400: 'bad-header', 0x0401: 'unknown-header-type', 0x0402: 'unknown-option', 0x8000: 'echo-request',
  0x8100: 'echo-reply', 0x8500: 'router-solicitation', 0x8600: 'router-advertisement',
  0x8700: 'neighbour-solicitation', 0x8800: 'neighbour-advertisement', 0x8900: 'redirect',
};

export const BUILTIN_PROTOCOLS: Record<number, string> = { 1: 'icmp', 6: 'tcp', 17: 'udp', 58: 'ipv6-icmp', 132: 'sctp', 136: 'udplite' };
