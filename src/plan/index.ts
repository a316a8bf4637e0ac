// The Service proxy core: pure planners from Services, EndpointSlices and Nodes
// to the desired IPVS, kube-ipvs0, ipset and iptables state of one node.

export type * from './types.ts';
export { virtualServerKey } from './types.ts';
export { buildPlan, type PlanInput } from './full.ts';
export { IncrementalPlanner } from './incremental.ts';
export { defaultNodeConfig, validateNodeConfig, masqueradeMark, DEFAULT_SCHEDULER, type NodeConfig } from './config.ts';
export { ipsetName, IPSET_DEFS } from './ipsets.ts';
export { formatIpvsadm, formatIpset, formatIptables, formatJson } from './format.ts';
