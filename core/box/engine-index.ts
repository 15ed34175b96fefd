/**
 * What a space needs from an index, whatever the engine. Uniqueness checks and the order of
 * changes across indexes are the space's job; an index only stores, finds and walks tuples.
 */

import type { IteratorType } from './iterator.ts';
import type { IndexDef } from './space-def.ts';
import type { Key, Tuple } from './tuple.ts';

/** Returns false to stop the walk. */
export type TupleVisitor = (tuple: Tuple) => boolean;

export interface EngineIndex {
  readonly def: IndexDef;
  /** Tuples in the index. */
  size(): number;
  /** The tuple with exactly this full key (unique indexes). */
  get(key: Key): Tuple | undefined;
  /** The stored tuple whose key under this index equals `tuple`'s (unique indexes). */
  findByTuple(tuple: Tuple): Tuple | undefined;
  /** Walks tuples matching `type`/`key` in the iterator's order. `key` was validated. */
  iterate(type: IteratorType, key: Key, visit: TupleVisitor): void;
  /** Adds a tuple known to be absent. */
  insert(tuple: Tuple): void;
  /** Removes a tuple known to be present. */
  remove(tuple: Tuple): void;
  /** Swaps a present tuple for one known to fit (remove + insert, in place when the key is equal). */
  replace(old: Tuple, next: Tuple): void;
  /** Drops every tuple. */
  clear(): void;
}
