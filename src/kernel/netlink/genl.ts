// Generic netlink on the shared transport (./socket.ts): the 4-byte genl header and family
// resolution through the controller (CTRL_CMD_GETFAMILY by name → the family's message type).
// A family the kernel does not have is NlError ENOENT.
import { cstring, parseAttrs, str } from './attrs.ts';
import { CTRL_ATTR_FAMILY_ID, CTRL_ATTR_FAMILY_NAME, CTRL_CMD_GETFAMILY, GENL_HDRLEN, GENL_ID_CTRL } from './constants.ts';
import { NlTransportError } from './errors.ts';
import type { NlMessage } from './message.ts';
import type { NlSocket } from './socket.ts';

/** struct genlmsghdr: command, version, reserved. */
export function genlHeader(cmd: number, version: number): Buffer {
  return Buffer.from([cmd & 0xff, version & 0xff, 0, 0]);
}

/** The attributes after the genl header of a reply's payload. */
export function genlPayload(m: NlMessage): Buffer {
  if (m.data.length < GENL_HDRLEN) throw new NlTransportError(`generic netlink message of ${m.data.length} bytes has no header`, 'EDECODE');
  return m.data.subarray(GENL_HDRLEN);
}

/** The controller's CTRL_CMD_GETFAMILY request payload for family `name`. */
export function getFamilyRequest(name: string): Buffer[] {
  return [genlHeader(CTRL_CMD_GETFAMILY, 1), str(CTRL_ATTR_FAMILY_NAME, name)];
}

/** The message type (family id) of generic netlink family `name`; NlError ENOENT when the kernel has none. */
export async function resolveGenlFamily(sock: NlSocket, name: string, timeoutMs?: number): Promise<number> {
  const msgs = await sock.request(GENL_ID_CTRL, getFamilyRequest(name), 0, timeoutMs !== undefined ? { timeoutMs } : {});
  return familyIdOf(msgs, name);
}

/** The family id in the controller's reply to getFamilyRequest(name); NlTransportError EDECODE when absent. */
export function familyIdOf(msgs: readonly NlMessage[], name: string): number {
  for (const m of msgs) {
    if (m.type !== GENL_ID_CTRL) continue;
    const attrs = parseAttrs(genlPayload(m));
    const id = attrs.get(CTRL_ATTR_FAMILY_ID);
    if (cstring(attrs.get(CTRL_ATTR_FAMILY_NAME)) === name && id && id.length >= 2) return id.readUInt16LE(0);
  }
  throw new NlTransportError(`generic netlink controller: reply for family ${name} without a family id`, 'EDECODE');
}
