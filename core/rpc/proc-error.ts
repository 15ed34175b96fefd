/**
 * How RPC handlers fail. Picodata's procedures are C functions: their errors reach the caller as
 * iproto errors with code ER_PROC_C (102) and the error's text, which is what callers match on
 * (`not a leader`, `cluster_id mismatch: ...`). Typed `kind`s keep our own code off the text.
 */

import { isMpMap, mapGet, type MpValue } from '../codec/msgpack.ts';

export const ER_PROC_C = 102;
export const ER_TIMEOUT = 78;

export class ProcError extends Error {
  override readonly name = 'ProcError';
  readonly code: number;
  constructor(message: string, code = ER_PROC_C) {
    super(message);
    this.code = code;
  }
}

export function str(value: MpValue, what: string): string {
  if (typeof value !== 'string') throw new ProcError(`${what} must be a string`);
  return value;
}

export function optionalStr(value: MpValue, what: string): string | undefined {
  if (value === null || value === undefined) return undefined;
  return str(value, what);
}

export function uint(value: MpValue, what: string): number {
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < 0) throw new ProcError(`${what} must be an unsigned integer`);
  return value;
}

export function field(map: MpValue, key: string, what: string): MpValue {
  if (!isMpMap(map)) throw new ProcError(`${what} must be a map`);
  return mapGet(map, key);
}

/** A failure-domain map from the wire: string keys and values. */
export function domainMap(value: MpValue, what: string): Record<string, string> {
  if (value === null || value === undefined) return {};
  if (!isMpMap(value)) throw new ProcError(`${what} must be a map`);
  const out: Record<string, string> = {};
  for (const [k, v] of value instanceof Map ? value : Object.entries(value)) {
    if (typeof k !== 'string' || typeof v !== 'string') throw new ProcError(`${what} keys and values must be strings`);
    out[k] = v;
  }
  return out;
}
