/**
 * An ordered map as a B+ tree with linked leaves: O(log n) point operations and cheap ordered
 * range scans in both directions. Used by the simulated disk (byte keys) and by box TREE indexes
 * (tuple keys with a custom comparator).
 *
 * Iterators are not stable under mutation: mutate the tree only after an iteration ends (or
 * re-seek with a new range from the last key seen).
 */

import { assert } from './assert.ts';

export type Comparator<K> = (a: K, b: K) => number;

/** Entries per node; a node splits above it and merges below half of it. */
const NODE_ENTRIES_MAX = 64;
const NODE_ENTRIES_MIN = NODE_ENTRIES_MAX >> 1;

class Leaf<K, V> {
  keys: K[] = [];
  values: V[] = [];
  next: Leaf<K, V> | null = null;
  prev: Leaf<K, V> | null = null;
}

class Inner<K, V> {
  /** keys[i] is the smallest key of children[i + 1]. */
  keys: K[] = [];
  children: Array<Node<K, V>> = [];
}

type Node<K, V> = Leaf<K, V> | Inner<K, V>;

export interface RangeBounds<K> {
  readonly from?: K;
  /** Default true. */
  readonly fromInclusive?: boolean;
  readonly to?: K;
  /** Default false. */
  readonly toInclusive?: boolean;
  readonly reverse?: boolean;
}

/** How a cursor seeks relative to a target: first >=, first >, last <=, last <. */
export type SeekMode = 'ge' | 'gt' | 'le' | 'lt';

/**
 * A position in the tree (a leaf and an index in it). Valid until the tree is mutated; after a
 * mutation, seek again from the last key seen.
 */
export class BTreeCursor<K, V> {
  private leaf: Leaf<K, V> | null;
  private index: number;

  constructor(leaf: Leaf<K, V> | null, index: number) {
    this.leaf = leaf;
    this.index = index;
    this.settle();
  }

  get valid(): boolean {
    return this.leaf !== null;
  }

  get key(): K {
    assert(this.leaf !== null, 'cursor is not on an entry');
    return this.leaf.keys[this.index]!;
  }

  get value(): V {
    assert(this.leaf !== null, 'cursor is not on an entry');
    return this.leaf.values[this.index]!;
  }

  next(): void {
    if (this.leaf === null) return;
    this.index++;
    if (this.index < this.leaf.keys.length) return;
    this.leaf = this.leaf.next;
    this.index = 0;
    this.settleForward();
  }

  prev(): void {
    if (this.leaf === null) return;
    this.index--;
    if (this.index >= 0) return;
    this.leaf = this.leaf.prev;
    this.index = this.leaf === null ? 0 : this.leaf.keys.length - 1;
    this.settleBackward();
  }

  /** Moves off positions past either end of a leaf (seeks land there). */
  private settle(): void {
    if (this.leaf === null) return;
    if (this.index >= this.leaf.keys.length) {
      this.leaf = this.leaf.next;
      this.index = 0;
      this.settleForward();
    } else if (this.index < 0) {
      this.leaf = this.leaf.prev;
      this.index = this.leaf === null ? 0 : this.leaf.keys.length - 1;
      this.settleBackward();
    }
  }

  private settleForward(): void {
    // Only the root leaf can be empty, and it has no neighbours; the loop is bounded by that.
    while (this.leaf !== null && this.leaf.keys.length === 0) this.leaf = this.leaf.next;
  }

  private settleBackward(): void {
    while (this.leaf !== null && this.leaf.keys.length === 0) {
      this.leaf = this.leaf.prev;
      this.index = this.leaf === null ? 0 : this.leaf.keys.length - 1;
    }
  }
}

export class BTreeMap<K, V> {
  private root: Node<K, V> = new Leaf<K, V>();
  private count = 0;
  readonly compare: Comparator<K>;

  constructor(compare: Comparator<K>) {
    this.compare = compare;
  }

  get size(): number {
    return this.count;
  }

  clear(): void {
    this.root = new Leaf<K, V>();
    this.count = 0;
  }

  get(key: K): V | undefined {
    const leaf = this.findLeaf(key);
    const i = this.lowerBound(leaf.keys, key);
    if (i < leaf.keys.length && this.compare(leaf.keys[i]!, key) === 0) return leaf.values[i];
    return undefined;
  }

  /**
   * Point lookup with a comparator against a target of another type (a search key against stored
   * tuples). `cmp(key, target)` < 0 when the stored key sorts before the target.
   */
  getWith<T>(target: T, cmp: (key: K, target: T) => number): V | undefined {
    let node = this.root;
    while (node instanceof Inner) {
      const keys = node.keys;
      let lo = 0;
      let hi = keys.length;
      while (lo < hi) {
        const mid = (lo + hi) >>> 1;
        if (cmp(keys[mid]!, target) <= 0) lo = mid + 1;
        else hi = mid;
      }
      node = node.children[lo]!;
    }
    const keys = node.keys;
    let lo = 0;
    let hi = keys.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      const c = cmp(keys[mid]!, target);
      if (c === 0) return node.values[mid];
      if (c < 0) lo = mid + 1;
      else hi = mid;
    }
    return undefined;
  }

  /** A cursor on the first entry >= / > target, or the last entry <= / < target. */
  seek<T>(target: T, cmp: (key: K, target: T) => number, mode: SeekMode): BTreeCursor<K, V> {
    // 'gt' and 'le' descend past keys equal to the target, 'ge' and 'lt' stop before them.
    const pastEqual = mode === 'gt' || mode === 'le';
    let node = this.root;
    while (node instanceof Inner) {
      node = node.children[this.boundWith(node.keys, target, cmp, pastEqual)]!;
    }
    const i = this.boundWith(node.keys, target, cmp, pastEqual);
    return new BTreeCursor(node, mode === 'ge' || mode === 'gt' ? i : i - 1);
  }

  /** A cursor on the first entry (forward) or the last entry (reverse). */
  edge(reverse: boolean): BTreeCursor<K, V> {
    let node = this.root;
    while (node instanceof Inner) node = node.children[reverse ? node.children.length - 1 : 0]!;
    return new BTreeCursor(node, reverse ? node.keys.length - 1 : 0);
  }

  private boundWith<T>(keys: K[], target: T, cmp: (key: K, target: T) => number, pastEqual: boolean): number {
    let lo = 0;
    let hi = keys.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      const c = cmp(keys[mid]!, target);
      if (c < 0 || (pastEqual && c === 0)) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }

  has(key: K): boolean {
    const leaf = this.findLeaf(key);
    const i = this.lowerBound(leaf.keys, key);
    return i < leaf.keys.length && this.compare(leaf.keys[i]!, key) === 0;
  }

  /** Inserts or replaces; returns the previous value. */
  set(key: K, value: V): V | undefined {
    const path: Array<{ node: Inner<K, V>; index: number }> = [];
    let node = this.root;
    while (node instanceof Inner) {
      const index = this.childIndex(node, key);
      path.push({ node, index });
      node = node.children[index]!;
    }
    const leaf = node;
    const i = this.lowerBound(leaf.keys, key);
    if (i < leaf.keys.length && this.compare(leaf.keys[i]!, key) === 0) {
      const previous = leaf.values[i];
      leaf.values[i] = value;
      return previous;
    }
    leaf.keys.splice(i, 0, key);
    leaf.values.splice(i, 0, value);
    this.count++;
    if (leaf.keys.length > NODE_ENTRIES_MAX) this.splitLeaf(leaf, path);
    return undefined;
  }

  /** Removes the key; returns the removed value. */
  delete(key: K): V | undefined {
    const path: Array<{ node: Inner<K, V>; index: number }> = [];
    let node = this.root;
    while (node instanceof Inner) {
      const index = this.childIndex(node, key);
      path.push({ node, index });
      node = node.children[index]!;
    }
    const leaf = node;
    const i = this.lowerBound(leaf.keys, key);
    if (i >= leaf.keys.length || this.compare(leaf.keys[i]!, key) !== 0) return undefined;
    const removed = leaf.values[i];
    leaf.keys.splice(i, 1);
    leaf.values.splice(i, 1);
    this.count--;
    this.rebalance(leaf, path);
    return removed;
  }

  first(): [K, V] | undefined {
    let node = this.root;
    while (node instanceof Inner) node = node.children[0]!;
    return node.keys.length > 0 ? [node.keys[0]!, node.values[0]!] : undefined;
  }

  last(): [K, V] | undefined {
    let node = this.root;
    while (node instanceof Inner) node = node.children[node.children.length - 1]!;
    const n = node.keys.length;
    return n > 0 ? [node.keys[n - 1]!, node.values[n - 1]!] : undefined;
  }

  *entries(bounds: RangeBounds<K> = {}): IterableIterator<[K, V]> {
    if (bounds.reverse) yield* this.entriesReverse(bounds);
    else yield* this.entriesForward(bounds);
  }

  *keys(bounds: RangeBounds<K> = {}): IterableIterator<K> {
    for (const [k] of this.entries(bounds)) yield k;
  }

  *values(bounds: RangeBounds<K> = {}): IterableIterator<V> {
    for (const [, v] of this.entries(bounds)) yield v;
  }

  [Symbol.iterator](): IterableIterator<[K, V]> {
    return this.entries();
  }

  private *entriesForward(bounds: RangeBounds<K>): IterableIterator<[K, V]> {
    const { from, to } = bounds;
    const fromInclusive = bounds.fromInclusive ?? true;
    const toInclusive = bounds.toInclusive ?? false;
    let leaf: Leaf<K, V> | null;
    let i: number;
    if (from === undefined) {
      let node = this.root;
      while (node instanceof Inner) node = node.children[0]!;
      leaf = node;
      i = 0;
    } else {
      leaf = this.findLeaf(from);
      i = fromInclusive ? this.lowerBound(leaf.keys, from) : this.upperBound(leaf.keys, from);
    }
    while (leaf !== null) {
      for (; i < leaf.keys.length; i++) {
        const key = leaf.keys[i]!;
        if (to !== undefined) {
          const c = this.compare(key, to);
          if (c > 0 || (c === 0 && !toInclusive)) return;
        }
        yield [key, leaf.values[i]!];
      }
      leaf = leaf.next;
      i = 0;
    }
  }

  private *entriesReverse(bounds: RangeBounds<K>): IterableIterator<[K, V]> {
    const { from, to } = bounds;
    const fromInclusive = bounds.fromInclusive ?? true;
    const toInclusive = bounds.toInclusive ?? false;
    let leaf: Leaf<K, V> | null;
    let i: number;
    if (to === undefined) {
      let node = this.root;
      while (node instanceof Inner) node = node.children[node.children.length - 1]!;
      leaf = node;
      i = leaf.keys.length - 1;
    } else {
      leaf = this.findLeaf(to);
      i = (toInclusive ? this.upperBound(leaf.keys, to) : this.lowerBound(leaf.keys, to)) - 1;
    }
    while (leaf !== null) {
      for (; i >= 0; i--) {
        const key = leaf.keys[i]!;
        if (from !== undefined) {
          const c = this.compare(key, from);
          if (c < 0 || (c === 0 && !fromInclusive)) return;
        }
        yield [key, leaf.values[i]!];
      }
      leaf = leaf.prev;
      i = leaf === null ? -1 : leaf.keys.length - 1;
    }
  }

  // -------------------------------------------------------------------------------------------

  private lowerBound(keys: K[], key: K): number {
    let lo = 0;
    let hi = keys.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (this.compare(keys[mid]!, key) < 0) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }

  private upperBound(keys: K[], key: K): number {
    let lo = 0;
    let hi = keys.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (this.compare(keys[mid]!, key) <= 0) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }

  private childIndex(node: Inner<K, V>, key: K): number {
    return this.upperBound(node.keys, key);
  }

  /**
   * The leaf where `key` is or would be. For range starts this may be one leaf left of the first
   * entry >= key (when key is beyond that leaf's last entry); iteration follows `next` anyway.
   */
  private findLeaf(key: K): Leaf<K, V> {
    let node = this.root;
    while (node instanceof Inner) node = node.children[this.childIndex(node, key)]!;
    return node;
  }

  private splitLeaf(leaf: Leaf<K, V>, path: Array<{ node: Inner<K, V>; index: number }>): void {
    const right = new Leaf<K, V>();
    const half = leaf.keys.length >> 1;
    right.keys = leaf.keys.splice(half);
    right.values = leaf.values.splice(half);
    right.next = leaf.next;
    if (right.next !== null) right.next.prev = right;
    right.prev = leaf;
    leaf.next = right;
    this.insertIntoParent(leaf, right.keys[0]!, right, path);
  }

  private insertIntoParent(
    left: Node<K, V>,
    separator: K,
    right: Node<K, V>,
    path: Array<{ node: Inner<K, V>; index: number }>,
  ): void {
    const parentEntry = path.pop();
    if (parentEntry === undefined) {
      const root = new Inner<K, V>();
      root.keys = [separator];
      root.children = [left, right];
      this.root = root;
      return;
    }
    const { node: parent, index } = parentEntry;
    assert(parent.children[index] === left, 'b-tree path out of sync');
    parent.keys.splice(index, 0, separator);
    parent.children.splice(index + 1, 0, right);
    if (parent.children.length <= NODE_ENTRIES_MAX) return;
    const sibling = new Inner<K, V>();
    const half = parent.children.length >> 1;
    const up = parent.keys[half - 1]!;
    sibling.keys = parent.keys.splice(half);
    parent.keys.pop(); // `up` moves to the grandparent
    sibling.children = parent.children.splice(half);
    assert(parent.keys.length === parent.children.length - 1, 'inner node key count');
    assert(sibling.keys.length === sibling.children.length - 1, 'inner sibling key count');
    this.insertIntoParent(parent, up, sibling, path);
  }

  private entriesOf(node: Node<K, V>): number {
    return node instanceof Leaf ? node.keys.length : node.children.length;
  }

  /** Restores the minimum fill after a delete by borrowing from or merging with a sibling. */
  private rebalance(node: Node<K, V>, path: Array<{ node: Inner<K, V>; index: number }>): void {
    for (;;) {
      const parentEntry = path.pop();
      if (parentEntry === undefined) {
        // The root may be underfull; an inner root with one child collapses.
        if (node instanceof Inner && node.children.length === 1) this.root = node.children[0]!;
        return;
      }
      if (this.entriesOf(node) >= NODE_ENTRIES_MIN) return;
      const { node: parent, index } = parentEntry;
      const leftIndex = index > 0 ? index - 1 : index;
      const left = parent.children[leftIndex]!;
      const right = parent.children[leftIndex + 1];
      if (right === undefined) return; // only child: nothing to balance with (root handles it)
      if (this.entriesOf(left) + this.entriesOf(right) <= NODE_ENTRIES_MAX) {
        this.merge(parent, leftIndex);
        node = parent;
        continue;
      }
      this.borrow(parent, leftIndex);
      return;
    }
  }

  private merge(parent: Inner<K, V>, leftIndex: number): void {
    const left = parent.children[leftIndex]!;
    const right = parent.children[leftIndex + 1]!;
    const separator = parent.keys[leftIndex]!;
    if (left instanceof Leaf && right instanceof Leaf) {
      left.keys.push(...right.keys);
      left.values.push(...right.values);
      left.next = right.next;
      if (right.next !== null) right.next.prev = left;
    } else if (left instanceof Inner && right instanceof Inner) {
      left.keys.push(separator, ...right.keys);
      left.children.push(...right.children);
    } else {
      assert(false, 'b-tree siblings of different kinds');
    }
    parent.keys.splice(leftIndex, 1);
    parent.children.splice(leftIndex + 1, 1);
  }

  private borrow(parent: Inner<K, V>, leftIndex: number): void {
    const left = parent.children[leftIndex]!;
    const right = parent.children[leftIndex + 1]!;
    const moveRight = this.entriesOf(left) > this.entriesOf(right);
    if (left instanceof Leaf && right instanceof Leaf) {
      if (moveRight) {
        right.keys.unshift(left.keys.pop()!);
        right.values.unshift(left.values.pop()!);
      } else {
        left.keys.push(right.keys.shift()!);
        left.values.push(right.values.shift()!);
      }
      parent.keys[leftIndex] = right.keys[0]!;
      return;
    }
    assert(left instanceof Inner && right instanceof Inner, 'b-tree siblings of different kinds');
    if (moveRight) {
      right.keys.unshift(parent.keys[leftIndex]!);
      right.children.unshift(left.children.pop()!);
      parent.keys[leftIndex] = left.keys.pop()!;
    } else {
      left.keys.push(parent.keys[leftIndex]!);
      left.children.push(right.children.shift()!);
      parent.keys[leftIndex] = right.keys.shift()!;
    }
  }

  /** Checks every structural invariant; for tests. */
  checkInvariants(): void {
    let counted = 0;
    const walk = (node: Node<K, V>, low: K | undefined, high: K | undefined, depth: number): number => {
      const keys = node.keys;
      for (let i = 1; i < keys.length; i++) assert(this.compare(keys[i - 1]!, keys[i]!) < 0, 'keys out of order');
      if (keys.length > 0) {
        if (low !== undefined) assert(this.compare(keys[0]!, low) >= 0, 'key below separator');
        if (high !== undefined) assert(this.compare(keys[keys.length - 1]!, high) < 0, 'key above separator');
      }
      if (node instanceof Leaf) {
        counted += keys.length;
        return depth;
      }
      assert(node.children.length === keys.length + 1, 'inner fan-out');
      let leafDepth = -1;
      for (let i = 0; i < node.children.length; i++) {
        const d = walk(node.children[i]!, i === 0 ? low : keys[i - 1], i < keys.length ? keys[i] : high, depth + 1);
        assert(leafDepth === -1 || leafDepth === d, 'unbalanced tree');
        leafDepth = d;
      }
      return leafDepth;
    };
    walk(this.root, undefined, undefined, 0);
    assert(counted === this.count, `size ${this.count} but ${counted} entries`);
  }
}
