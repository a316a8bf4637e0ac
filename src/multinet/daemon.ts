// A standalone thick-mode CNI server with multi-network on, its Pods and NADs read from manifest
// files instead of the API server (static nodes, rehearsals, the netns tests):
//   node src/multinet/daemon.ts --socket /run/ipvsnet/cni.sock --manifests DIR
// The manifests (Pod and NetworkAttachmentDefinition objects, YAML or JSON) are read again before
// each ADD, so editing the directory takes effect at once. Prints one JSON line on stdout per served
// request, per report (network-status, failures) and per CNI worker process started or ended.
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { documentsOf } from '../model/documents.ts';
import { startCniServer, DEFAULT_SOCKET } from '../cni/server.ts';
import { MultinetStore } from './store.ts';
import { multinetWorkerEntry } from './entry.ts';

function flag(name: string): string | undefined {
  const i = process.argv.indexOf(name);
  return i > 0 ? process.argv[i + 1] : undefined;
}

function filesUnder(p: string): string[] {
  if (!statSync(p).isDirectory()) return [p];
  return readdirSync(p).sort().flatMap((n) => (/\.(ya?ml|json)$/.test(n) ? filesUnder(join(p, n)) : []));
}

/** A store holding exactly the Pods and NADs of the manifests now. */
function load(path: string): MultinetStore {
  const store = new MultinetStore({ podWaitMs: 0, syncWaitMs: 0 });
  for (const f of filesUnder(path)) {
    for (const doc of documentsOf(readFileSync(f, 'utf8'), f, [])) {
      const kind = (doc as { kind?: unknown })?.kind;
      if (kind === 'Pod') store.upsertPod(doc);
      else if (kind === 'NetworkAttachmentDefinition') store.upsertNad(doc);
    }
  }
  store.markSynced('pods');
  store.markSynced('nads');
  return store;
}

const socketPath = flag('--socket') ?? DEFAULT_SOCKET;
const manifests = flag('--manifests');
if (!manifests) {
  process.stderr.write('usage: daemon.ts --socket PATH --manifests FILE_OR_DIR\n');
  process.exit(2);
}
const srv = await startCniServer({
  socketPath,
  workerEntry: multinetWorkerEntry(),
  contextFor: (req) => load(manifests).contextFor(req),
  onReport: (_req, report) => process.stdout.write(JSON.stringify({ report }) + '\n'),
  onRequest: (r) => process.stdout.write(JSON.stringify(r) + '\n'),
  onWorker: (e) => process.stdout.write(JSON.stringify({ worker: e }) + '\n'),
});
process.stdout.write(JSON.stringify({ listening: srv.socketPath }) + '\n');
const stop = () => {
  void srv.close().then(() => process.exit(0));
};
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
