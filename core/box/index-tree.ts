/**
 * memtx TREE index: tuples in a B+ tree ordered by the index's key parts. Secondary indexes that
 * may hold equal keys (non-unique, or unique with nullable parts, whose nils never collide) are
 * ordered by the key extended with the primary key, so every entry is distinct.
 */

import { assert } from '../lib/assert.ts';
import { BTreeMap } from '../lib/btree.ts';
import type { EngineIndex, TupleVisitor } from './engine-index.ts';
import type { IteratorType } from './iterator.ts';
import { type KeyDef } from './key-def.ts';
import type { IndexDef } from './space-def.ts';
import { compileKeyComparator, compileTupleComparator, type KeyComparator } from './tuple-compare.ts';
import type { Key, Tuple } from './tuple.ts';

export class TreeIndex implements EngineIndex {
  readonly def: IndexDef;
  private readonly tree: BTreeMap<Tuple, Tuple>;
  private readonly keyCompare: KeyComparator;
  /** Compares two tuples on the index's own parts (not the extended order). */
  private readonly partsCompare: (a: Tuple, b: Tuple) => number;

  /** `orderDef` is the key the tree orders by (extended with the primary key when needed). */
  constructor(def: IndexDef, orderDef: KeyDef) {
    this.def = def;
    this.tree = new BTreeMap<Tuple, Tuple>(compileTupleComparator(orderDef));
    this.keyCompare = compileKeyComparator(def.keyDef);
    this.partsCompare = compileTupleComparator(def.keyDef);
  }

  size(): number {
    return this.tree.size;
  }

  get(key: Key): Tuple | undefined {
    return this.tree.getWith(key, this.keyCompare);
  }

  findByTuple(tuple: Tuple): Tuple | undefined {
    assert(this.def.unique, 'findByTuple on a non-unique index');
    // The tree may order by an extended key (nullable unique parts): search by the parts alone.
    return this.tree.getWith(tuple, this.partsCompare);
  }

  insert(tuple: Tuple): void {
    const previous = this.tree.set(tuple, tuple);
    assert(previous === undefined, () => `index ${this.def.name}: insert over an existing entry`);
  }

  remove(tuple: Tuple): void {
    const removed = this.tree.delete(tuple);
    assert(removed !== undefined, () => `index ${this.def.name}: remove of a missing entry`);
  }

  clear(): void {
    this.tree.clear();
  }

  iterate(type: IteratorType, key: Key, visit: TupleVisitor): void {
    const cmp = this.keyCompare;
    if (key.length === 0) return this.iterateAll(type, visit);
    switch (type) {
      case 'EQ':
        for (const c = this.tree.seek(key, cmp, 'ge'); c.valid && cmp(c.key, key) === 0; c.next()) {
          if (!visit(c.value)) return;
        }
        return;
      case 'REQ':
        for (const c = this.tree.seek(key, cmp, 'le'); c.valid && cmp(c.key, key) === 0; c.prev()) {
          if (!visit(c.value)) return;
        }
        return;
      case 'ALL':
      case 'GE':
      case 'GT':
        for (const c = this.tree.seek(key, cmp, type === 'GT' ? 'gt' : 'ge'); c.valid; c.next()) {
          if (!visit(c.value)) return;
        }
        return;
      case 'LE':
      case 'LT':
        for (const c = this.tree.seek(key, cmp, type === 'LT' ? 'lt' : 'le'); c.valid; c.prev()) {
          if (!visit(c.value)) return;
        }
        return;
    }
  }

  private iterateAll(type: IteratorType, visit: TupleVisitor): void {
    const reverse = type === 'REQ' || type === 'LT' || type === 'LE';
    const c = this.tree.edge(reverse);
    if (reverse) {
      for (; c.valid; c.prev()) if (!visit(c.value)) return;
    } else {
      for (; c.valid; c.next()) if (!visit(c.value)) return;
    }
  }
}
