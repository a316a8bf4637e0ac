// Standalone thick-mode server (the agent embeds startCniServer instead):
//   node src/cni/daemon.ts [--socket /run/ipvsnet/cni.sock]
// Prints one JSON line per served request on stdout.
import { startCniServer, DEFAULT_SOCKET } from './server.ts';

const i = process.argv.indexOf('--socket');
const socketPath = i > 0 ? process.argv[i + 1] ?? DEFAULT_SOCKET : DEFAULT_SOCKET;
const srv = await startCniServer({
  socketPath,
  onRequest: (r) => process.stdout.write(JSON.stringify(r) + '\n'),
});
process.stdout.write(JSON.stringify({ listening: srv.socketPath }) + '\n');
const stop = () => {
  void srv.close().then(() => process.exit(0));
};
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
