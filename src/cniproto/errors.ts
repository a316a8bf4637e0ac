// CNI error codes (spec "Error" section) and the typed error plugins throw.
export const ErrIncompatibleCNIVersion = 1;
export const ErrUnsupportedField = 2;
export const ErrUnknownContainer = 3;
export const ErrInvalidEnvironmentVariables = 4;
export const ErrIOFailure = 5;
export const ErrDecodingFailure = 6;
export const ErrInvalidNetworkConfig = 7;
export const ErrTryAgainLater = 11;
export const ErrPluginNotAvailable = 50;
export const ErrLimitedConnectivity = 51;
export const ErrInternal = 999;

export class CniError extends Error {
  readonly code: number;
  readonly details: string;
  constructor(code: number, msg: string, details = '') {
    super(msg);
    this.name = 'CniError';
    this.code = code;
    this.details = details;
  }
}

/** Map any thrown value to a CNI error (no stack traces ever reach the output). */
export function toCniError(e: unknown): CniError {
  if (e instanceof CniError) return e;
  if (e instanceof Error) {
    const code = (e as { code?: unknown }).code;
    // filesystem failures are I/O failures in CNI terms
    if (typeof code === 'string' && /^E[A-Z]+$/.test(code) && e.name !== 'RtnlError' && (e as { syscall?: unknown }).syscall !== undefined) {
      return new CniError(ErrIOFailure, e.message);
    }
    return new CniError(ErrInternal, e.message);
  }
  return new CniError(ErrInternal, String(e));
}
