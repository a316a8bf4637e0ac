// CNI_ARGS: "K=V;K2=V2". Keys a plugin does not know are an error unless
// IgnoreUnknown=1|true is present (as in the reference libcni CommonArgs).
import { CniError, ErrInvalidEnvironmentVariables } from './errors.ts';

export interface CniArgs {
  ignoreUnknown: boolean;
  k8sPodNamespace?: string;
  k8sPodName?: string;
  k8sPodInfraContainerId?: string;
  k8sPodUid?: string;
  /** every pair, in order */
  pairs: Array<[string, string]>;
  get(key: string): string | undefined;
}

const COMMON = new Set(['IgnoreUnknown', 'K8S_POD_NAMESPACE', 'K8S_POD_NAME', 'K8S_POD_INFRA_CONTAINER_ID', 'K8S_POD_UID']);

/** Parse CNI_ARGS; `known` lists the plugin's own keys besides the common ones. */
export function parseCniArgs(raw: string | undefined, known: readonly string[]): CniArgs {
  const pairs: Array<[string, string]> = [];
  if (raw !== undefined && raw !== '') {
    for (const part of raw.split(';')) {
      if (part === '') continue;
      const eq = part.indexOf('=');
      if (eq <= 0) throw new CniError(ErrInvalidEnvironmentVariables, `CNI_ARGS: invalid pair ${JSON.stringify(part)} (want KEY=VALUE)`);
      pairs.push([part.slice(0, eq), part.slice(eq + 1)]);
    }
  }
  const map = new Map(pairs);
  const ig = map.get('IgnoreUnknown');
  if (ig !== undefined && !['1', '0', 'true', 'false', 'True', 'False', 'TRUE', 'FALSE', 't', 'f'].includes(ig)) {
    throw new CniError(ErrInvalidEnvironmentVariables, `CNI_ARGS: IgnoreUnknown must be a boolean, got ${JSON.stringify(ig)}`);
  }
  const ignoreUnknown = ig !== undefined && ['1', 'true', 'True', 'TRUE', 't'].includes(ig);
  if (!ignoreUnknown) {
    const own = new Set(known);
    for (const [k] of pairs) {
      if (!COMMON.has(k) && !own.has(k)) throw new CniError(ErrInvalidEnvironmentVariables, `CNI_ARGS: unknown key ${JSON.stringify(k)} (set IgnoreUnknown=1 to allow it)`);
    }
  }
  const a: CniArgs = { ignoreUnknown, pairs, get: (k) => map.get(k) };
  const ns = map.get('K8S_POD_NAMESPACE');
  if (ns !== undefined) a.k8sPodNamespace = ns;
  const n = map.get('K8S_POD_NAME');
  if (n !== undefined) a.k8sPodName = n;
  const id = map.get('K8S_POD_INFRA_CONTAINER_ID');
  if (id !== undefined) a.k8sPodInfraContainerId = id;
  const uid = map.get('K8S_POD_UID');
  if (uid !== undefined) a.k8sPodUid = uid;
  return a;
}
