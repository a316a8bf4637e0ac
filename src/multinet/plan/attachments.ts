// The delegate plan of one pod (pure): the default network first, then each selected NAD in the
// annotation's order, each with its interface name, the exact config to run, its capability args
// (runtimeConfig) and CNI_ARGS. Everything the runner needs is decided here; the runner executes.
//
// Interface names are Multus's: the default network gets the runtime's CNI_IFNAME, the attachment at
// position i (1-based, counting the default network as 0) gets `net<i>` unless it asks for its own;
// two attachments with one name are an error before anything runs.
import { invalid, ErrTransient } from '../model/errors.ts';
import { DEFAULT_NETWORK_ANNOTATION, NETWORKS_ANNOTATION, parseNetworksAnnotation, podRef } from '../model/annotation.ts';
import type { NetworkSelection } from '../model/annotation.ts';
import { nadRef, parseNad } from '../model/nad.ts';
import type { NadModel } from '../model/nad.ts';
import { parseNetConfText } from '../model/netconf.ts';
import type { NetConfList, Obj } from '../model/netconf.ts';
import type { TopLevelConf } from '../model/toplevel.ts';

export interface PodInfo {
  namespace: string;
  name: string;
  uid?: string;
  annotations: Record<string, string>;
}

export interface Attachment {
  /** network-status name: "namespace/name" of the NAD, or the default network's config name */
  network: string;
  nad?: { namespace: string; name: string; uid?: string };
  ifname: string;
  conf: NetConfList;
  /** capability args; each plugin gets those its `capabilities` declare (libcni) */
  capabilityArgs: Obj;
  /** extra CNI_ARGS pairs (IP=, MAC=), after the runtime's own */
  cniArgs: Array<[string, string]>;
  /** gateways: this attachment holds the pod's default route */
  defaultRoute?: string[];
  isDefaultNetwork: boolean;
}

export interface PodPlan {
  pod: PodInfo;
  attachments: Attachment[];
}

export interface PlanInput {
  pod: PodInfo;
  top: TopLevelConf;
  /** CNI_IFNAME of the request: the default network's interface */
  ifname: string;
  /** the NAD object stored for namespace/name, raw (undefined: none) */
  nad: (namespace: string, name: string) => unknown;
  /** the config files of the CNI config dir, for NADs without spec.config */
  confFiles: ReadonlyArray<{ path: string; text: string }>;
}

/** Resolve a config-less NAD: the config file whose network name is the NAD's name (NPWG 3.4.1). */
function configFromFiles(nad: NadModel, files: PlanInput['confFiles']): NetConfList {
  const object = nadRef(nad.namespace, nad.name);
  for (const f of [...files].sort((a, b) => a.path.localeCompare(b.path))) {
    let name: unknown;
    try {
      name = (JSON.parse(f.text) as { name?: unknown }).name;
    } catch {
      continue; // an unreadable foreign file is not this NAD's
    }
    if (name === nad.name) return parseNetConfText(f.text, object, `spec.config (from ${f.path})`);
  }
  return invalid(object, 'spec.config', `is empty and no config file in the CNI config dir has the network name ${JSON.stringify(nad.name)}`);
}

function selectionArgs(s: NetworkSelection): { capabilityArgs: Obj; cniArgs: Array<[string, string]> } {
  const capabilityArgs: Obj = {};
  const cniArgs: Array<[string, string]> = [];
  if (s.ips) {
    capabilityArgs['ips'] = s.ips;
    cniArgs.push(['IP', s.ips.join(',')]);
  }
  if (s.mac) {
    capabilityArgs['mac'] = s.mac;
    cniArgs.push(['MAC', s.mac]);
  }
  if (s.portMappings) capabilityArgs['portMappings'] = s.portMappings;
  if (s.bandwidth) capabilityArgs['bandwidth'] = s.bandwidth;
  return { capabilityArgs, cniArgs };
}

/** cni-args go into each plugin config as args.cni (the CNI "args" convention Multus uses). */
function withCniArgs(conf: NetConfList, args: Obj | undefined): NetConfList {
  if (!args) return conf;
  return {
    ...conf,
    plugins: conf.plugins.map((p) => {
      const prev = p['args'] && typeof p['args'] === 'object' ? (p['args'] as Obj) : {};
      const prevCni = prev['cni'] && typeof prev['cni'] === 'object' ? (prev['cni'] as Obj) : {};
      return { ...p, args: { ...prev, cni: { ...prevCni, ...args } } };
    }),
  };
}

/**
 * The default network: the wrapper's delegate, or the NAD the pod names in
 * `v1.multus-cni.io/default-network` ("namespace/name" or "name"), on CNI_IFNAME.
 */
function defaultAttachment(input: PlanInput): Attachment {
  const { pod, top } = input;
  const base = { ifname: input.ifname, capabilityArgs: { ...top.runtimeConfig }, cniArgs: [], isDefaultNetwork: true };
  const ref = pod.annotations[DEFAULT_NETWORK_ANNOTATION]?.trim();
  if (!ref) return { ...base, network: top.defaultNetwork.name, conf: top.defaultNetwork };
  const object = podRef(pod.namespace, pod.name);
  const field = `metadata.annotations[${JSON.stringify(DEFAULT_NETWORK_ANNOTATION)}]`;
  const [namespace, name] = ref.includes('/') ? [ref.slice(0, ref.indexOf('/')), ref.slice(ref.indexOf('/') + 1)] : [pod.namespace, ref];
  if (!/^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/.test(namespace) || !/^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$/.test(name)) invalid(object, field, `${JSON.stringify(ref.slice(0, 80))} is not "namespace/name" or "name" of a NAD`);
  if (top.namespaceIsolation && namespace !== pod.namespace && !top.globalNamespaces.includes(namespace)) invalid(object, field, `namespace isolation: ${JSON.stringify(namespace)} is not this pod's namespace nor a global one`);
  const raw = input.nad(namespace, name);
  if (raw === undefined) invalid(object, field, `${nadRef(namespace, name)} not found (is it created, and in this namespace?)`, ErrTransient);
  const nad = parseNad(raw);
  return { ...base, network: `${namespace}/${name}`, nad: { namespace, name, ...(nad.uid ? { uid: nad.uid } : {}) }, conf: nad.config ?? configFromFiles(nad, input.confFiles) };
}

export function planPod(input: PlanInput): PodPlan {
  const { pod, top } = input;
  const object = podRef(pod.namespace, pod.name);
  // the cluster-wide defaultNetworks first, then the pod's own (Multus's order)
  const selections: NetworkSelection[] = [
    ...top.defaultNetworks.map((d): NetworkSelection => (d.includes('/') ? { namespace: d.slice(0, d.indexOf('/')), name: d.slice(d.indexOf('/') + 1) } : { name: d })),
    ...parseNetworksAnnotation(pod.annotations[NETWORKS_ANNOTATION] ?? '', object),
  ];
  const attachments: Attachment[] = [defaultAttachment(input)];
  const field = `metadata.annotations[${JSON.stringify(NETWORKS_ANNOTATION)}]`;
  const nd = top.defaultNetworks.length;
  /** where selection i came from: the CNI config's defaultNetworks, or the pod's annotation */
  const whereOf = (i: number) => (i < nd ? `defaultNetworks[${i}] (of the CNI config)` : `${field}[${i - nd}]`);
  selections.forEach((s, i) => {
    const namespace = s.namespace ?? pod.namespace;
    const at = whereOf(i);
    if (top.namespaceIsolation && namespace !== pod.namespace && !top.globalNamespaces.includes(namespace)) {
      invalid(object, `${at}.namespace`, `namespace isolation: this pod may use NADs of its own namespace ${JSON.stringify(pod.namespace)} or of ${top.globalNamespaces.map((g) => JSON.stringify(g)).join(', ') || 'no global namespace'}, not of ${JSON.stringify(namespace)}`);
    }
    const raw = input.nad(namespace, s.name);
    if (raw === undefined) invalid(object, at, `${nadRef(namespace, s.name)} not found (is it created, and in this namespace?)`, ErrTransient);
    const nad = parseNad(raw);
    const base = nad.config ?? configFromFiles(nad, input.confFiles);
    const { capabilityArgs, cniArgs } = selectionArgs(s);
    const a: Attachment = {
      network: `${namespace}/${s.name}`,
      nad: { namespace, name: s.name, ...(nad.uid ? { uid: nad.uid } : {}) },
      ifname: s.interface ?? `net${i + 1}`,
      conf: withCniArgs(base, s.cniArgs),
      capabilityArgs,
      cniArgs,
      isDefaultNetwork: false,
    };
    if (s.defaultRoute) a.defaultRoute = s.defaultRoute;
    attachments.push(a);
  });
  const seen = new Map<string, number>();
  attachments.forEach((a, i) => {
    const j = seen.get(a.ifname);
    if (j !== undefined) {
      const who = (k: number) => (k === 0 ? `the default network's ${JSON.stringify(input.ifname)}` : `${k - 1 < nd ? `defaultNetworks[${k - 1}]` : `selection [${k - 1 - nd}]`} (${attachments[k]!.network})`);
      invalid(object, `${whereOf(i - 1)}.interface`, `interface name ${JSON.stringify(a.ifname)} is already used by ${who(j)}`);
    }
    seen.set(a.ifname, i);
  });
  if (attachments.filter((a) => a.defaultRoute).length > 1) {
    invalid(object, field, '"default-route" is set on more than one network; a pod has one default route');
  }
  return { pod, attachments };
}
