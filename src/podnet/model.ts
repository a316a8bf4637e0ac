// The pod network's view of a Node: its name, podCIDR(s) and InternalIP(s), validated at the edge
// by the Node schema (src/model/node.ts, zod). A malformed Node is skipped with the diagnostics that
// name it and the field; the other Nodes keep their models.
import type { CIDR, Diagnostic, Family, IP } from '../net/index.ts';
import { canonicalNetwork, formatIP, network, parseCIDR, parseIP } from '../net/index.ts';
import { parseNode } from '../model/node.ts';
import { objectRef } from '../model/common.ts';

/** A podCIDR: its network (host bits cleared) and that network's canonical text. */
export interface PodCIDR {
  family: Family;
  /** e.g. "10.244.2.0/24", "fd00:244:2::/64" (RFC 5952) */
  text: string;
  cidr: CIDR;
}

/** An address of a Node, with its canonical text. */
export interface NodeIP {
  family: Family;
  text: string;
  ip: IP;
}

export interface PodNode {
  name: string;
  /** spec.podCIDRs (else spec.podCIDR), host bits cleared, in the Node's order. */
  podCIDRs: PodCIDR[];
  /** The field the podCIDRs came from, for diagnostics ("spec.podCIDRs" or "spec.podCIDR"). */
  podCIDRField: 'spec.podCIDRs' | 'spec.podCIDR';
  /** status.addresses of type InternalIP, canonical, in status order. */
  internalIPs: NodeIP[];
}

export interface PodNodeResult {
  /** Undefined when the Node had an error and is skipped. */
  node?: PodNode;
  diagnostics: Diagnostic[];
}

/** Validate a raw v1.Node (the JSON the API server sends). */
export function podNodeOf(raw: unknown): PodNodeResult {
  const r = parseNode(raw);
  // spec.podCIDR mirrors spec.podCIDRs[0]: one bad CIDR is one problem, reported once (at the first field).
  if (!r.model) return { diagnostics: r.diagnostics.filter((d, i, all) => all.findIndex((o) => o.reason === d.reason) === i) };
  const m = r.model;
  const spec = (raw as { spec?: { podCIDRs?: unknown } | null }).spec;
  const fromList = Array.isArray(spec?.podCIDRs) && spec.podCIDRs.length > 0;
  return {
    node: {
      name: m.name,
      podCIDRs: m.podCIDRs.map((s) => parseCIDR(s)).filter((c): c is CIDR => c !== undefined).map((c) => {
        const cidr = { ip: network(c), prefix: c.prefix };
        return { family: c.ip.family, text: canonicalNetwork(c), cidr };
      }),
      podCIDRField: fromList ? 'spec.podCIDRs' : 'spec.podCIDR',
      internalIPs: m.addresses.filter((a) => a.type === 'InternalIP').map((a) => parseIP(a.address)).filter((ip): ip is IP => ip !== undefined).map((ip) => ({ family: ip.family, text: formatIP(ip), ip })),
    },
    diagnostics: r.diagnostics,
  };
}

/**
 * The Nodes the pod network knows, kept up to date from Node events. Valid Nodes have a model;
 * a Node whose last version was invalid has only its diagnostics (and no routes).
 */
export class PodNodes {
  readonly #nodes = new Map<string, PodNode>();
  readonly #problems = new Map<string, Diagnostic[]>();

  /** Apply an added or changed Node; returns its diagnostics. */
  upsert(raw: unknown): Diagnostic[] {
    const key = objectRef(raw, false);
    const r = podNodeOf(raw);
    if (r.node) this.#nodes.set(r.node.name, r.node);
    else this.#nodes.delete(key);
    if (r.diagnostics.length) this.#problems.set(r.node?.name ?? key, r.diagnostics);
    else this.#problems.delete(r.node?.name ?? key);
    return r.diagnostics;
  }

  delete(name: string): void {
    this.#nodes.delete(name);
    this.#problems.delete(name);
  }

  /** Replace every Node at once (a relist; tests). */
  replaceAll(raws: readonly unknown[]): void {
    this.#nodes.clear();
    this.#problems.clear();
    for (const r of raws) this.upsert(r);
  }

  get(name: string): PodNode | undefined {
    return this.#nodes.get(name);
  }

  /** Whether `name` is known at all (valid or not). */
  has(name: string): boolean {
    return this.#nodes.has(name) || this.#problems.has(name);
  }

  /** Valid Nodes, sorted by name. */
  list(): PodNode[] {
    return [...this.#nodes.values()].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  }

  /** The validation diagnostics of every Node, sorted by Node name. */
  diagnostics(): Diagnostic[] {
    return [...this.#problems.keys()].sort().flatMap((k) => this.#problems.get(k)!);
  }
}
