// The health and metrics servers as kube-proxy runs them (serveHealthz, serveMetrics in
// cmd/kube-proxy/app/server.go): a server that cannot listen is logged and tried again every 5 s;
// with bindAddressHardFail the failure ends the start instead.

import type { Server } from 'node:http';

export class RetryingServer {
  private server: Server | undefined;
  private timer: NodeJS.Timeout | undefined;
  private closed = false;
  private readonly listen: () => Promise<Server>;
  private readonly retryMs: number;
  private readonly onError: (err: unknown) => void;

  constructor(listen: () => Promise<Server>, opts: { retryMs: number; onError: (err: unknown) => void }) {
    this.listen = listen;
    this.retryMs = opts.retryMs;
    this.onError = opts.onError;
  }

  /** Listen; on failure throw (hardFail) or report it and keep trying in the background. */
  async open(hardFail: boolean): Promise<void> {
    try {
      this.server = await this.listen();
    } catch (err) {
      if (hardFail) throw err;
      this.onError(err);
      this.retry();
    }
  }

  private retry(): void {
    if (this.closed) return;
    this.timer = setTimeout(() => {
      this.timer = undefined;
      this.listen().then(
        (s) => { if (this.closed) s.close(); else this.server = s; },
        (err: unknown) => { this.onError(err); this.retry(); },
      );
    }, this.retryMs);
    this.timer.unref();
  }

  /** The port listened on (port 0 resolved), while listening. */
  port(): number | undefined {
    const a = this.server?.address();
    return a && typeof a === 'object' ? a.port : undefined;
  }

  async close(): Promise<void> {
    this.closed = true;
    if (this.timer) clearTimeout(this.timer);
    const s = this.server;
    this.server = undefined;
    if (s) await new Promise<void>((r) => { s.close(() => r()); s.closeAllConnections(); });
  }
}
