// UDP responder for test/vm/ipvs/traffic.test.ts, run inside the backend namespace:
//   node test/vm/ipvs/udp-responder.ts PORT TEXT
// answers every datagram with "TEXT\n" (socat's UDP fork mode loses datagrams under load).
import { createSocket } from 'node:dgram';

const port = Number(process.argv[2]);
const text = `${process.argv[3] ?? 'pong'}\n`;
if (!Number.isInteger(port) || port <= 0 || port > 65535) throw new Error(`usage: udp-responder.ts PORT TEXT (bad port ${process.argv[2]})`);
const s = createSocket('udp4');
s.on('message', (_m, peer) => s.send(text, peer.port, peer.address));
s.bind(port);
