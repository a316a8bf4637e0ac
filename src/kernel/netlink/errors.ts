// Errors of the netlink transport (./socket.ts): the kernel's refusal (NlError, an errno in an
// NLMSG_ERROR or NLMSG_DONE) and everything else that ends an exchange (NlTransportError: socket
// calls, timeouts, lost or undecodable data).
import { getSystemErrorName } from 'node:util';

/** The kernel refused a request: `errno` is positive, `code` its name ("EEXIST"; a family's own name for private numbers). */
export class NlError extends Error {
  readonly errno: number;
  readonly code: string;
  constructor(errno: number, name?: (errno: number) => string | undefined) {
    const positive = Math.abs(errno);
    let code = name?.(positive);
    if (code === undefined) {
      // Node names what it knows ("Unknown system error -N" otherwise, or a throw out of range).
      try {
        code = getSystemErrorName(-positive);
      } catch {
        code = '';
      }
      if (!/^E[A-Z0-9]+$/.test(code)) code = `E${positive}`;
    }
    super(`Request rejected: ${code}`);
    this.errno = positive;
    this.code = code;
  }
}

/** A transport failure (socket error, truncated or lost data, timeout) with a code. */
export class NlTransportError extends Error {
  readonly code: string;
  readonly errno: number | undefined;
  constructor(message: string, code: string, errno?: number) {
    super(message);
    this.name = 'NlTransportError';
    this.code = code;
    this.errno = errno;
  }
}

