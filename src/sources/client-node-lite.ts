// Keeps @kubernetes/client-node's generated API out of the agent's memory.
//
// client-node's KubeConfig (dist/config.js) imports the package's whole generated API (dist/gen/index.js:
// about 1,000 modules of typed models and API classes) for one method, makeApiClient. ipvsnet never calls
// it: it talks to the apiserver with raw JSON over node:https (src/sources/kube.ts, watch.ts). Loading that
// API anyway costs about 40 MB of RSS, a sixth of the agent's budget at 10,000 Services, and minutes of
// start-up under the VM lane's emulated CPU.
//
// This module registers a module resolution hook (node:module registerHooks, synchronous and in-thread)
// that answers config.js's import of ./gen/index.js with ./client-node-gen-lite.ts, which provides the
// two names config.js imports and makes makeApiClient fail with a clear message. It also answers
// config.js's imports of the OIDC, Azure and GCP auth providers, of the SOCKS and HTTP proxy agents
// and of undici with ./client-node-optional.ts, whose stand-ins load the real ones on first use (about 3 MB of RSS
// for kubeconfigs that use none). Nothing else is redirected: any other importer of these modules (the
// package index, for one) gets the real thing.
// test/unit/sources/client-node-lite.test.ts checks that config.js still imports only those two names,
// so a client-node upgrade that needs more fails there, not in production.
//
// It must be imported before anything imports client-node's config.js: src/cli/main.ts imports it
// first and loads each command with import().
import { registerHooks } from 'node:module';

export const GEN_INDEX_SPECIFIER = './gen/index.js';
export const CONFIG_MODULE_SUFFIX = '/@kubernetes/client-node/dist/config.js';
// Beside this module, as TypeScript (src/) or as the build's JavaScript (js/, see bin/ipvsnet).
const FROM_TS = import.meta.url.endsWith('.ts');
const LITE_URL = new URL(FROM_TS ? './client-node-gen-lite.ts' : './client-node-gen-lite.js', import.meta.url).href;
/** config.js's imports of auth providers and proxy agents a kubeconfig rarely uses: loaded on first use (client-node-optional.ts). */
export const OPTIONAL_SPECIFIERS: readonly string[] = ['./oidc_auth.js', './azure_auth.js', './gcp_auth.js', 'socks-proxy-agent', 'socks', 'hpagent', 'undici'];
const OPTIONAL_URL = new URL(FROM_TS ? './client-node-optional.ts' : './client-node-optional.js', import.meta.url).href;

let installed = false;

/** Registers the hook once per process; returns false when it was already registered. */
export function installClientNodeLite(): boolean {
  if (installed) return false;
  installed = true;
  registerHooks({
    resolve(specifier, context, nextResolve) {
      if (context.parentURL?.endsWith(CONFIG_MODULE_SUFFIX)) {
        if (specifier === GEN_INDEX_SPECIFIER) return { url: LITE_URL, format: FROM_TS ? 'module-typescript' : 'module', shortCircuit: true };
        if (OPTIONAL_SPECIFIERS.includes(specifier)) return { url: OPTIONAL_URL, format: FROM_TS ? 'module-typescript' : 'module', shortCircuit: true };
      }
      return nextResolve(specifier, context);
    },
  });
  return true;
}

installClientNodeLite();
