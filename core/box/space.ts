/**
 * A space: its definition, its indexes (engine-provided) and the statements that change it.
 * Every statement checks everything first (types, uniqueness, triggers) and only then touches
 * the indexes, so a failing statement changes nothing; the change it records undoes it exactly.
 */

import { assert } from '../lib/assert.ts';
import type { MpValue } from '../codec/msgpack.ts';
import { BoxError, boxErrors } from './errors.ts';
import type { EngineIndex } from './engine-index.ts';
import { isForeignIterator, parseIterator, type AnyIteratorType, type IteratorType } from './iterator.ts';
import { extractKey, validateExactKey, validateKey, keyHasNull } from './key-def.ts';
import type { IndexDef, SpaceDef } from './space-def.ts';
import { compileTupleComparator, type TupleComparator } from './tuple-compare.ts';
import { TupleFormat } from './tuple-format.ts';
import { copyFields, freezeFresh, freezeTuple, type Key, type Tuple } from './tuple.ts';
import type { Change, RowOp, Txn } from './txn.ts';
import { applyUpdate, applyUpsert, parseUpdateOps, type IndexBase, type UpdateOps } from './update-ops.ts';

/**
 * Runs for every change of a system space before the indexes change (DDL: `_space`, `_index`,
 * ...); throws to refuse the change, returns how to undo what it did.
 */
export type SpaceTrigger = (old: Tuple | null, next: Tuple | null) => (() => void) | null;

export interface SelectOptions {
  readonly index?: number | string;
  readonly iterator?: IteratorType | number | string;
  readonly limit?: number;
  readonly offset?: number;
}

/** What a space needs from its box: sequence values and logging of skipped upsert ops. */
export interface SpaceHost {
  /** Next value of the sequence bound to the space, recorded in `txn`. */
  sequenceNext(txn: Txn, sequenceId: number): number | bigint;
  /** Moves the bound sequence forward past an explicit value, recorded in `txn`. */
  sequenceObserve(txn: Txn, sequenceId: number, value: MpValue): void;
  upsertSkipped(space: string, error: BoxError): void;
}

export const SELECT_LIMIT_MAX = 0xffffffff;

export class Space {
  def: SpaceDef;
  private readonly host: SpaceHost;
  private indexById: Array<EngineIndex | undefined> = [];
  /** Indexes in id order; [0] is the primary when present. */
  indexes: EngineIndex[] = [];
  format: TupleFormat;
  private primaryCompare: TupleComparator | null = null;
  sequenceId: number | null = null;
  trigger: SpaceTrigger | null = null;
  /** Views (`_vspace`, ...) read through another space and refuse writes. */
  readonly isView: boolean;

  constructor(def: SpaceDef, host: SpaceHost, isView = false) {
    this.def = def;
    this.host = host;
    this.isView = isView;
    this.format = new TupleFormat(def, []);
  }

  get id(): number {
    return this.def.id;
  }

  get name(): string {
    return this.def.name;
  }

  get engine(): string {
    return this.def.engine;
  }

  // --- schema --------------------------------------------------------------------------------

  setDef(def: SpaceDef): void {
    assert(def.id === this.def.id, 'space id cannot change');
    this.def = def;
    this.rebuildFormat();
  }

  addIndex(index: EngineIndex): void {
    assert(this.indexById[index.def.id] === undefined, 'index id taken');
    this.indexById[index.def.id] = index;
    this.reindex();
  }

  removeIndex(indexId: number): EngineIndex {
    const index = this.indexById[indexId];
    assert(index !== undefined, 'removing a missing index');
    this.indexById[indexId] = undefined;
    this.reindex();
    return index;
  }

  /** Swaps in a rebuilt index (alter) and returns the old one. */
  replaceIndex(index: EngineIndex): EngineIndex {
    const old = this.indexById[index.def.id];
    assert(old !== undefined, 'replacing a missing index');
    this.indexById[index.def.id] = index;
    this.reindex();
    return old;
  }

  /** Shares another space's indexes (views). */
  shareIndexesOf(source: Space): void {
    this.indexById = source.indexById;
    this.indexes = source.indexes;
    this.primaryCompare = source.primaryCompare;
  }

  private reindex(): void {
    this.indexes = this.indexById.filter((i): i is EngineIndex => i !== undefined);
    const primary = this.indexById[0];
    this.primaryCompare = primary === undefined ? null : compileTupleComparator(primary.def.keyDef);
    this.rebuildFormat();
  }

  private rebuildFormat(): void {
    this.format = new TupleFormat(this.def, this.indexes.map((i) => i.def));
  }

  indexDefs(): IndexDef[] {
    return this.indexes.map((i) => i.def);
  }

  findIndex(ref: number | string | undefined): EngineIndex | undefined {
    if (ref === undefined) return this.indexById[0];
    if (typeof ref === 'number') return this.indexById[ref];
    return this.indexes.find((i) => i.def.name === ref);
  }

  index(ref: number | string | undefined): EngineIndex {
    const index = this.findIndex(ref);
    if (index !== undefined) return index;
    if (typeof ref === 'string') throw boxErrors.noSuchIndexName(ref, this.def.name);
    throw boxErrors.noSuchIndexId(ref ?? 0, this.def.name);
  }

  primary(): EngineIndex {
    const index = this.indexById[0];
    if (index === undefined) throw boxErrors.noSuchIndexId(0, this.def.name);
    return index;
  }

  // --- reads ---------------------------------------------------------------------------------

  get(key: Key, indexRef?: number | string): Tuple | null {
    const index = this.index(indexRef);
    if (!index.def.unique) throw boxErrors.moreThanOneTuple();
    validateExactKey(index.def.keyDef, key);
    return index.get(key) ?? null;
  }

  select(key: Key = [], options: SelectOptions = {}): Tuple[] {
    const limit = options.limit ?? SELECT_LIMIT_MAX;
    const index = this.index(options.index);
    // Checked even when nothing is to be read: Tarantool refuses a bad key with limit 0 too.
    const type = this.checkIterator(index, parseIterator(options.iterator), key);
    if (limit <= 0) return [];
    let offset = options.offset ?? 0;
    if (type === 'EQ' && this.isPointLookup(index, key)) {
      // At most one tuple matches: a lookup, without a cursor, a visitor or a growing array.
      const tuple = index.get(key);
      return tuple === undefined || offset > 0 ? [] : [tuple];
    }
    const out: Tuple[] = [];
    index.iterate(type, key, (t) => {
      if (offset > 0) {
        offset--;
        return true;
      }
      out.push(t);
      return out.length < limit;
    });
    return out;
  }

  /**
   * `select(key, { index, iterator: 'EQ' })` (limit 1 or more, no offset) when that is a point
   * lookup: the matching tuple or null, with the same errors; undefined when it is not one, for
   * the caller to select.
   */
  selectPoint(key: Key, indexId: number): Tuple | null | undefined {
    const index = this.index(indexId);
    // Before the key checks: a caller that gets undefined selects, and select checks the key.
    if (!this.isPointLookup(index, key)) return undefined;
    // checkIterator for a full key and EQ comes down to this: no partial key, a walkable iterator.
    validateKey(index.def.keyDef, key);
    return index.get(key) ?? null;
  }

  /**
   * Whether an EQ on `index` with `key` matches at most one tuple, the one `index.get` finds:
   * a memtx unique index and a full key without nil (a nullable unique part may hold many nils).
   */
  private isPointLookup(index: EngineIndex, key: Key): boolean {
    if (!index.def.unique || key.length !== index.def.parts.length || this.def.engine !== 'memtx') return false;
    for (let i = 0; i < key.length; i++) {
      if (key[i] === null || key[i] === undefined) return false;
    }
    return true;
  }

  count(key: Key = [], options: SelectOptions = {}): number {
    let n = 0;
    this.walk(key, options, () => {
      n++;
      return true;
    });
    return n;
  }

  len(): number {
    return this.indexById[0]?.size() ?? 0;
  }

  /** Walks matching tuples; the visitor returns false to stop. */
  walk(key: Key, options: SelectOptions, visit: (t: Tuple) => boolean): void {
    const index = this.index(options.index);
    const type = this.checkIterator(index, parseIterator(options.iterator), key);
    index.iterate(type, key, visit);
  }

  /**
   * Tarantool's checks of a read, in its order: too many key parts, a partial key on HASH (which
   * takes an empty key only with ALL and GT), the key's types, then the iterator, which this
   * index must be able to walk.
   */
  private checkIterator(index: EngineIndex, type: AnyIteratorType, key: Key): IteratorType {
    const def = index.def;
    if (def.type === 'HASH') {
      const parts = def.parts.length;
      if (Array.isArray(key) && key.length < parts && (key.length > 0 || (type !== 'ALL' && type !== 'GT'))) {
        throw boxErrors.partialKey('HASH', parts, key.length);
      }
    }
    validateKey(def.keyDef, key);
    if (isForeignIterator(type) || (def.type === 'HASH' && type !== 'ALL' && type !== 'EQ' && type !== 'GT')) {
      throw boxErrors.unsupportedIndexFeature(def.name, def.type, this.def.name, this.def.engine, 'requested iterator type');
    }
    return type;
  }

  // --- statements ----------------------------------------------------------------------------

  private checkWritable(): void {
    if (this.isView) throw boxErrors.viewIsRo(this.def.name);
    this.primary();
  }

  insert(txn: Txn, tuple: readonly MpValue[]): Tuple {
    return this.put(txn, tuple, 'insert');
  }

  replace(txn: Txn, tuple: readonly MpValue[]): Tuple {
    return this.put(txn, tuple, 'replace');
  }

  private put(txn: Txn, input: readonly MpValue[], op: 'insert' | 'replace'): Tuple {
    this.checkWritable();
    if (!Array.isArray(input)) throw boxErrors.tupleNotArray();
    const tuple = freezeFresh(this.applySequence(txn, copyFields(input)));
    this.format.validate(tuple);
    const primary = this.indexById[0]!;
    const old = primary.findByTuple(tuple) ?? null;
    if (old !== null && op === 'insert') throw boxErrors.tupleFound(primary.def.name, this.def.name);
    this.change(txn, old, tuple, op);
    return tuple;
  }

  delete(txn: Txn, key: Key, indexRef?: number | string): Tuple | null {
    this.checkWritable();
    const old = this.lookupUnique(key, indexRef);
    if (old === null) return null;
    this.change(txn, old, null, 'delete');
    // Vinyl deletes blindly in Tarantool (a deletion marker, no read): it returns no tuple.
    return this.def.engine === 'vinyl' ? null : old;
  }

  update(txn: Txn, key: Key, ops: unknown, indexRef?: number | string, base: IndexBase = 0): Tuple | null {
    this.checkWritable();
    const old = this.lookupUnique(key, indexRef);
    // Tarantool reads the operations only once it has a tuple: none, and any list will do.
    if (old === null) return null;
    const next = freezeTuple(applyUpdate(old, parseUpdateOps(ops, base, this.def.format)));
    this.format.validate(next);
    if (this.primaryCompare!(old, next) !== 0) throw this.primaryKeyChange(next);
    this.change(txn, old, next, 'replace');
    return next;
  }

  /**
   * Tarantool's error for an update that moves a tuple's primary key: memtx finds a duplicate
   * first if the new key is taken; vinyl checks the key before anything else.
   */
  private primaryKeyChange(next: Tuple): BoxError {
    const primary = this.primary();
    const taken = this.def.engine === 'memtx' && primary.findByTuple(next) !== undefined;
    return taken ? boxErrors.tupleFound(primary.def.name, this.def.name) : boxErrors.cantUpdatePrimaryKey(primary.def.name, this.def.name);
  }

  /** Inserts `tuple`, or applies `ops` to the tuple with its primary key. Returns nothing, as Tarantool. */
  upsert(txn: Txn, input: readonly MpValue[], ops: unknown, base: IndexBase = 0): void {
    this.checkWritable();
    if (!Array.isArray(input)) throw boxErrors.tupleNotArray();
    const tuple = freezeFresh(copyFields(input));
    // Memtx checks the tuple, then the operations; vinyl the other way round.
    let parsed: UpdateOps | undefined = this.def.engine === 'vinyl' ? parseUpdateOps(ops, base, this.def.format) : undefined;
    this.format.validate(tuple);
    parsed ??= parseUpdateOps(ops, base, this.def.format);
    const old = this.indexById[0]!.findByTuple(tuple) ?? null;
    if (old === null) {
      this.change(txn, null, tuple, 'insert');
      return;
    }
    const next = freezeTuple(applyUpsert(old, parsed, (e) => this.host.upsertSkipped(this.def.name, e)));
    // Tarantool skips operations that fail and a changed primary key. A result that breaks the
    // format fails the request, except on a vinyl space with a primary key only: there the
    // upsert is written without reading the old tuple, and it is skipped when it is applied.
    try {
      this.format.validate(next);
    } catch (error) {
      if (!(error instanceof BoxError) || !this.isBlindUpsert()) throw error;
      this.host.upsertSkipped(this.def.name, error);
      return;
    }
    if (this.primaryCompare!(old, next) !== 0) {
      this.host.upsertSkipped(this.def.name, boxErrors.cantUpdatePrimaryKey(this.primary().def.name, this.def.name));
      return;
    }
    this.change(txn, old, next, 'replace');
  }

  /** Whether Tarantool writes an upsert here without reading (vinyl, no secondary index). */
  private isBlindUpsert(): boolean {
    return this.def.engine === 'vinyl' && this.indexes.length === 1;
  }

  /** Drops every tuple; recorded as one `truncate` row. */
  truncate(txn: Txn): void {
    this.checkWritable();
    const saved = this.indexes.map((index) => ({ index, tuples: this.snapshotOf(index) }));
    for (const index of this.indexes) index.clear();
    txn.push({
      spaceId: this.def.id,
      op: 'truncate',
      old: null,
      new: null,
      key: null,
      undo(): void {
        for (const { index, tuples } of saved) {
          index.clear();
          for (const t of tuples) index.insert(t);
        }
      },
    });
  }

  private snapshotOf(index: EngineIndex): Tuple[] {
    const out: Tuple[] = [];
    index.iterate('ALL', [], (t) => {
      out.push(t);
      return true;
    });
    return out;
  }

  private lookupUnique(key: Key, indexRef: number | string | undefined): Tuple | null {
    const index = this.index(indexRef);
    if (!index.def.unique) throw boxErrors.moreThanOneTuple();
    validateExactKey(index.def.keyDef, key);
    return index.get(key) ?? null;
  }

  private applySequence(txn: Txn, tuple: MpValue[]): MpValue[] {
    if (this.sequenceId === null) return tuple;
    const fieldNo = this.indexById[0]!.def.parts[0]!.fieldNo;
    // Only an explicit nil takes the next value: a missing field stays missing for the format
    // check to report, as in Tarantool.
    if (fieldNo >= tuple.length) return tuple;
    const value = tuple[fieldNo];
    if (value === null || value === undefined) tuple[fieldNo] = this.host.sequenceNext(txn, this.sequenceId);
    else this.host.sequenceObserve(txn, this.sequenceId, value);
    return tuple;
  }

  /** Checks unique secondary indexes, runs the trigger, then changes every index. */
  private change(txn: Txn, old: Tuple | null, next: Tuple | null, op: RowOp): void {
    if (next !== null) this.checkUnique(old, next);
    const undoTrigger = this.trigger === null ? null : this.trigger(old, next);
    this.applyToIndexes(old, next);
    const key = op === 'delete' ? extractKey(this.indexById[0]!.def.keyDef, old!) : null;
    txn.push(new RowChange(this, op, old, next, key, undoTrigger));
  }

  private checkUnique(old: Tuple | null, next: Tuple): void {
    const indexes = this.indexes;
    for (let i = 1; i < indexes.length; i++) {
      const index = indexes[i]!;
      if (!index.def.unique || keyHasNull(index.def.keyDef, next)) continue;
      const dup = index.findByTuple(next);
      if (dup === undefined) continue;
      if (old !== null && this.primaryCompare!(dup, old) === 0) continue;
      throw boxErrors.tupleFound(index.def.name, this.def.name);
    }
  }

  /** Moves every index from `from` to `to` (either may be null). Never throws. */
  applyToIndexes(from: Tuple | null, to: Tuple | null): void {
    const indexes = this.indexes;
    for (let i = 0; i < indexes.length; i++) {
      const index = indexes[i]!;
      if (from === null) {
        if (to !== null) index.insert(to);
      } else if (to === null) index.remove(from);
      else index.replace(from, to);
    }
  }

  /** Recovery and replicas: puts a tuple as it was logged, checks included. */
  replayReplace(txn: Txn, tuple: Tuple): void {
    this.checkWritable();
    const old = this.indexById[0]!.findByTuple(tuple) ?? null;
    this.change(txn, old, tuple, 'replace');
  }
}

/**
 * The change record of one row statement. A class rather than an object with an undo closure:
 * statements are the hot path, and a closure per statement costs an allocation (plus a
 * `name` definition under tsx's keepNames).
 */
class RowChange implements Change {
  readonly spaceId: number;
  readonly op: RowOp;
  readonly old: Tuple | null;
  readonly new: Tuple | null;
  readonly key: Key | null;
  private readonly space: Space;
  private readonly undoTrigger: (() => void) | null;

  constructor(
    space: Space,
    op: RowOp,
    old: Tuple | null,
    next: Tuple | null,
    key: Key | null,
    undoTrigger: (() => void) | null,
  ) {
    this.spaceId = space.def.id;
    this.op = op;
    this.old = old;
    this.new = next;
    this.key = key;
    this.space = space;
    this.undoTrigger = undoTrigger;
  }

  undo(): void {
    this.space.applyToIndexes(this.new, this.old);
    if (this.undoTrigger !== null) this.undoTrigger();
  }
}
