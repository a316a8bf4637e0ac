// Numbers from the kernel's include/uapi/linux/ip_vs.h (generic netlink interface of IPVS), plus the
// address families and IP protocol numbers the messages carry. Plain consts: no enums (erasable syntax).

export const IPVS_GENL_NAME = 'IPVS';
export const IPVS_GENL_VERSION = 1;

/** Generic netlink commands (enum IPVS_CMD_*). */
export const IPVS_CMD = {
  NEW_SERVICE: 1,
  SET_SERVICE: 2,
  DEL_SERVICE: 3,
  GET_SERVICE: 4,
  NEW_DEST: 5,
  SET_DEST: 6,
  DEL_DEST: 7,
  GET_DEST: 8,
  NEW_DAEMON: 9,
  DEL_DAEMON: 10,
  GET_DAEMON: 11,
  SET_CONFIG: 12,
  GET_CONFIG: 13,
  SET_INFO: 14,
  GET_INFO: 15,
  ZERO: 16,
  FLUSH: 17,
} as const;
export type IpvsCmdName = keyof typeof IPVS_CMD;

export function ipvsCmdName(cmd: number): string {
  for (const [k, v] of Object.entries(IPVS_CMD)) if (v === cmd) return k;
  return `CMD_${cmd}`;
}

/** Top-level attributes of a command (IPVS_CMD_ATTR_*). */
export const IPVS_CMD_ATTR = {
  SERVICE: 1,
  DEST: 2,
  DAEMON: 3,
  TIMEOUT_TCP: 4,
  TIMEOUT_TCP_FIN: 5,
  TIMEOUT_UDP: 6,
} as const;

/** Attributes nested in IPVS_CMD_ATTR_SERVICE (IPVS_SVC_ATTR_*). */
export const IPVS_SVC_ATTR = {
  AF: 1, // u16
  PROTOCOL: 2, // u16
  ADDR: 3, // union nf_inet_addr, 4 or 16 bytes
  PORT: 4, // be16
  FWMARK: 5, // u32
  SCHED_NAME: 6, // NUL-terminated string, < 16 bytes
  FLAGS: 7, // struct ip_vs_flags { u32 flags; u32 mask; }
  TIMEOUT: 8, // u32 persistence timeout, seconds
  NETMASK: 9, // be32 mask (IPv4) or u32 prefix length (IPv6)
  STATS: 10, // nested IPVS_STATS_ATTR_*, 32-bit rates
  PE_NAME: 11, // string
  STATS64: 12, // nested IPVS_STATS_ATTR_*, all u64
} as const;

/** Attributes nested in IPVS_CMD_ATTR_DEST (IPVS_DEST_ATTR_*). */
export const IPVS_DEST_ATTR = {
  ADDR: 1,
  PORT: 2, // be16
  FWD_METHOD: 3, // u32
  WEIGHT: 4, // u32
  U_THRESH: 5, // u32
  L_THRESH: 6, // u32
  ACTIVE_CONNS: 7, // u32
  INACT_CONNS: 8, // u32
  PERSIST_CONNS: 9, // u32
  STATS: 10,
  ADDR_FAMILY: 11, // u16
  STATS64: 12,
  TUN_TYPE: 13, // u8
  TUN_PORT: 14, // be16
  TUN_FLAGS: 15, // u16
} as const;

/** Attributes nested in IPVS_SVC_ATTR_STATS / STATS64 and IPVS_DEST_ATTR_STATS / STATS64. */
export const IPVS_STATS_ATTR = {
  CONNS: 1,
  INPKTS: 2,
  OUTPKTS: 3,
  INBYTES: 4,
  OUTBYTES: 5,
  CPS: 6,
  INPPS: 7,
  OUTPPS: 8,
  INBPS: 9,
  OUTBPS: 10,
  PAD: 11,
} as const;

/** Top-level attributes of a GET_INFO reply (IPVS_INFO_ATTR_*). */
export const IPVS_INFO_ATTR = {
  VERSION: 1,
  CONN_TAB_SIZE: 2,
} as const;

/** Service flags (IP_VS_SVC_F_*). sh and mh read SCHED1/SCHED2 as fallback/port. */
export const IP_VS_SVC_F = {
  PERSISTENT: 0x0001,
  HASHED: 0x0002,
  ONEPACKET: 0x0004,
  SCHED1: 0x0008,
  SCHED2: 0x0010,
  SCHED3: 0x0020,
  SH_FALLBACK: 0x0008,
  SH_PORT: 0x0010,
  MH_FALLBACK: 0x0008,
  MH_PORT: 0x0010,
} as const;

/** Forwarding methods (IP_VS_CONN_F_FWD_MASK part of the dest's conn flags). */
export const IP_VS_CONN_F_FWD_MASK = 0x0007;
export const IP_VS_CONN_F = {
  MASQ: 0,
  LOCALNODE: 1,
  TUNNEL: 2,
  DROUTE: 3,
  BYPASS: 4,
} as const;

export const IP_VS_SCHEDNAME_MAXLEN = 16;
export const IP_VS_PENAME_MAXLEN = 16;

export const AF_INET = 2;
export const AF_INET6 = 10;

export const IPPROTO = {
  TCP: 6,
  UDP: 17,
  SCTP: 132,
} as const;
