/**
 * Handles on spaces and indexes for callers (iproto, Lua-like API, tests). A handle holds ids
 * and resolves the live space on every call, so it stays valid across DDL. Reads are
 * synchronous; writes apply at once and return a promise that settles at WAL durability.
 * Field numbers in update/upsert ops are 0-based unless `indexBase: 1` is given.
 */

import type { MpValue } from '../codec/msgpack.ts';
import type { Box, CreateIndexOptions } from './box.ts';
import type { EngineIndex } from './engine-index.ts';
import type { IndexDef } from './space-def.ts';
import type { SelectOptions, Space } from './space.ts';
import type { Key, Tuple } from './tuple.ts';
import type { Txn } from './txn.ts';
import type { IndexBase } from './update-ops.ts';

export interface WriteOptions {
  readonly index?: number | string;
  readonly indexBase?: IndexBase;
}

function asKey(key: Key | MpValue): Key {
  if (key === undefined || key === null) return [];
  return Array.isArray(key) ? (key as Key) : [key];
}

// Statements as module-level functions: the hot write paths allocate no closure per call. The
// space is resolved inside the statement, so a missing space rejects the promise, not throws.
function insertStatement(txn: Txn, handle: BoxSpace, tuple: readonly MpValue[]): Tuple {
  return handle.space.insert(txn, tuple);
}

function replaceStatement(txn: Txn, handle: BoxSpace, tuple: readonly MpValue[]): Tuple {
  return handle.space.replace(txn, tuple);
}

export class BoxSpace {
  private readonly box: Box;
  readonly id: number;
  /** The space as of schema version `resolvedVersion` (every DDL and its undo bump it). */
  private resolved: Space | null = null;
  private resolvedVersion = -1;

  constructor(box: Box, id: number) {
    this.box = box;
    this.id = id;
  }

  /** @internal The live space (resolved again after any DDL, so the handle survives it). */
  get space(): Space {
    const version = this.box.schemaVersion;
    if (version === this.resolvedVersion) return this.resolved!;
    const space = this.box.spaceObject(this.id);
    this.resolved = space;
    this.resolvedVersion = version;
    return space;
  }

  get name(): string {
    return this.space.name;
  }

  get engine(): string {
    return this.space.engine;
  }

  // --- reads ---

  get(key: Key | MpValue, index?: number | string): Tuple | null {
    return this.space.get(asKey(key), index);
  }

  select(key: Key | MpValue = [], options: SelectOptions = {}): Tuple[] {
    return this.space.select(asKey(key), options);
  }

  *pairs(key: Key | MpValue = [], options: SelectOptions = {}): IterableIterator<Tuple> {
    // Collected first: a generator suspended across writes must not walk a changing tree.
    yield* this.space.select(asKey(key), options);
  }

  count(key: Key | MpValue = [], options: SelectOptions = {}): number {
    return this.space.count(asKey(key), options);
  }

  len(): number {
    return this.space.len();
  }

  min(key: Key | MpValue = [], index?: number | string): Tuple | null {
    return this.space.select(asKey(key), { ...(index !== undefined ? { index } : {}), iterator: 'GE', limit: 1 })[0] ?? null;
  }

  max(key: Key | MpValue = [], index?: number | string): Tuple | null {
    return this.space.select(asKey(key), { ...(index !== undefined ? { index } : {}), iterator: 'LE', limit: 1 })[0] ?? null;
  }

  // --- writes ---

  insert(tuple: readonly MpValue[]): Promise<Tuple> {
    return this.box.writeWith(insertStatement, this, tuple);
  }

  replace(tuple: readonly MpValue[]): Promise<Tuple> {
    return this.box.writeWith(replaceStatement, this, tuple);
  }

  update(key: Key | MpValue, ops: unknown, options: WriteOptions = {}): Promise<Tuple | null> {
    return this.box.write((txn) => this.space.update(txn, asKey(key), ops, options.index, options.indexBase ?? 0));
  }

  upsert(tuple: readonly MpValue[], ops: unknown, options: WriteOptions = {}): Promise<void> {
    return this.box.write((txn) => this.space.upsert(txn, tuple, ops, options.indexBase ?? 0));
  }

  delete(key: Key | MpValue, options: WriteOptions = {}): Promise<Tuple | null> {
    return this.box.write((txn) => this.space.delete(txn, asKey(key), options.index));
  }

  truncate(): Promise<void> {
    return this.box.write((txn) => this.space.truncate(txn));
  }

  // --- schema ---

  index(ref: number | string): BoxIndex {
    return new BoxIndex(this, this.space.index(ref).def.id);
  }

  indexes(): IndexDef[] {
    return this.space.indexDefs();
  }

  createIndex(name: string, options: CreateIndexOptions = {}): Promise<IndexDef> {
    return this.box.createIndex(this.id, name, options);
  }

  drop(): Promise<void> {
    return this.box.dropSpace(this.id);
  }

  rename(name: string): Promise<void> {
    return this.box.alterSpace(this.id, { name });
  }

  /** @internal */
  engineIndex(id: number): EngineIndex {
    return this.space.index(id);
  }
}

export class BoxIndex {
  readonly space: BoxSpace;
  readonly id: number;

  constructor(space: BoxSpace, id: number) {
    this.space = space;
    this.id = id;
  }

  get def(): IndexDef {
    return this.space.engineIndex(this.id).def;
  }

  get name(): string {
    return this.def.name;
  }

  get(key: Key | MpValue): Tuple | null {
    return this.space.get(key, this.id);
  }

  select(key: Key | MpValue = [], options: Omit<SelectOptions, 'index'> = {}): Tuple[] {
    return this.space.select(key, { ...options, index: this.id });
  }

  count(key: Key | MpValue = [], options: Omit<SelectOptions, 'index'> = {}): number {
    return this.space.count(key, { ...options, index: this.id });
  }

  min(key: Key | MpValue = []): Tuple | null {
    return this.space.min(key, this.id);
  }

  max(key: Key | MpValue = []): Tuple | null {
    return this.space.max(key, this.id);
  }

  pairs(key: Key | MpValue = [], options: Omit<SelectOptions, 'index'> = {}): IterableIterator<Tuple> {
    return this.space.pairs(key, { ...options, index: this.id });
  }

  update(key: Key | MpValue, ops: unknown, options: Omit<WriteOptions, 'index'> = {}): Promise<Tuple | null> {
    return this.space.update(key, ops, { ...options, index: this.id });
  }

  delete(key: Key | MpValue): Promise<Tuple | null> {
    return this.space.delete(key, { index: this.id });
  }

  len(): number {
    return this.space.engineIndex(this.id).size();
  }
}
