// ipvsnet-bridge network configuration (the reference bridge plugin's fields).
import { CniError, ErrInvalidNetworkConfig, ErrUnsupportedField } from '../../cniproto/errors.ts';
import { validateIfName } from '../../cniproto/skel.ts';
import { fail, optBool, optInt, optObj, optStr, isObj } from '../../cniproto/validate.ts';
import type { Obj } from '../../cniproto/validate.ts';
import { parseResult, parseDns } from '../../cniproto/types.ts';
import type { DNS, Result } from '../../cniproto/types.ts';
import type { CniArgs } from '../../cniproto/args.ts';

export const DEFAULT_BRIDGE = 'cni0';

export interface BridgeConf {
  name: string;
  bridge: string;
  isGateway: boolean;
  isDefaultGateway: boolean;
  forceAddress: boolean;
  ipMasq: boolean;
  hairpinMode: boolean;
  promiscMode: boolean;
  mtu: number | undefined;
  vlan: number;
  /** keep the bridge's default VLAN on the ports of a `vlan` network (the reference's preserveDefaultVlan) */
  preserveDefaultVlan: boolean;
  macspoofchk: boolean;
  /** requested container MAC (CNI_ARGS MAC=, args.cni.mac, runtimeConfig.mac) */
  mac: string | undefined;
  /** ipam.type; '' when the network is layer 2 only */
  ipamType: string;
  dns: DNS | undefined;
  prevResult: Result | undefined;
}

const MAC = /^([0-9a-fA-F]{2}:){5}[0-9a-fA-F]{2}$/;

export function loadBridgeConf(conf: Obj, args: CniArgs): BridgeConf {
  const name = optStr(conf, 'name', 'name') ?? '';
  if (!/^[a-zA-Z0-9][a-zA-Z0-9_.-]*$/.test(name)) fail('name', `network name ${JSON.stringify(name).slice(0, 60)} must start with a letter or digit and hold only letters, digits, '_', '.' and '-'`);
  const bridge = optStr(conf, 'bridge', 'bridge') ?? DEFAULT_BRIDGE;
  const badIf = validateIfName(bridge);
  if (badIf) fail('bridge', badIf);
  const isDefaultGateway = optBool(conf, 'isDefaultGateway', 'isDefaultGateway') ?? false;
  const isGateway = (optBool(conf, 'isGateway', 'isGateway') ?? false) || isDefaultGateway;
  const hairpinMode = optBool(conf, 'hairpinMode', 'hairpinMode') ?? false;
  const promiscMode = optBool(conf, 'promiscMode', 'promiscMode') ?? false;
  if (hairpinMode && promiscMode) fail('hairpinMode', 'cannot set hairpin mode and promiscuous mode at the same time');
  const mtu = optInt(conf, 'mtu', 'mtu', 0, 65535);
  if (mtu !== undefined && mtu !== 0 && mtu < 68) fail('mtu', `must be at least 68, got ${mtu}`);
  const vlan = optInt(conf, 'vlan', 'vlan', 0, 4094) ?? 0;
  const preserveDefaultVlan = optBool(conf, 'preserveDefaultVlan', 'preserveDefaultVlan') ?? false;
  const macspoofchk = optBool(conf, 'macspoofchk', 'macspoofchk') ?? false;
  if (macspoofchk) {
    throw new CniError(ErrUnsupportedField, 'macspoofchk is not supported by ipvsnet-bridge (see docs/pod-network.md)');
  }
  if (conf['vlanTrunk'] !== undefined && conf['vlanTrunk'] !== null) {
    throw new CniError(ErrUnsupportedField, 'vlanTrunk is not supported by ipvsnet-bridge');
  }
  const ipam = optObj(conf, 'ipam', 'ipam');
  const ipamType = ipam ? (optStr(ipam, 'type', 'ipam.type') ?? '') : '';
  if (ipamType !== '' && !/^[a-zA-Z0-9][a-zA-Z0-9_.-]*$/.test(ipamType)) fail('ipam.type', `${JSON.stringify(ipamType).slice(0, 60)} is not a plugin name`);
  let mac: string | undefined = args.get('MAC');
  const a = optObj(conf, 'args', 'args');
  const cniArgs = a ? optObj(a, 'cni', 'args.cni') : undefined;
  const am = cniArgs ? optStr(cniArgs, 'mac', 'args.cni.mac') : undefined;
  if (am) mac = am;
  const rc = optObj(conf, 'runtimeConfig', 'runtimeConfig');
  const rm = rc ? optStr(rc, 'mac', 'runtimeConfig.mac') : undefined;
  if (rm) mac = rm;
  if (mac !== undefined && mac !== '') {
    if (!MAC.test(mac)) fail('mac', `${JSON.stringify(mac).slice(0, 40)} is not a MAC address`);
    if (parseInt(mac.slice(0, 2), 16) & 1) fail('mac', `${mac} is a multicast address`);
  } else mac = undefined;
  const dnsRaw = conf['dns'];
  const dns = isObj(dnsRaw) ? parseDns(dnsRaw) : undefined;
  const prev = conf['prevResult'];
  let prevResult: Result | undefined;
  if (prev !== undefined && prev !== null) {
    try {
      prevResult = parseResult(prev);
    } catch (e) {
      throw new CniError(ErrInvalidNetworkConfig, (e as Error).message);
    }
  }
  return {
    name, bridge, isGateway, isDefaultGateway,
    forceAddress: optBool(conf, 'forceAddress', 'forceAddress') ?? false,
    ipMasq: optBool(conf, 'ipMasq', 'ipMasq') ?? false,
    hairpinMode, promiscMode, mtu: mtu || undefined, vlan, preserveDefaultVlan, macspoofchk, mac, ipamType,
    dns: dns && Object.keys(dns).length ? dns : undefined,
    prevResult,
  };
}
