// A real TCP forwarder in front of the apiserver that a test can cut: it destroys every open
// connection (a dropped watch) and refuses new ones while blocked. The apiserver itself stays up
// and keeps accepting changes from other clients, so the test can make changes "during the outage".

import { createServer, connect, type Server, type Socket } from 'node:net';

export class CuttableProxy {
  private server: Server | undefined;
  private readonly sockets = new Set<Socket>();
  private blocked = false;
  readonly targetHost: string;
  readonly targetPort: number;
  port = 0;
  connections = 0;

  constructor(targetHost: string, targetPort: number) {
    this.targetHost = targetHost;
    this.targetPort = targetPort;
  }

  async listen(host = '127.0.0.1', port = 0): Promise<number> {
    this.server = createServer((client) => {
      if (this.blocked) {
        client.destroy();
        return;
      }
      this.connections++;
      const upstream = connect(this.targetPort, this.targetHost);
      for (const s of [client, upstream]) {
        this.sockets.add(s);
        s.on('close', () => this.sockets.delete(s));
        s.on('error', () => undefined);
      }
      client.pipe(upstream);
      upstream.pipe(client);
      client.on('close', () => upstream.destroy());
      upstream.on('close', () => client.destroy());
    });
    await new Promise<void>((res, rej) => {
      this.server!.once('error', rej);
      this.server!.listen(port, host, () => res());
    });
    const a = this.server.address();
    this.port = a && typeof a === 'object' ? a.port : 0;
    return this.port;
  }

  /** Drop every open connection (RST-like) and refuse new ones until unblock(). */
  cut(): void {
    this.blocked = true;
    for (const s of this.sockets) s.destroy();
    this.sockets.clear();
  }

  unblock(): void {
    this.blocked = false;
  }

  async close(): Promise<void> {
    this.cut();
    await new Promise<void>((r) => (this.server ? this.server.close(() => r()) : r()));
  }
}
