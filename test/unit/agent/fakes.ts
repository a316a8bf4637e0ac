// AgentSources for the agent's unit tests: the events `initial()` returns are sent at start, then
// whatever a test sends on events$; stats() counts those initial events by kind. No cache: lookup()
// finds nothing (agent.test.ts has a fake with a cache of its own).
import { Subject } from 'rxjs';
import type { KubernetesObject } from '@kubernetes/client-node';
import type { AgentSources } from '../../../src/agent/agent.ts';
import type { SourceEvent } from '../../../src/sources/index.ts';

export class ListSources implements AgentSources {
  readonly events$ = new Subject<SourceEvent>();
  hasSynced = false;
  private readonly initial: () => SourceEvent[];
  constructor(initial: () => SourceEvent[] = () => []) { this.initial = initial; }
  async start(): Promise<void> {
    for (const e of this.initial()) this.events$.next(e);
    this.hasSynced = true;
  }
  async stop(): Promise<void> { this.events$.complete(); }
  lookup(): KubernetesObject | undefined { return undefined; }
  stats() {
    const n = (kind: string) => this.initial().filter((e) => e.kind === kind).length;
    return { services: n('Service'), endpointSlices: n('EndpointSlice'), nodes: n('Node'), relists: 0, restarts: 0 };
  }
}
