// The IPVS adapter's interface, as the reconciler sees it. Implemented over
// generic netlink (family "IPVS") in src/kernel/ipvs/genl.ts.

import type { Family, Protocol } from '../../net/index.ts';

export interface IpvsStats {
  conns: bigint;
  inPackets: bigint;
  outPackets: bigint;
  inBytes: bigint;
  outBytes: bigint;
  cps: bigint;
  inPps: bigint;
  outPps: bigint;
  inBps: bigint;
  outBps: bigint;
}

export interface IpvsServiceId {
  family: Family;
  protocol: Protocol;
  address: string;
  port: number;
}

export interface IpvsService extends IpvsServiceId {
  scheduler: string;
  /** Raw IP_VS_SVC_F_* bits. */
  flags: number;
  /** Persistence timeout, seconds. */
  timeout: number;
  /** Persistence netmask: prefix length (v6) or dotted mask bits as prefix length (v4). */
  netmask: number;
  stats?: IpvsStats;
}

export type IpvsForward = 'masq' | 'local' | 'tunnel' | 'route' | 'bypass';

export interface IpvsDest {
  address: string;
  port: number;
  weight: number;
  forward: IpvsForward;
  upperThreshold: number;
  lowerThreshold: number;
  activeConns?: number;
  inactiveConns?: number;
  persistentConns?: number;
  stats?: IpvsStats;
}

export interface IpvsInfo {
  version: string;
  connTableSize: number;
}

export interface IpvsTimeouts {
  tcp: number;
  tcpFin: number;
  udp: number;
}

export interface Ipvs {
  info(): Promise<IpvsInfo>;
  listServices(): Promise<IpvsService[]>;
  getService(id: IpvsServiceId): Promise<IpvsService | undefined>;
  addService(s: IpvsService): Promise<void>;
  updateService(s: IpvsService): Promise<void>;
  deleteService(id: IpvsServiceId): Promise<void>;
  listDests(id: IpvsServiceId): Promise<IpvsDest[]>;
  addDest(id: IpvsServiceId, d: IpvsDest): Promise<void>;
  updateDest(id: IpvsServiceId, d: IpvsDest): Promise<void>;
  deleteDest(id: IpvsServiceId, d: Pick<IpvsDest, 'address' | 'port'>): Promise<void>;
  getTimeouts(): Promise<IpvsTimeouts>;
  setTimeouts(t: Partial<IpvsTimeouts>): Promise<void>;
  close(): void;
}
