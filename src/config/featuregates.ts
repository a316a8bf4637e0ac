// kube-proxy's feature gates (every gate its binary registers, from kube_features.go, component-base's
// logging and metrics gates; the list is feature-gates.data.ts, generated from kube-proxy itself) and
// featuregate.SetFromMap's rules and texts: an unknown gate stops at once ("unrecognized feature gate: X"),
// a locked gate cannot be moved, AllAlpha/AllBeta move every unlocked alpha/beta gate, and a gate turned
// on whose dependencies are off is refused.

import { GATE_DATA, EMULATION_VERSION, MIN_COMPATIBILITY_VERSION } from './feature-gates.data.ts';

export interface Gate {
  name: string;
  default: boolean;
  lockToDefault: boolean;
  preRelease: 'ALPHA' | 'BETA' | '' | 'DEPRECATED' | 'PRE-ALPHA';
  dependsOn: string[];
}

const STAGE: Record<string, Gate['preRelease']> = { A: 'ALPHA', B: 'BETA', G: '', D: 'DEPRECATED', P: 'PRE-ALPHA' };

/** GATE_DATA: "Name:<default 1|0><locked L|-><stage A|B|G|D|P>[:Dep+Dep]" separated by spaces. */
export const GATES: ReadonlyMap<string, Gate> = new Map(
  GATE_DATA.split(/\s+/).filter(Boolean).map((entry) => {
    const [name, bits, deps] = entry.split(':') as [string, string, string | undefined];
    return [name, { name, default: bits[0] === '1', lockToDefault: bits[1] === 'L', preRelease: STAGE[bits[2]!]!, dependsOn: deps ? deps.split('+') : [] }];
  }),
);

/** The gates' settings as given (featureGates / --feature-gates), after SetFromMap accepted them. */
export type GateState = ReadonlyMap<string, boolean>;

export interface GateResult {
  state: GateState;
  /** featuregate's "Warning: setting … feature gate" notices (kube-proxy logs them at info). */
  notices: Array<{ gate: string; value: boolean; stage: 'deprecated' | 'GA' }>;
}

export function gateEnabled(state: GateState, name: string): boolean {
  const set = state.get(name);
  if (set !== undefined) return set;
  const g = GATES.get(name);
  if (!g) return false;
  if (!g.lockToDefault && g.preRelease === 'ALPHA' && state.has('AllAlpha')) return state.get('AllAlpha')!;
  if (!g.lockToDefault && g.preRelease === 'BETA' && state.has('AllBeta')) return state.get('AllBeta')!;
  return g.default;
}

/** featuregate.SetFromMap: the state, or an Error with kube-proxy's text. Map order is the given order. */
export function setGatesFromMap(m: Record<string, boolean>): GateResult {
  const errs: string[] = [];
  const state = new Map<string, boolean>();
  const notices: GateResult['notices'] = [];
  for (const [k, v] of Object.entries(m)) {
    const g = GATES.get(k);
    if (!g) throw new Error(`unrecognized feature gate: ${k}`);
    if (g.lockToDefault && g.default !== v) {
      errs.push(`cannot set feature gate ${k} to ${v}, feature is locked to ${g.default}`);
      continue;
    }
    if (g.preRelease === 'PRE-ALPHA') {
      errs.push(`cannot set feature gate ${k} to ${v}, feature is PreAlpha at emulated version ${EMULATION_VERSION}, min compatibility version ${MIN_COMPATIBILITY_VERSION}`);
      continue;
    }
    state.set(k, v);
    if (g.preRelease === 'DEPRECATED') notices.push({ gate: k, value: v, stage: 'deprecated' });
    else if (g.preRelease === '' && k !== 'AllAlpha' && k !== 'AllBeta') notices.push({ gate: k, value: v, stage: 'GA' });
  }
  if (errs.length === 0) {
    for (const g of GATES.values()) {
      if (g.dependsOn.length === 0 || !gateEnabled(state, g.name)) continue;
      const off = g.dependsOn.filter((d) => !gateEnabled(state, d));
      if (off.length > 0) errs.push(`${g.name} is enabled, but depends on features that are disabled: [${off.join(' ')}]`);
    }
  }
  if (errs.length === 1) throw new Error(errs[0]);
  if (errs.length > 1) throw new Error(`[${errs.join(', ')}]`);
  return { state, notices };
}
