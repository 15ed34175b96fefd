/**
 * memtx TREE index: tuples in a B+ tree ordered by the index's key parts. Secondary indexes that
 * may hold equal keys (non-unique, or unique with nullable parts, whose nils never collide) are
 * ordered by the key extended with the primary key, so every entry is distinct.
 */

import { assert } from '../lib/assert.ts';
import { HintedBTreeSet } from '../lib/btree.ts';
import type { EngineIndex, TupleVisitor } from './engine-index.ts';
import type { IteratorType } from './iterator.ts';
import { type KeyDef } from './key-def.ts';
import type { IndexDef } from './space-def.ts';
import {
  compileKeyComparator,
  compileKeyHint,
  compileTupleComparator,
  compileTupleHint,
  hintIsExact,
  type KeyComparator,
  type KeyHint,
  type TupleComparator,
  type TupleHint,
} from './tuple-compare.ts';
import type { Key, Tuple } from './tuple.ts';

export class TreeIndex implements EngineIndex {
  readonly def: IndexDef;
  private readonly tree: HintedBTreeSet<Tuple>;
  /** The order the tree keeps (the index's parts, extended with the primary key if needed). */
  private readonly orderCompare: TupleComparator;
  private readonly tupleHint: TupleHint;
  private readonly keyCompare: KeyComparator;
  private readonly keyHint: KeyHint;
  /** Compares two tuples on the index's own parts (not the extended order). */
  private readonly partsCompare: TupleComparator;

  /** `orderDef` is the key the tree orders by (extended with the primary key when needed). */
  constructor(def: IndexDef, orderDef: KeyDef) {
    assert(orderDef.parts[0]!.fieldNo === def.keyDef.parts[0]!.fieldNo, 'the order starts with the index parts');
    this.def = def;
    this.orderCompare = compileTupleComparator(orderDef);
    this.tupleHint = compileTupleHint(orderDef);
    this.tree = new HintedBTreeSet<Tuple>(this.orderCompare, this.tupleHint, hintIsExact(orderDef));
    this.keyCompare = compileKeyComparator(def.keyDef);
    this.keyHint = compileKeyHint(def.keyDef);
    this.partsCompare = compileTupleComparator(def.keyDef);
  }

  size(): number {
    return this.tree.size;
  }

  get(key: Key): Tuple | undefined {
    return this.tree.find(key, this.keyHint(key), this.keyCompare);
  }

  findByTuple(tuple: Tuple): Tuple | undefined {
    assert(this.def.unique, 'findByTuple on a non-unique index');
    // The tree may order by an extended key (nullable unique parts): search by the parts alone.
    return this.tree.find(tuple, this.tupleHint(tuple), this.partsCompare);
  }

  insert(tuple: Tuple): void {
    const added = this.tree.add(tuple);
    if (!added) assert(false, `index ${this.def.name}: insert over an existing entry`);
  }

  remove(tuple: Tuple): void {
    const removed = this.tree.delete(tuple);
    if (removed === undefined) assert(false, `index ${this.def.name}: remove of a missing entry`);
  }

  replace(old: Tuple, next: Tuple): void {
    // Same place in the order (always so in the primary key): swapped in place, no re-balancing.
    this.tree.replace(old, next);
  }

  clear(): void {
    this.tree.clear();
  }

  iterate(type: IteratorType, key: Key, visit: TupleVisitor): void {
    const cmp = this.keyCompare;
    if (key.length === 0) return this.iterateAll(type, visit);
    const hint = this.keyHint(key);
    switch (type) {
      case 'EQ':
        for (const c = this.tree.seek(key, hint, cmp, 'ge'); c.valid && cmp(c.item, key) === 0; c.next()) {
          if (!visit(c.item)) return;
        }
        return;
      case 'REQ':
        for (const c = this.tree.seek(key, hint, cmp, 'le'); c.valid && cmp(c.item, key) === 0; c.prev()) {
          if (!visit(c.item)) return;
        }
        return;
      case 'ALL':
      case 'GE':
      case 'GT':
        for (const c = this.tree.seek(key, hint, cmp, type === 'GT' ? 'gt' : 'ge'); c.valid; c.next()) {
          if (!visit(c.item)) return;
        }
        return;
      case 'LE':
      case 'LT':
        for (const c = this.tree.seek(key, hint, cmp, type === 'LT' ? 'lt' : 'le'); c.valid; c.prev()) {
          if (!visit(c.item)) return;
        }
        return;
    }
  }

  private iterateAll(type: IteratorType, visit: TupleVisitor): void {
    const reverse = type === 'REQ' || type === 'LT' || type === 'LE';
    const c = this.tree.edge(reverse);
    if (reverse) {
      for (; c.valid; c.prev()) if (!visit(c.item)) return;
    } else {
      for (; c.valid; c.next()) if (!visit(c.item)) return;
    }
  }
}
