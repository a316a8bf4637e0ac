// Dispatch a raw Kubernetes object to its parser by kind.

import type { Diagnostic } from '../net/index.ts';
import type { EndpointSliceModel, NodeModel, ServiceModel } from './types.ts';
import { parseService } from './service.ts';
import { parseEndpointSlice } from './endpointslice.ts';
import { parseNode } from './node.ts';

export type AnyModel = ServiceModel | EndpointSliceModel | NodeModel;

export interface ObjectParse {
  /** Undefined for kinds the planner does not read (Deployments, Pods, …). */
  kind?: 'Service' | 'EndpointSlice' | 'Node';
  model?: AnyModel;
  diagnostics: Diagnostic[];
}

export function parseObject(raw: unknown): ObjectParse {
  const kind = raw && typeof raw === 'object' ? (raw as { kind?: unknown }).kind : undefined;
  switch (kind) {
    case 'Service': return { kind, ...parseService(raw) };
    case 'EndpointSlice': return { kind, ...parseEndpointSlice(raw) };
    case 'Node': return { kind, ...parseNode(raw) };
    default: return { diagnostics: [] };
  }
}
