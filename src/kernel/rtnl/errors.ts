// The error of every rtnetlink operation: the operation, the object (with the namespace) and the errno name.

export class RtnlError extends Error {
  readonly code: string;
  readonly op: string;
  readonly object: string;
  constructor(op: string, object: string, cause: unknown) {
    const raw = cause instanceof Error ? cause.message : String(cause);
    const m = /Request rejected: (\w+)/.exec(raw);
    const code = m?.[1] ?? ((cause as { code?: string })?.code ?? 'EUNKNOWN');
    super(`${op} ${object}: ${m ? code : raw}`);
    this.name = 'RtnlError';
    this.code = code;
    this.op = op;
    this.object = object;
  }
}
