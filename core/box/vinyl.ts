/**
 * vinyl: a disk engine. Each space keeps its data in one ordered Store (LMDB in the real world):
 * key = [index id] + memcomparable key (vinyl-key.ts), value = the checksummed tuple (secondary
 * indexes store the whole tuple too, trading space for one read per row). One store per space
 * makes a space's dump a single atomic batch, so every index of a space is always at the same
 * dumped LSN.
 *
 * Writes go to an in-memory level per index (`mem`: key -> tuple | tombstone) at statement time,
 * like memtx, so statements, undo and visibility work the same. Reads merge mem over the store.
 * A dump writes mem to the store with the LSN it covers (meta key [FF]); it happens only when no
 * transaction is pending in the WAL, so the store never holds a change that could still roll
 * back. Recovery skips WAL rows at or below the space's dumped LSN.
 *
 * Reads from the store go through a bounded LRU cache (`vinylCacheBytes`); data larger than the
 * cache and the mem limit lives on disk only. A value that fails its checksum is reported as
 * ER_INVALID_RUN_FILE, never served.
 */

import { assert } from '../lib/assert.ts';
import { BTreeMap } from '../lib/btree.ts';
import { compareBytes } from '../lib/bytes.ts';
import { MpReader, MpWriter, type MpValue } from '../codec/msgpack.ts';
import type { Op, Store } from '../env/disk.ts';
import { BoxError } from './errors.ts';
import type { EngineIndex, TupleVisitor } from './engine-index.ts';
import type { IteratorType } from './iterator.ts';
import type { KeyDef } from './key-def.ts';
import { openRecord, readU64Key, sealRecord, u64Key } from './record-codec.ts';
import type { IndexDef } from './space-def.ts';
import type { Key, Tuple } from './tuple.ts';
import { bytesToKeyString, KeyBuilder, KEY_BOUND_BYTE, prefixEnd } from './vinyl-key.ts';

export const ER_INVALID_RUN_FILE = 132;
/** Store entries read per range step while merging. */
const STORE_RANGE_CHUNK = 256;
/** Per-entry overhead added to byte estimates (JS objects, map slots). */
const ENTRY_OVERHEAD_BYTES = 64;
const META_KEY = Uint8Array.of(KEY_BOUND_BYTE);

const TOMBSTONE = null;
type MemValue = Tuple | typeof TOMBSTONE;

function corrupt(store: string, details: string): BoxError {
  return new BoxError(ER_INVALID_RUN_FILE, `Invalid RUN file: ${store}: ${details}`);
}

const valueWriter = new MpWriter(4096);

export function encodeVinylValue(tuple: Tuple): Uint8Array {
  valueWriter.reset();
  valueWriter.value(tuple as MpValue);
  return sealRecord('vinylValue', valueWriter.toBytes());
}

function decodeVinylValue(store: string, bytes: Uint8Array): Tuple {
  const payload = openRecord('vinylValue', bytes);
  if (payload === null) throw corrupt(store, 'checksum mismatch');
  const value = new MpReader(payload).value();
  if (!Array.isArray(value)) throw corrupt(store, 'value is not a tuple');
  return Object.freeze(value);
}

/** The LRU read cache shared by every vinyl index of a box. */
export class VinylCache {
  readonly capacityBytes: number;
  usedBytes = 0;
  private readonly entries = new Map<string, { tuple: Tuple; bytes: number }>();

  constructor(capacityBytes: number) {
    assert(capacityBytes >= 0, 'cache capacity');
    this.capacityBytes = capacityBytes;
  }

  get size(): number {
    return this.entries.size;
  }

  get(key: string): Tuple | undefined {
    const e = this.entries.get(key);
    if (e === undefined) return undefined;
    this.entries.delete(key);
    this.entries.set(key, e);
    return e.tuple;
  }

  put(key: string, tuple: Tuple, valueBytes: number): void {
    this.evict(key);
    const bytes = valueBytes + key.length + ENTRY_OVERHEAD_BYTES;
    if (bytes > this.capacityBytes) return;
    this.entries.set(key, { tuple, bytes });
    this.usedBytes += bytes;
    for (const [k, e] of this.entries) {
      if (this.usedBytes <= this.capacityBytes) break;
      this.entries.delete(k);
      this.usedBytes -= e.bytes;
    }
    assert(this.usedBytes <= this.capacityBytes, 'cache over capacity');
  }

  evict(key: string): void {
    const e = this.entries.get(key);
    if (e === undefined) return;
    this.entries.delete(key);
    this.usedBytes -= e.bytes;
  }
}

/** One space's store and its indexes' in-memory levels. */
export class VinylSpaceStore {
  readonly store: Store;
  readonly cache: VinylCache;
  /** Highest LSN whose changes the store holds. */
  dumpedLsn: number;
  readonly indexes = new Map<number, VinylIndex>();
  /** Index ids whose store entries must go at the next dump (dropped or truncated). */
  readonly purgeOnDump = new Set<number>();

  constructor(store: Store, cache: VinylCache) {
    this.store = store;
    this.cache = cache;
    const meta = store.get(META_KEY);
    if (meta === undefined) {
      this.dumpedLsn = 0;
      return;
    }
    const payload = openRecord('vinylMeta', meta);
    if (payload === null || payload.length !== 8) throw corrupt(store.name, 'meta record checksum mismatch');
    this.dumpedLsn = readU64Key(payload);
  }

  memBytes(): number {
    let n = 0;
    for (const index of this.indexes.values()) n += index.memBytes;
    return n;
  }

  /** Store entries of one index (used at open to count, and to know whether a build is needed). */
  storedCount(indexId: number): number {
    let n = 0;
    for (const _ of this.store.range({ from: Uint8Array.of(indexId), to: Uint8Array.of(indexId + 1) })) n++;
    return n;
  }

  /** Writes every mem level to the store in one batch, covering changes up to `lsn`. */
  async dump(lsn: number): Promise<void> {
    assert(lsn >= this.dumpedLsn, 'dump LSN went backwards');
    const ops: Op[] = [];
    for (const iid of this.purgeOnDump) {
      for (const [key] of this.store.range({ from: Uint8Array.of(iid), to: Uint8Array.of(iid + 1) })) {
        ops.push({ kind: 'delete', key });
      }
    }
    const flushed: Array<[VinylIndex, BTreeMap<Uint8Array, MemValue>]> = [];
    for (const index of this.indexes.values()) {
      flushed.push([index, index.takeMem()]);
    }
    for (const [index, mem] of flushed) {
      for (const [key, value] of mem) {
        const storeKey = index.storeKey(key);
        this.cache.evict(bytesToKeyString(storeKey));
        if (value === TOMBSTONE) ops.push({ kind: 'delete', key: storeKey });
        else ops.push({ kind: 'put', key: storeKey, value: encodeVinylValue(value) });
      }
    }
    ops.push({ kind: 'put', key: META_KEY, value: sealRecord('vinylMeta', u64Key(lsn)) });
    const purged = [...this.purgeOnDump];
    this.purgeOnDump.clear();
    // The batch is visible once write() returns: the mem levels can go now.
    const previousLsn = this.dumpedLsn;
    try {
      const written = this.store.write(ops, 'fsync');
      for (const [index] of flushed) index.afterDump(purged.includes(index.def.id));
      this.dumpedLsn = lsn;
      await written;
    } catch (error) {
      // Whether the batch was applied shows in the meta key; if it was not, the mem levels
      // come back (entries written since win) and the purge is retried next time.
      if (this.readMetaLsn() !== lsn) {
        this.dumpedLsn = previousLsn;
        for (const [index, mem] of flushed) index.restoreMem(mem);
        for (const iid of purged) this.purgeOnDump.add(iid);
      }
      throw error;
    }
  }

  private readMetaLsn(): number {
    const meta = this.store.get(META_KEY);
    const payload = meta === undefined ? null : openRecord('vinylMeta', meta);
    return payload === null || payload.length !== 8 ? -1 : readU64Key(payload);
  }
}

/** A vinyl index: mem level over the store. Implements the same contract as memtx indexes. */
export class VinylIndex implements EngineIndex {
  readonly def: IndexDef;
  private readonly space: VinylSpaceStore;
  private readonly orderDef: KeyDef;
  private mem = new BTreeMap<Uint8Array, MemValue>(compareBytes);
  memBytes = 0;
  private count: number;
  /** After a truncate, store entries of this index are dead until the next dump purges them. */
  private storeHidden = false;
  private readonly builder = new KeyBuilder();

  constructor(def: IndexDef, orderDef: KeyDef, space: VinylSpaceStore) {
    this.def = def;
    this.orderDef = orderDef;
    this.space = space;
    this.count = space.storedCount(def.id);
    space.indexes.set(def.id, this);
  }

  /** True when the store already holds this index (recovery after a dump): no build needed. */
  get isBuilt(): boolean {
    return this.count > 0;
  }

  storeKey(memKey: Uint8Array): Uint8Array {
    const out = new Uint8Array(memKey.length + 1);
    out[0] = this.def.id;
    out.set(memKey, 1);
    return out;
  }

  private encodeTuple(tuple: Tuple): Uint8Array {
    const b = this.builder.reset();
    for (const p of this.orderDef.parts) b.value(tuple[p.fieldNo] ?? null);
    return b.build();
  }

  private encodeKey(key: Key): Uint8Array {
    const b = this.builder.reset();
    for (const v of key) b.value(v);
    return b.build();
  }

  size(): number {
    return this.count;
  }

  get(key: Key): Tuple | undefined {
    if (this.orderDef.parts.length > this.def.parts.length) return this.firstMatch(key);
    return this.lookup(this.encodeKey(key));
  }

  findByTuple(tuple: Tuple): Tuple | undefined {
    assert(this.def.unique, 'findByTuple on a non-unique index');
    if (this.orderDef.parts.length > this.def.parts.length) {
      return this.firstMatch(this.def.parts.map((p) => tuple[p.fieldNo] ?? null));
    }
    return this.lookup(this.encodeTuple(tuple));
  }

  /** Unique index stored under an extended key (nullable parts): the first entry with the key. */
  private firstMatch(key: Key): Tuple | undefined {
    let found: Tuple | undefined;
    this.iterate('EQ', key, (t) => {
      found = t;
      return false;
    });
    return found;
  }

  private lookup(memKey: Uint8Array): Tuple | undefined {
    const m = this.mem.get(memKey);
    if (m !== undefined) return m === TOMBSTONE ? undefined : m;
    if (this.storeHidden) return undefined;
    const storeKey = this.storeKey(memKey);
    const cacheKey = bytesToKeyString(storeKey);
    const cached = this.space.cache.get(cacheKey);
    if (cached !== undefined) return cached;
    const bytes = this.space.store.get(storeKey);
    if (bytes === undefined) return undefined;
    const tuple = decodeVinylValue(this.space.store.name, bytes);
    this.space.cache.put(cacheKey, tuple, bytes.length);
    return tuple;
  }

  insert(tuple: Tuple): void {
    this.setMem(this.encodeTuple(tuple), tuple);
    this.count++;
  }

  replace(old: Tuple, next: Tuple): void {
    this.remove(old);
    this.insert(next);
  }

  remove(tuple: Tuple): void {
    this.setMem(this.encodeTuple(tuple), TOMBSTONE);
    this.count--;
    assert(this.count >= 0, 'vinyl index count below zero');
  }

  private setMem(key: Uint8Array, value: MemValue): void {
    const previous = this.mem.set(key, value);
    if (previous === undefined) this.memBytes += key.length + ENTRY_OVERHEAD_BYTES + (value === TOMBSTONE ? 0 : 8 * value.length);
  }

  clear(): void {
    this.mem = new BTreeMap<Uint8Array, MemValue>(compareBytes);
    this.memBytes = 0;
    this.count = 0;
    this.storeHidden = true;
    this.space.purgeOnDump.add(this.def.id);
  }

  takeMem(): BTreeMap<Uint8Array, MemValue> {
    const mem = this.mem;
    this.mem = new BTreeMap<Uint8Array, MemValue>(compareBytes);
    this.memBytes = 0;
    return mem;
  }

  restoreMem(old: BTreeMap<Uint8Array, MemValue>): void {
    for (const [key, value] of old) if (!this.mem.has(key)) this.setMem(key, value);
  }

  afterDump(purged: boolean): void {
    if (purged) this.storeHidden = false;
  }

  iterate(type: IteratorType, key: Key, visit: TupleVisitor): void {
    const prefix = this.encodeKey(key);
    const reverse = type === 'REQ' || type === 'LT' || type === 'LE';
    let from: Uint8Array | undefined;
    let to: Uint8Array | undefined;
    if (key.length > 0) {
      if (type === 'EQ' || type === 'REQ') [from, to] = [prefix, prefixEnd(prefix)];
      else if (type === 'GE' || type === 'ALL') from = prefix;
      else if (type === 'GT') from = prefixEnd(prefix);
      else if (type === 'LE') to = prefixEnd(prefix);
      else to = prefix;
    }
    this.merge(from, to, reverse, visit);
  }

  /** Merges mem and store entries in [from, to), mem winning on equal keys; skips tombstones. */
  private merge(from: Uint8Array | undefined, to: Uint8Array | undefined, reverse: boolean, visit: TupleVisitor): void {
    const memEntries = [...this.mem.entries({ ...(from ? { from } : {}), ...(to ? { to } : {}), reverse })];
    const store = this.storeEntries(from, to, reverse);
    let m = 0;
    let s = store.next();
    const sign = reverse ? -1 : 1;
    while (m < memEntries.length || !s.done) {
      let takeMem: boolean;
      let skipStore = false;
      if (m >= memEntries.length) takeMem = false;
      else if (s.done) takeMem = true;
      else {
        const c = compareBytes(memEntries[m]![0], s.value[0]) * sign;
        takeMem = c <= 0;
        skipStore = c === 0;
      }
      if (takeMem) {
        const value = memEntries[m++]![1];
        if (skipStore) s = store.next();
        if (value !== TOMBSTONE && !visit(value)) return;
        continue;
      }
      const [, value] = s.value as [Uint8Array, Tuple];
      s = store.next();
      if (!visit(value)) return;
    }
  }

  /** Store entries of this index in [from, to) as mem-level keys, read in bounded chunks. */
  private *storeEntries(from: Uint8Array | undefined, to: Uint8Array | undefined, reverse: boolean): Generator<[Uint8Array, Tuple]> {
    if (this.storeHidden) return;
    const iid = this.def.id;
    let low = from === undefined ? Uint8Array.of(iid) : this.storeKey(from);
    let high = to === undefined ? Uint8Array.of(iid + 1) : this.storeKey(to);
    const name = this.space.store.name;
    for (;;) {
      let n = 0;
      let last: Uint8Array | null = null;
      for (const [k, v] of this.space.store.range({ from: low, to: high, reverse, limit: STORE_RANGE_CHUNK })) {
        n++;
        last = k;
        const cacheKey = bytesToKeyString(k);
        let tuple = this.space.cache.get(cacheKey);
        if (tuple === undefined) {
          tuple = decodeVinylValue(name, v);
          this.space.cache.put(cacheKey, tuple, v.length);
        }
        yield [k.subarray(1), tuple];
      }
      if (n < STORE_RANGE_CHUNK || last === null) return;
      if (reverse) high = last;
      else {
        low = new Uint8Array(last.length + 1);
        low.set(last);
      }
    }
  }
}
