// Pod-network side of the node agent: route controller and CNI conflist writer.
export { RouteController } from './controller.ts';
export type { RouteControllerOptions, RouteSyncResult } from './controller.ts';
export { planRoutes, nodePodCIDRs } from './planner.ts';
export type { DesiredRoute, NodeLike, RoutePlan } from './planner.ts';
export { writeConflist, buildConflist, CONFLIST_NAME } from './conflist.ts';
export type { ConflistOptions, ConflistResult } from './conflist.ts';
export { RTPROT_IPVSNET } from '../kernel/route.ts';
