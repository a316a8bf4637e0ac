// Which Node changes the agent acts on. A Node is updated every few seconds by its kubelet (status
// heartbeats, conditions, images); the proxy and the pod network read only its labels (topology),
// its podCIDRs (NodeCIDR detect-local, peer routes) and its addresses (node IPs, peer routes), and
// /healthz reads its deletion timestamp and taints (without a sync). kube-proxy's NodeManager likewise
// syncs the proxier only when the labels change, and restarts on a podCIDR change.

/** The parts of a Node object (raw, as the API server sent it) a sync depends on, as one string. */
export function nodeFingerprint(raw: unknown): string {
  const n = (raw ?? {}) as {
    metadata?: { labels?: Record<string, string> | null };
    spec?: { podCIDR?: string | null; podCIDRs?: string[] | null } | null;
    status?: { addresses?: unknown[] | null } | null;
  };
  const labels = Object.entries(n.metadata?.labels ?? {}).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  return JSON.stringify([labels, n.spec?.podCIDR ?? null, n.spec?.podCIDRs ?? null, n.status?.addresses ?? null]);
}

/** Remembers each Node's fingerprint; says whether an event changes what a sync would see. */
export class NodeRelevance {
  private readonly seen = new Map<string, string>();

  /** True when the event matters: a new Node, a deleted one, or a change of its fingerprint. */
  matters(type: 'upsert' | 'delete', name: string, raw: unknown): boolean {
    if (type === 'delete') {
      this.seen.delete(name);
      return true;
    }
    const fp = nodeFingerprint(raw);
    if (this.seen.get(name) === fp) return false;
    this.seen.set(name, fp);
    return true;
  }
}
