/**
 * Vector clocks of replicated transactions (Tarantool's vclock): for every origin instance (its
 * raft id), the greatest sequence number of that origin's transactions an instance holds.
 *
 * A transaction's tag is `(origin, seq)`: a transaction written by a client on instance O has
 * origin O and seq = its first row's LSN in O's WAL; a replica that applies it keeps the tag
 * (core/replication/vclock-space.ts stores it with the rows), so the tag is the same on every
 * instance and a replica can switch to another master and say exactly what it has. Seqs of one
 * origin grow in that origin's commit order but need not be dense (an origin's WAL also holds
 * the transactions it applied from others).
 */

import { assert } from '../lib/assert.ts';
import type { MpObject, MpValue } from '../codec/msgpack.ts';

/** Origin raft id -> greatest seq held. An absent origin is 0 (nothing of it). */
export type Vclock = ReadonlyMap<number, number>;

export const EMPTY_VCLOCK: Vclock = new Map();

export interface TxnTag {
  readonly origin: number;
  readonly seq: number;
}

/** True when `vclock` already holds the transaction tagged `tag`. */
export function holds(vclock: Vclock, tag: TxnTag): boolean {
  return tag.seq <= (vclock.get(tag.origin) ?? 0);
}

/** `vclock` advanced by one transaction; seqs never go back. */
export function advance(vclock: Vclock, tag: TxnTag): Vclock {
  assert(Number.isSafeInteger(tag.origin) && tag.origin > 0, 'vclock origin must be a raft id');
  if (holds(vclock, tag)) return vclock;
  const next = new Map(vclock);
  next.set(tag.origin, tag.seq);
  return next;
}

/** True when `a` holds everything `b` holds (a >= b component-wise). */
export function dominates(a: Vclock, b: Vclock): boolean {
  for (const [origin, seq] of b) if ((a.get(origin) ?? 0) < seq) return false;
  return true;
}

/** As msgpack: a map from origin (as a decimal string key, msgpack maps here are string-keyed) to seq. */
export function vclockToValue(vclock: Vclock): MpObject {
  const out: MpObject = {};
  for (const [origin, seq] of [...vclock].sort((x, y) => x[0] - y[0])) out[String(origin)] = seq;
  return out;
}

/** Parses `vclockToValue`'s form; null when it is not one. */
export function vclockFromValue(value: MpValue): Vclock | null {
  if (value === null || typeof value !== 'object' || Array.isArray(value) || value instanceof Uint8Array) return null;
  const out = new Map<number, number>();
  for (const [key, seq] of Object.entries(value as MpObject)) {
    const origin = Number(key);
    if (!Number.isSafeInteger(origin) || origin <= 0) return null;
    if (typeof seq !== 'number' || !Number.isSafeInteger(seq) || seq < 0) return null;
    if (seq > 0) out.set(origin, seq);
  }
  return out;
}

export function formatVclock(vclock: Vclock): string {
  return `{${[...vclock].sort((x, y) => x[0] - y[0]).map(([o, s]) => `${o}: ${s}`).join(', ')}}`;
}
