// Where the multi-network worker's entry is, next to this file (src/ when run from source, dist/
// when compiled).
import { fileURLToPath } from 'node:url';
import { dirname, extname, join } from 'node:path';

export function multinetWorkerEntry(): string {
  const self = fileURLToPath(import.meta.url);
  return join(dirname(self), 'worker' + extname(self));
}
