// Small, dependency-free validators for CNI input. The CNI executables start
// for every pod operation, and loading a schema library costs more start-up
// time than the whole plugin budget (see docs/pod-network.md), so the edge
// checks here are hand-written. Every failure names the field.
import { CniError, ErrInvalidNetworkConfig } from './errors.ts';

export type Obj = Record<string, unknown>;

export function fail(field: string, msg: string): never {
  throw new CniError(ErrInvalidNetworkConfig, `invalid network config: ${field}: ${msg}`);
}

export function isObj(v: unknown): v is Obj {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

export function obj(v: unknown, field: string): Obj {
  if (!isObj(v)) fail(field, `must be an object, got ${kindOf(v)}`);
  return v;
}

export function optObj(o: Obj, key: string, field: string): Obj | undefined {
  const v = o[key];
  if (v === undefined || v === null) return undefined;
  return obj(v, field);
}

export function optStr(o: Obj, key: string, field: string): string | undefined {
  const v = o[key];
  if (v === undefined || v === null) return undefined;
  if (typeof v !== 'string') fail(field, `must be a string, got ${kindOf(v)}`);
  return v;
}

export function optBool(o: Obj, key: string, field: string): boolean | undefined {
  const v = o[key];
  if (v === undefined || v === null) return undefined;
  if (typeof v !== 'boolean') fail(field, `must be a boolean, got ${kindOf(v)}`);
  return v;
}

export function optInt(o: Obj, key: string, field: string, min: number, max: number): number | undefined {
  const v = o[key];
  if (v === undefined || v === null) return undefined;
  if (typeof v !== 'number' || !Number.isInteger(v)) fail(field, `must be an integer, got ${kindOf(v)}`);
  if (v < min || v > max) fail(field, `must be between ${min} and ${max}, got ${v}`);
  return v;
}

export function optArr(o: Obj, key: string, field: string): unknown[] | undefined {
  const v = o[key];
  if (v === undefined || v === null) return undefined;
  if (!Array.isArray(v)) fail(field, `must be an array, got ${kindOf(v)}`);
  return v;
}

export function kindOf(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'array';
  return typeof v;
}
