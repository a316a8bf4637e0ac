// Netlink constants (include/uapi/linux/netlink.h and the families ipvsnet speaks), in one place.

export const NETLINK_ROUTE = 0;
export const NETLINK_NETFILTER = 12;

// struct nlmsghdr flags
export const NLM_F_REQUEST = 0x1;
export const NLM_F_MULTI = 0x2;
export const NLM_F_ACK = 0x4;
export const NLM_F_DUMP = 0x300;
export const NLM_F_REPLACE = 0x100;
export const NLM_F_EXCL = 0x200;
export const NLM_F_CREATE = 0x400;

// Control message types
export const NLMSG_NOOP = 1;
export const NLMSG_ERROR = 2;
export const NLMSG_DONE = 3;
export const NLMSG_OVERRUN = 4;

export const NLMSG_HDRLEN = 16;

// Socket options (level SOL_NETLINK)
/** Strict checking of GET requests (Linux >= 4.20): header fields a request does not use must be 0, and dumps honour the header's filters (an address dump's ifa_index). */
export const NETLINK_GET_STRICT_CHK = 12;

// struct nlattr type bits
export const NLA_F_NESTED = 0x8000;
export const NLA_F_NET_BYTEORDER = 0x4000;
export const NLA_TYPE_MASK = 0x3fff;

// Address families
export const AF_UNSPEC = 0;
export const AF_INET = 2;
export const AF_BRIDGE = 7;
export const AF_INET6 = 10;

// Generic netlink (include/uapi/linux/genetlink.h): the controller family resolves family names.
export const NETLINK_GENERIC = 16;
export const GENL_HDRLEN = 4;
export const GENL_ID_CTRL = 0x10;
export const CTRL_CMD_GETFAMILY = 3;
export const CTRL_ATTR_FAMILY_ID = 1;
export const CTRL_ATTR_FAMILY_NAME = 2;
