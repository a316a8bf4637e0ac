// What @kubernetes/client-node's config.js imports from its generated API, without loading that API.
// See client-node-lite.ts. Both are used only by KubeConfig.makeApiClient, which ipvsnet does not call.

export const MAKE_API_CLIENT_UNAVAILABLE =
  "KubeConfig.makeApiClient is not available in ipvsnet: client-node's generated API is not loaded (src/sources/client-node-lite.ts); use kubeRequest from src/sources/kube.ts";

export function createConfiguration(): never {
  throw new Error(MAKE_API_CLIENT_UNAVAILABLE);
}

export class ServerConfiguration {
  constructor() {
    throw new Error(MAKE_API_CLIENT_UNAVAILABLE);
  }
}
