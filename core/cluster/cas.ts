/**
 * Compare-and-swap on the clusterwide tables, sans-IO: the checks the leader makes before it
 * proposes a CaS operation (Picodata's `proc_cas`). The predicate says "I read the tables at
 * index I in term T, and my decision depends only on these key ranges"; the leader refuses if
 * anything since I touched those ranges.
 */

import type { Op } from './ops.ts';
import { opTouches } from './ops.ts';
import { compareKeys, type Key, type Tuple } from './table.ts';
import { PREDICATE_PROHIBITED_TABLES } from './tables.ts';

export type Bound = { readonly kind: 'included'; readonly key: Key } | { readonly kind: 'excluded'; readonly key: Key } | { readonly kind: 'unbounded' };

export interface CasRange {
  readonly space: string;
  readonly keyMin: Bound;
  readonly keyMax: Bound;
}

export interface CasPredicate {
  readonly index: number;
  readonly term: number;
  readonly ranges: readonly CasRange[];
}

export type CasError =
  | { readonly kind: 'term_mismatch'; readonly message: string }
  | { readonly kind: 'no_such_entry'; readonly message: string }
  | { readonly kind: 'compacted'; readonly message: string }
  | { readonly kind: 'entry_term_mismatch'; readonly message: string }
  | { readonly kind: 'prohibited_space'; readonly message: string }
  | { readonly kind: 'conflict'; readonly message: string };

/** What the leader knows of its log at the moment of the check. */
export interface CasLogView {
  readonly currentTerm: number;
  readonly firstIndex: number;
  readonly lastIndex: number;
  /** Term of the entry at `index` (the compacted index included), undefined when unknown. */
  termAt(index: number): number | undefined;
  /** Decoded operations of the entries in (from, lastIndex], in order (null for non-op entries). */
  opsAfter(from: number): Iterable<{ readonly index: number; readonly op: Op | null }>;
  keyOf(space: string, tuple: Tuple): Key;
}

export const CAS_ERROR_PREFIX = 'compare-and-swap request failed: ';

export function checkCas(view: CasLogView, predicate: CasPredicate): CasError | null {
  if (predicate.term !== view.currentTerm) {
    return { kind: 'term_mismatch', message: `operation request from different term ${predicate.term}, current term is ${view.currentTerm}` };
  }
  const failed = (kind: CasError['kind'], text: string): CasError => ({ kind, message: CAS_ERROR_PREFIX + text } as CasError);
  if (predicate.index > view.lastIndex) {
    return failed('no_such_entry', `raft entry at index ${predicate.index} does not exist yet, the last is ${view.lastIndex}`);
  }
  const compactedIndex = view.firstIndex - 1;
  if (predicate.index < compactedIndex) return failed('compacted', `raft index ${predicate.index} is compacted at ${compactedIndex}`);
  const term = view.termAt(predicate.index);
  if (term !== predicate.term) {
    return failed('entry_term_mismatch', `entry at index ${predicate.index} has term ${term ?? 0}, request implies term ${predicate.term}`);
  }
  for (const range of predicate.ranges) {
    if (PREDICATE_PROHIBITED_TABLES.has(range.space)) return failed('prohibited_space', `space ${range.space} is prohibited for use in a predicate`);
  }
  for (const { index, op } of view.opsAfter(predicate.index)) {
    if (op === null) continue;
    for (const touched of opTouches(op, (space, tuple) => view.keyOf(space, tuple))) {
      if (predicate.ranges.some((r) => r.space === touched.space && inRange(touched.key, r))) {
        return failed('conflict', `comparison failed for index ${predicate.index} as it conflicts with ${index}`);
      }
    }
  }
  return null;
}

function inRange(key: Key, range: CasRange): boolean {
  return aboveMin(key, range.keyMin) && belowMax(key, range.keyMax);
}

function aboveMin(key: Key, bound: Bound): boolean {
  if (bound.kind === 'unbounded') return true;
  const c = compareKeys(key, bound.key);
  return bound.kind === 'included' ? c >= 0 : c > 0;
}

function belowMax(key: Key, bound: Bound): boolean {
  if (bound.kind === 'unbounded') return true;
  const c = compareKeys(key, bound.key);
  return bound.kind === 'included' ? c <= 0 : c < 0;
}
