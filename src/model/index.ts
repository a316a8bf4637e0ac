export type * from './types.ts';
export { parseService } from './service.ts';
export { parseEndpointSlice } from './endpointslice.ts';
export { parseNode, nodeIPs } from './node.ts';
export { parseObject } from './parse.ts';
export { loadManifests, ManifestReadError, documentsOf, collectObjects } from './load.ts';
export { formatDiagnostic, compareDiagnostics } from './diagnostics.ts';
