// client-node's optional parts, loaded when first used instead of with its KubeConfig (config.js).
//
// config.js imports, for every process, three auth providers (oidc_auth.js with openid-client, jose
// and oauth4webapi; azure_auth.js and gcp_auth.js with jsonpath-plus), three proxy agents
// (socks-proxy-agent, socks, hpagent) and undici (its Agent and ProxyAgent, for the dispatcher of
// applySecurityAuthentication, which ipvsnet does not call: src/sources/transport.ts). A kubeconfig uses them only with `auth-provider: oidc|azure|gcp`
// or a cluster `proxy-url`; the agent's kubeconfig (a token or client certificates) never loads them
// then. client-node-lite.ts answers config.js's imports of them with this module. Its stand-ins load
// the real module synchronously (require) on first use and hand everything to it, so a kubeconfig that
// does use one behaves exactly as with client-node alone:
//  * an auth provider is asked isAuthProvider(user) by KubeConfig for every request; each of the three
//    answers false when the user has no authProvider, so the stand-in answers that without loading
//    anything, and otherwise asks the real one;
//  * a proxy agent is constructed (createAgent) or asked to connect (createSocksConnector) only for a
//    cluster with a proxy-url: the stand-in's constructor returns the real agent.
// test/unit/sources/client-node-lite.test.ts checks that config.js still imports only these names.
import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);
/** client-node's dist/ directory (its package allows deep imports, as src/sources/kube.ts uses). */
const clientNodeDist = (file: string) => require.resolve(`@kubernetes/client-node/dist/${file}`);

interface User { authProvider?: unknown }
interface Authenticator {
  isAuthProvider(user: User): boolean;
  applyAuthentication(user: User, opts: unknown): Promise<unknown>;
}

/** An auth provider of client-node, loaded from `file` (export `name`) the first time a user names one. */
function lazyAuthenticator(file: string, name: string): new () => Authenticator {
  let Real: (new () => Authenticator) | undefined;
  const load = (): Authenticator => {
    Real ??= (require(clientNodeDist(file)) as Record<string, new () => Authenticator>)[name]!;
    return new Real();
  };
  return class {
    real: Authenticator | undefined;
    isAuthProvider(user: User): boolean {
      return Boolean(user?.authProvider) && (this.real ??= load()).isAuthProvider(user);
    }
    applyAuthentication(user: User, opts: unknown): Promise<unknown> {
      return (this.real ??= load()).applyAuthentication(user, opts);
    }
  };
}

export const OpenIDConnectAuth = lazyAuthenticator('oidc_auth.js', 'OpenIDConnectAuth');
export const AzureAuth = lazyAuthenticator('azure_auth.js', 'AzureAuth');
export const GoogleCloudPlatformAuth = lazyAuthenticator('gcp_auth.js', 'GoogleCloudPlatformAuth');

type AnyClass = new (...args: unknown[]) => object;
/** A class whose `new` returns an instance of package `pkg`'s export `name`, loaded then. */
function lazyClass(pkg: string, name: string): AnyClass {
  return class {
    constructor(...args: unknown[]) {
      const Real = (require(pkg) as Record<string, AnyClass>)[name]!;
      // a constructor that returns an object makes `new` give that object
      return new Real(...args);
    }
  };
}

// undici: config.js builds an undici dispatcher only in applySecurityAuthentication (client-node's
// generated API and Watch); ipvsnet's requests use applyToHTTPSOptions and node:https (transport.ts).
export const Agent = lazyClass('undici', 'Agent');
export const ProxyAgent = lazyClass('undici', 'ProxyAgent');
export const SocksProxyAgent = lazyClass('socks-proxy-agent', 'SocksProxyAgent');
export const HttpProxyAgent = lazyClass('hpagent', 'HttpProxyAgent');
export const HttpsProxyAgent = lazyClass('hpagent', 'HttpsProxyAgent');
/** config.js calls SocksClient.createConnection only. */
export const SocksClient = {
  createConnection(...args: unknown[]): unknown {
    return (require('socks') as { SocksClient: { createConnection(...a: unknown[]): unknown } }).SocksClient.createConnection(...args);
  },
};
