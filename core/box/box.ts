/**
 * Box: the storage engine's public face. Spaces and indexes (box-space.ts), transactions, DDL,
 * sequences, users, checkpoints, recovery and the replication hooks.
 *
 * Semantics in one place:
 * - A statement applies to memory at once and is visible before its WAL write (memtx 1.10); the
 *   returned promise settles when the WAL reached `walMode`; a WAL failure rolls the transaction
 *   back (and every later one) and rejects with ER_WAL_IO.
 * - Transactions (`begin`/`commit`/`rollback`, or `transaction(fn)`) cannot yield: the first
 *   await after `begin()` aborts the transaction (ER_TRANSACTION_YIELD on commit), as memtx does,
 *   so no reader ever sees half of one. Every statement issued while one is open joins it.
 * - `walMode`: 'none' writes no WAL (data survives only through checkpoints), 'write' hands each
 *   batch to the OS, 'fsync' waits for stable storage.
 * - Replication hooks: `onCommit(rows)` sees every committed transaction as WAL rows in LSN
 *   order; `applyRows(rows)` applies a master's rows on a replica (allowed in read-only mode).
 */

import { assert } from '../lib/assert.ts';
import { mpNumber, type MpObject, type MpValue } from '../codec/msgpack.ts';
import type { Clock } from '../env/clock.ts';
import type { Disk, Store } from '../env/disk.ts';
import type { Log } from '../env/log.ts';
import { chapSha1PasswordHash as chapSha1Hash } from '../lib/chap-sha1.ts';
import { BoxError, boxErrors } from './errors.ts';
import { recover } from './recovery.ts';
import { Schema, VINYL_STORE_FLAG, type VinylStores } from './schema.ts';
import { deleteSnapshot, snapshotFinished, snapshotLsns, writeSnapshot, type SpaceImage } from './snapshot.ts';
import { formatToValue, indexDefToTuple, parseFormat, parseParts, spaceDefToTuple, USER_SPACE_ID_MIN, type Engine, type IndexDef, type IndexType, type SpaceDef } from './space-def.ts';
import type { Space, SpaceHost } from './space.ts';
import { ADMIN_USER_ID, bootstrapRows, SystemSpaceId, systemSpaces } from './system-spaces.ts';
import type { Tuple } from './tuple.ts';
import { Txn, type WalRow } from './txn.ts';
import { VinylCache, VinylSpaceStore } from './vinyl.ts';
import { Wal, type WalMode, type WalStats } from './wal.ts';
import { txnRows, type DecodedRow, type WalBatch } from './wal-record.ts';
import { BoxSpace } from './box-space.ts';
import { makeKeyDef } from './key-def.ts';
import { pushAll } from '../lib/arrays.ts';

export interface BoxOptions {
  readonly disk: Disk;
  readonly log: Log;
  /** Times WAL writes (WalStats); none = they are not timed. */
  readonly clock?: Clock;
  readonly walMode?: WalMode;
  /** Bytes of the vinyl read cache. */
  readonly vinylCacheBytes?: number;
  /** A vinyl space dumps its in-memory level to disk past this many bytes. */
  readonly vinylMemBytesMax?: number;
  /** A checkpoint starts by itself after this many WAL rows; 0 = only on request. */
  readonly checkpointWalRowsMax?: number;
  /** Snapshots kept (the older ones are fallbacks if the newest rots). */
  readonly checkpointCount?: number;
  readonly readOnly?: boolean;
  /**
   * Tarantool's `force_recovery`: start from the last good WAL record when a later one is
   * corrupt, dropping it and what follows (reported in `recoveryProblems`). Off: refuse to open.
   */
  readonly forceRecovery?: boolean;
  /** Written to `_cluster` on bootstrap. */
  readonly instanceUuid?: string;
  /** Password of `admin` on bootstrap (none = empty auth, as Tarantool). */
  readonly adminPassword?: string;
}

export const DEFAULT_VINYL_CACHE_BYTES = 128 * 1024 * 1024;
export const DEFAULT_VINYL_MEM_BYTES_MAX = 16 * 1024 * 1024;
export const DEFAULT_CHECKPOINT_WAL_ROWS_MAX = 1_000_000;
export const DEFAULT_CHECKPOINT_COUNT = 2;
/**
 * The store the WAL writes: keys only ever appended in increasing order, deleted from the front
 * (checkpoints) or the back (an undone write), so a runtime may keep it as an append-only log.
 */
export const WAL_STORE = 'wal';
export const SNAP_STORE = 'snap';
const VINYL_STORE_PREFIX = 'vinyl.';

export interface CreateSpaceOptions {
  readonly id?: number;
  readonly engine?: Engine;
  readonly format?: ReadonlyArray<{ name: string; type?: string; is_nullable?: boolean }>;
  readonly fieldCount?: number;
  readonly ifNotExists?: boolean;
  readonly owner?: number;
  /** Tarantool's is_sync: a transaction writing to the space waits for the replication quorum (setSyncGate). */
  readonly isSync?: boolean;
}

export type PartSpec = readonly [number | string, string?] | { field: number | string; type?: string; is_nullable?: boolean };

export interface CreateIndexOptions {
  readonly id?: number;
  readonly type?: IndexType;
  readonly unique?: boolean;
  /** Parts with 0-based field numbers or field names; default: field 0 unsigned. */
  readonly parts?: readonly PartSpec[];
  readonly ifNotExists?: boolean;
  /** Binds an auto-increment sequence to the primary key (true = `<space>_seq`). */
  readonly sequence?: boolean | string;
}

export type CommitListener = (rows: readonly WalRow[]) => void;

/** Space flag of Tarantool's synchronous spaces. */
export const IS_SYNC_FLAG = 'is_sync';

/**
 * What a transaction that wrote to a synchronous space waits for once its own WAL has it, given
 * its last LSN: the replication quorum (core/replication/synchro.ts). It rejects with
 * ER_SYNC_QUORUM_TIMEOUT when the quorum does not come in time; the transaction stays committed
 * here (as with Tarantool 3's txn_synchro_timeout, the outcome is then unknown to the client).
 */
export type SyncGate = (lastLsn: number) => Promise<void>;

function callStatement<T>(txn: Txn, statement: (txn: Txn) => T): T {
  return statement(txn);
}

export class Box implements SpaceHost {
  readonly log: Log;
  readonly schema: Schema;
  private wal!: Wal;
  private readonly disk: Disk;
  private readonly options: BoxOptions;
  private readonly vinylCache: VinylCache;
  private readonly vinylStores = new Map<string, VinylSpaceStore>();
  private snapStore!: Store;
  private walStore!: Store;
  private nextTxnId = 1;
  private activeTxn: Txn | null = null;
  private yieldAborted: Txn | null = null;
  private listeners: CommitListener[] = [];
  private syncGate: SyncGate | null = null;
  /** Ids of the synchronous spaces, as of schema version `syncSpacesVersion`. */
  private syncSpaceIds: ReadonlySet<number> = new Set();
  private syncSpacesVersion = -1;
  private rowsSinceCheckpoint = 0;
  private checkpointRunning = false;
  private vinylStoreGeneration = 0;
  private loading = true;
  readOnly: boolean;
  /** Problems recovery found and worked around (corrupt snapshots, a cut WAL tail). */
  recoveryProblems: BoxError[] = [];

  private constructor(options: BoxOptions) {
    this.options = options;
    this.disk = options.disk;
    this.log = options.log;
    this.readOnly = options.readOnly ?? false;
    this.vinylCache = new VinylCache(options.vinylCacheBytes ?? DEFAULT_VINYL_CACHE_BYTES);
    const stores: VinylStores = {
      spaceStore: (def) => this.vinylSpaceStore(def),
      released: () => undefined,
    };
    this.schema = new Schema(this, stores, options.log);
  }

  /** Opens the data on `disk`: recovery, or bootstrap of a new instance. */
  static async open(options: BoxOptions): Promise<Box> {
    const box = new Box(options);
    await box.start();
    return box;
  }

  private async start(): Promise<void> {
    const names = await this.disk.list();
    for (const name of names) {
      if (!name.startsWith(VINYL_STORE_PREFIX)) continue;
      const store = await this.disk.open(name);
      this.vinylStores.set(name, new VinylSpaceStore(store, this.vinylCache));
      const generation = Number(name.split('.').pop());
      if (Number.isSafeInteger(generation)) this.vinylStoreGeneration = Math.max(this.vinylStoreGeneration, generation);
    }
    this.snapStore = await this.disk.open(SNAP_STORE);
    this.walStore = await this.disk.open(WAL_STORE);
    const result = await recover(this.snapStore, this.walStore, this.log, {
      loadImages: (images) => this.loadImages(images),
      replayTxn: (rows) => this.replayTxn(rows),
    }, { forceRecovery: this.options.forceRecovery === true });
    this.recoveryProblems = result.problems;
    const mode = this.options.walMode ?? 'write';
    // After a process crash the WAL may hold records that never reached the disk (a write whose
    // fsync was cut short): recovery read them from the OS's cache. Once this instance serves
    // them (to clients, to replicas) they must survive a power loss, or the LSNs they hold are
    // reused for other rows after it (found by the replication scenario, seed 40005: a replica
    // kept a row its master lost that way).
    if (!result.fresh && mode !== 'none') await this.walStore.sync();
    this.wal = new Wal(this.walStore, mode, this.log, result.lastLsn + 1, {
      committed: (txn) => this.committed(txn),
      failed: (txns, error) => this.walFailed(txns, error),
    }, this.options.clock ?? null);
    pushAll(this.wal.spans, result.walSpans);
    this.loading = false;
    if (result.fresh) await this.bootstrap();
    await this.collectVinylGarbage();
    this.log.info('box is ready', { lsn: this.wal.nextLsn - 1, spaces: this.schema.spaces.size });
  }

  private async bootstrap(): Promise<void> {
    const auth: MpObject = this.options.adminPassword === undefined ? {} : { 'chap-sha1': chapSha1Hash(this.options.adminPassword) };
    const readOnly = this.readOnly;
    this.readOnly = false;
    try {
      await this.transaction(() => {
        const txn = this.activeTxn!;
        for (const s of systemSpaces()) {
          this.schema.space(SystemSpaceId._space).insert(txn, spaceDefToTuple(s.def));
          for (const index of s.indexes) this.schema.space(SystemSpaceId._index).insert(txn, indexDefToTuple(index));
        }
        for (const [spaceId, tuple] of bootstrapRows(auth, this.options.instanceUuid ?? null)) {
          this.schema.space(spaceId).insert(txn, tuple);
        }
      });
    } finally {
      this.readOnly = readOnly;
    }
  }

  // --- recovery ------------------------------------------------------------------------------

  private loadImages(images: readonly SpaceImage[]): void {
    for (const image of images) {
      const space = this.schema.space(image.spaceId);
      const txn = new Txn(0);
      for (const t of image.tuples) space.replayReplace(txn, t);
    }
  }

  private replayTxn(rows: readonly DecodedRow[]): void {
    const txn = new Txn(0);
    for (const row of rows) this.applyRow(txn, row);
  }

  private applyRow(txn: Txn, row: WalRow): void {
    const space = this.schema.space(row.spaceId);
    if (space.engine === 'vinyl' && this.loading) {
      const store = this.vinylSpaceStore(space.def);
      if (row.lsn <= store.dumpedLsn) return;
    }
    switch (row.op) {
      case 'insert':
      case 'replace':
        space.replayReplace(txn, row.tuple!);
        return;
      case 'delete':
        space.delete(txn, row.key!);
        return;
      case 'truncate':
        space.truncate(txn);
        return;
    }
  }

  // --- vinyl stores --------------------------------------------------------------------------

  private vinylSpaceStore(def: SpaceDef): VinylSpaceStore {
    const name = def.flags[VINYL_STORE_FLAG];
    const store = typeof name === 'string' ? this.vinylStores.get(name) : undefined;
    if (store === undefined) throw boxErrors.createSpace(def.name, `vinyl store ${String(name)} is not open`);
    return store;
  }

  /** Destroys vinyl stores no space uses (dropped spaces, failed creates). */
  private async collectVinylGarbage(): Promise<void> {
    const used = new Set<string>();
    for (const space of this.schema.spaces.values()) {
      const name = space.def.flags[VINYL_STORE_FLAG];
      if (typeof name === 'string') used.add(name);
    }
    for (const name of [...this.vinylStores.keys()]) {
      if (used.has(name)) continue;
      this.vinylStores.delete(name);
      await this.disk.destroy(name);
    }
  }

  private async maybeDumpVinyl(): Promise<void> {
    if (this.wal.pendingCount > 0 || this.activeTxn !== null) return;
    const limit = this.options.vinylMemBytesMax ?? DEFAULT_VINYL_MEM_BYTES_MAX;
    for (const store of this.vinylStores.values()) {
      if (store.memBytes() <= limit) continue;
      await this.dumpVinyl(store);
    }
  }

  private async dumpVinyl(store: VinylSpaceStore): Promise<void> {
    try {
      await store.dump(this.wal.committedLsn);
    } catch (error) {
      this.log.error('vinyl dump failed; data stays in memory and in the WAL', { store: store.store.name, cause: String(error) });
    }
  }

  // --- SpaceHost -----------------------------------------------------------------------------

  sequenceNext(txn: Txn, sequenceId: number): number | bigint {
    const def = this.schema.space(SystemSpaceId._sequence).get([sequenceId]);
    if (def === null) throw boxErrors.noSuchSequence(String(sequenceId));
    const [, , name, step, min, max, start, , cycle] = def as [number, number, string, number, number, number, number, number, boolean];
    const data = this.schema.space(SystemSpaceId._sequence_data).get([sequenceId]);
    let value: number;
    if (data === null) value = start;
    else {
      // Our encoder writes a value past 2^53 as a double, which reads back as MpFloat64.
      const current = mpNumber(data[1]);
      assert(current !== undefined, 'a sequence value is a number');
      value = current + step;
      if (value > max || value < min) {
        if (!cycle) throw boxErrors.sequenceOverflow(name);
        value = step > 0 ? min : max;
      }
    }
    this.schema.space(SystemSpaceId._sequence_data).replace(txn, [sequenceId, value]);
    return value;
  }

  sequenceObserve(txn: Txn, sequenceId: number, value: MpValue): void {
    if (typeof value !== 'number' || !Number.isInteger(value)) return;
    const data = this.schema.space(SystemSpaceId._sequence_data).get([sequenceId]);
    if (data !== null && (data[1] as number) >= value) return;
    this.schema.space(SystemSpaceId._sequence_data).replace(txn, [sequenceId, value]);
  }

  upsertSkipped(space: string, error: BoxError): void {
    this.log.warn('upsert operation skipped', { space, error: error.message, code: error.code });
  }

  // --- transactions --------------------------------------------------------------------------

  get schemaVersion(): number {
    return this.schema.version;
  }

  /** LSN of the last row known durable at the WAL mode's level. */
  get committedLsn(): number {
    return this.wal.committedLsn;
  }

  /** LSN of the last row submitted to the WAL (committed or still being written). */
  get lastAssignedLsn(): number {
    return this.wal.nextLsn - 1;
  }

  /** Resolves once every row up to `lsn` is durable; rejects (ER_WAL_IO) if a failed write rolled it back. */
  waitCommitted(lsn: number): Promise<void> {
    return this.wal.waitCommitted(lsn);
  }

  /**
   * Resolves once everything visible now is durable here and, with synchronous spaces, held by
   * the sync gate's quorum; rejects as the gate does (ER_SYNC_QUORUM_TIMEOUT). A write is
   * visible before both, so what is read and then told to another instance that acts on it
   * (bucket recovery: core/vshard/bucket-recovery.ts) waits for this first: otherwise a master
   * switch could take back what the other side was told.
   */
  async waitVisibleConfirmed(): Promise<void> {
    const lsn = this.lastAssignedLsn;
    await this.wal.waitCommitted(lsn);
    const gate = this.syncGate;
    if (gate !== null && lsn > 0 && this.hasSyncSpaces()) await gate(lsn);
  }

  get walMode(): WalMode {
    return this.wal.mode;
  }

  /** The WAL writer's counters since the box opened (read them, never write). */
  get walStats(): Readonly<WalStats> {
    return this.wal.stats;
  }

  /** Rows submitted to the WAL that have not reached the WAL mode's durability yet. */
  get walPendingRows(): number {
    return this.wal.pendingRows;
  }

  get inTransaction(): boolean {
    return this.activeTxn !== null;
  }

  private checkWritable(): void {
    if (this.loading) throw boxErrors.loading();
    if (this.readOnly) throw boxErrors.readonly();
  }

  /** Runs one statement: in the open transaction, or as its own (autocommit). */
  write<T>(statement: (txn: Txn) => T): Promise<T> {
    return this.writeWith(callStatement<T>, statement, undefined);
  }

  /**
   * `write` for the hot paths: the statement takes its arguments explicitly, so a caller with a
   * module-level statement function allocates no closure per statement.
   */
  writeWith<A, B, T>(statement: (txn: Txn, a: A, b: B) => T, a: A, b: B): Promise<T> {
    try {
      this.checkWritable();
    } catch (error) {
      return Promise.reject(error);
    }
    const active = this.activeTxn;
    const txn = active ?? new Txn(this.nextTxnId++);
    const savepoint = txn.savepoint();
    let result: T;
    try {
      result = statement(txn, a, b);
    } catch (error) {
      txn.rollbackTo(savepoint);
      return Promise.reject(error);
    }
    if (active !== null || txn.changes.length === 0) return Promise.resolve(result);
    return this.submitClient(txn, result);
  }

  private runStatement<T>(txn: Txn, statement: (txn: Txn) => T): T {
    const savepoint = txn.savepoint();
    try {
      return statement(txn);
    } catch (error) {
      txn.rollbackTo(savepoint);
      throw error;
    }
  }

  begin(): void {
    if (this.activeTxn !== null) throw boxErrors.activeTransaction();
    const txn = new Txn(this.nextTxnId++);
    this.activeTxn = txn;
    this.yieldAborted = null;
    // The first microtask after this synchronous run is the first yield: the transaction dies.
    void Promise.resolve().then(() => {
      if (this.activeTxn === txn) this.abortActive('yield');
    });
  }

  private abortActive(reason: string): void {
    const txn = this.activeTxn;
    assert(txn !== null, 'no active transaction to abort');
    this.activeTxn = null;
    txn.undoAll();
    txn.state = 'rolled_back';
    this.yieldAborted = txn;
    this.log.warn('transaction aborted', { reason, statements: txn.changes.length });
  }

  commit(): Promise<void> {
    return this.commitWith(undefined);
  }

  /** Commits the open transaction; the promise resolves with `value` once durable. */
  private commitWith<T>(value: T): Promise<T> {
    const txn = this.activeTxn;
    if (txn === null) {
      if (this.yieldAborted !== null) {
        this.yieldAborted = null;
        return Promise.reject(boxErrors.transactionYield());
      }
      return Promise.resolve(value);
    }
    this.activeTxn = null;
    if (txn.changes.length === 0) {
      txn.state = 'committed';
      return Promise.resolve(value);
    }
    return this.submitClient(txn, value);
  }

  /** A client's transaction to the WAL, and past the sync gate when it wrote to a synchronous space. */
  private submitClient<T>(txn: Txn, value: T): Promise<T> {
    const committed = this.wal.submit(txn, value);
    const gate = this.syncGate;
    if (gate === null || !this.writesSyncSpace(txn)) return committed;
    const lastLsn = txn.firstLsn + txn.changes.length - 1;
    return committed.then((result) => gate(lastLsn).then(() => result));
  }

  /** Ids of the synchronous spaces (recomputed when the schema changed). */
  private syncSpaces(): ReadonlySet<number> {
    if (this.syncSpacesVersion !== this.schema.version) {
      const ids = new Set<number>();
      for (const space of this.schema.spaces.values()) if (space.def.flags[IS_SYNC_FLAG] === true) ids.add(space.id);
      this.syncSpaceIds = ids;
      this.syncSpacesVersion = this.schema.version;
    }
    return this.syncSpaceIds;
  }

  hasSyncSpaces(): boolean {
    return this.syncSpaces().size > 0;
  }

  private writesSyncSpace(txn: Txn): boolean {
    const ids = this.syncSpaces();
    if (ids.size === 0) return false;
    for (const change of txn.changes) if (ids.has(change.spaceId)) return true;
    return false;
  }

  /** Installs (or, with null, removes) what synchronous transactions wait for. */
  setSyncGate(gate: SyncGate | null): void {
    this.syncGate = gate;
  }

  rollback(): void {
    const txn = this.activeTxn;
    if (txn === null) return;
    this.activeTxn = null;
    txn.undoAll();
    txn.state = 'rolled_back';
  }

  /** Runs `fn` as one transaction (it must not await); rejects and rolls back if it throws. */
  transaction<T>(fn: () => T): Promise<T> {
    try {
      this.begin();
    } catch (error) {
      return Promise.reject(error);
    }
    let result: T;
    try {
      result = fn();
    } catch (error) {
      this.rollback();
      return Promise.reject(error);
    }
    return this.commitWith(result);
  }

  private committed(txn: Txn): void {
    txn.state = 'committed';
    this.rowsSinceCheckpoint += txn.changes.length;
    if (this.listeners.length > 0) {
      const rows = txnRows(txn);
      for (const listener of this.listeners) listener(rows);
    }
    if (this.vinylStores.size > 0) void this.maybeDumpVinyl();
    const every = this.options.checkpointWalRowsMax ?? DEFAULT_CHECKPOINT_WAL_ROWS_MAX;
    if (every > 0 && this.rowsSinceCheckpoint >= every && !this.checkpointRunning) {
      this.checkpoint().catch((error: unknown) => this.log.error('automatic checkpoint failed', { cause: String(error) }));
    }
  }

  private walFailed(txns: readonly Txn[], error: BoxError): void {
    if (this.activeTxn !== null) this.abortActive('WAL failure');
    for (let i = txns.length - 1; i >= 0; i--) {
      txns[i]!.undoAll();
      txns[i]!.state = 'rolled_back';
    }
    this.log.error('transactions rolled back after a WAL failure', { count: txns.length, error: error.message });
  }

  // --- replication hooks ---------------------------------------------------------------------

  /** Calls `listener` with the rows of every transaction that reaches the WAL. */
  onCommit(listener: CommitListener): () => void {
    this.listeners.push(listener);
    return () => {
      this.listeners = this.listeners.filter((l) => l !== listener);
    };
  }

  /** The first LSN the WAL still holds: rows before it are only in snapshots. */
  walOldestLsn(): number {
    return this.wal.oldestLsn();
  }

  /** Committed WAL records with rows after `afterLsn` (see Wal.readCommitted). */
  readCommitted(afterLsn: number, rowsMax: number): WalBatch[] {
    return this.wal.readCommitted(afterLsn, rowsMax);
  }

  /**
   * A replica applies a master's transaction (its rows, in order) as one local transaction.
   * Inserts apply as replaces and deletes of absent keys do nothing: rows log effects, so a row
   * applied over a copy that already has it (a replica's initial copy is taken while the master
   * writes) converges on the master's state.
   */
  applyRows(rows: readonly WalRow[]): Promise<void> {
    if (this.activeTxn !== null) return Promise.reject(boxErrors.activeTransaction());
    const txn = new Txn(this.nextTxnId++);
    try {
      this.runStatement(txn, () => {
        for (const row of rows) this.applyRow(txn, row);
      });
    } catch (error) {
      return Promise.reject(error);
    }
    if (txn.changes.length === 0) return Promise.resolve();
    return this.wal.submit(txn, undefined);
  }

  // --- spaces --------------------------------------------------------------------------------

  space(ref: number | string): BoxSpace {
    const space = this.schema.space(ref);
    return new BoxSpace(this, space.id);
  }

  hasSpace(ref: number | string): boolean {
    return this.schema.find(ref) !== undefined;
  }

  /** The live space object (internal: handles resolve it on every call). */
  spaceObject(ref: number | string): Space {
    return this.schema.space(ref);
  }

  async createSpace(name: string, options: CreateSpaceOptions = {}): Promise<BoxSpace> {
    return this.createSpaceAs(name, options, 'client');
  }

  /**
   * createSpace for a replica's applier: a read-only replica creates the spaces its master's
   * rows need (core/replication/applier.ts), which no client of it may do.
   */
  createSpaceAsReplica(name: string, options: CreateSpaceOptions = {}): Promise<BoxSpace> {
    return this.createSpaceAs(name, options, 'replica');
  }

  private async createSpaceAs(name: string, options: CreateSpaceOptions, writer: 'client' | 'replica'): Promise<BoxSpace> {
    const existing = this.schema.find(name);
    if (existing !== undefined) {
      if (options.ifNotExists === true) return new BoxSpace(this, existing.id);
      throw boxErrors.spaceExists(name);
    }
    const engine = options.engine ?? 'memtx';
    if (engine !== 'memtx' && engine !== 'vinyl') throw boxErrors.noSuchEngine(String(engine));
    const id = options.id ?? this.nextSpaceId();
    if (options.id !== undefined && options.id < USER_SPACE_ID_MIN) throw boxErrors.createSpace(name, 'space id is reserved');
    const flags: MpObject = {};
    if (options.isSync === true) flags[IS_SYNC_FLAG] = true;
    if (engine === 'vinyl') flags[VINYL_STORE_FLAG] = await this.openVinylStore(id);
    const format = parseFormat((options.format ?? []) as MpValue, name);
    const def: SpaceDef = { id, owner: options.owner ?? ADMIN_USER_ID, name, engine, fieldCount: options.fieldCount ?? 0, flags, format };
    const insert = (txn: Txn): void => void this.schema.space(SystemSpaceId._space).insert(txn, spaceDefToTuple(def));
    await (writer === 'client' ? this.write(insert) : this.transaction(() => insert(this.activeTxn!)));
    return new BoxSpace(this, id);
  }

  private nextSpaceId(): number {
    let id = USER_SPACE_ID_MIN;
    for (const spaceId of this.schema.spaces.keys()) if (spaceId >= id) id = spaceId + 1;
    return id;
  }

  private async openVinylStore(spaceId: number): Promise<string> {
    const name = `${VINYL_STORE_PREFIX}${spaceId}.${++this.vinylStoreGeneration}`;
    const store = await this.disk.open(name);
    this.vinylStores.set(name, new VinylSpaceStore(store, this.vinylCache));
    return name;
  }

  async createIndex(spaceRef: number | string, name: string, options: CreateIndexOptions = {}): Promise<IndexDef> {
    const space = this.schema.space(spaceRef);
    const existing = space.findIndex(name);
    if (existing !== undefined) {
      if (options.ifNotExists === true) return existing.def;
      throw boxErrors.indexExists(name);
    }
    const id = options.id ?? (space.indexes.length === 0 ? 0 : Math.max(...space.indexes.map((i) => i.def.id)) + 1);
    const rawParts = (options.parts ?? [[0, 'unsigned']]) as MpValue;
    const parts = parseParts(rawParts, space.def.format);
    const def: IndexDef = { spaceId: space.id, id, name, type: options.type ?? 'TREE', unique: options.unique ?? true, parts, keyDef: makeKeyDef(parts), opts: {} };
    const sequence = options.sequence;
    await this.transaction(() => {
      const txn = this.activeTxn!;
      this.schema.space(SystemSpaceId._index).insert(txn, indexDefToTuple(def));
      if (sequence !== undefined && sequence !== false) {
        if (id !== 0) throw boxErrors.modifyIndex(name, space.name, 'sequence cannot be used with a secondary key');
        const seqName = typeof sequence === 'string' ? sequence : `${space.name}_seq`;
        const seqId = this.createSequenceIn(txn, seqName, {});
        this.schema.space(SystemSpaceId._space_sequence).insert(txn, [space.id, seqId, sequence === true]);
      }
    });
    return def;
  }

  async dropIndex(spaceRef: number | string, indexRef: number | string): Promise<void> {
    const space = this.schema.space(spaceRef);
    const index = space.index(indexRef);
    await this.transaction(() => {
      const txn = this.activeTxn!;
      if (index.def.id === 0 && space.sequenceId !== null) this.schema.space(SystemSpaceId._space_sequence).delete(txn, [space.id]);
      this.schema.space(SystemSpaceId._index).delete(txn, [space.id, index.def.id]);
    });
  }

  async dropSpace(spaceRef: number | string): Promise<void> {
    const space = this.schema.space(spaceRef);
    await this.transaction(() => {
      const txn = this.activeTxn!;
      if (space.sequenceId !== null) this.schema.space(SystemSpaceId._space_sequence).delete(txn, [space.id]);
      for (const index of [...space.indexes].reverse()) this.schema.space(SystemSpaceId._index).delete(txn, [space.id, index.def.id]);
      this.schema.space(SystemSpaceId._space).delete(txn, [space.id]);
    });
  }

  /** Renames a space and/or replaces its format (existing tuples must fit the new format). */
  async alterSpace(spaceRef: number | string, change: { name?: string; format?: CreateSpaceOptions['format'] }): Promise<void> {
    const space = this.schema.space(spaceRef);
    const format = change.format === undefined ? space.def.format : parseFormat(change.format as MpValue, space.name);
    const def: SpaceDef = { ...space.def, name: change.name ?? space.def.name, format };
    await this.write((txn) => this.schema.space(SystemSpaceId._space).replace(txn, spaceDefToTuple(def)));
  }

  // --- sequences and users -------------------------------------------------------------------

  private createSequenceIn(txn: Txn, name: string, opts: { start?: number; step?: number; min?: number; max?: number; cycle?: boolean }): number {
    const sequences = this.schema.space(SystemSpaceId._sequence);
    if (sequences.select([name], { index: 'name' }).length > 0) throw boxErrors.sequenceExists(name);
    const last = sequences.select([], { iterator: 'LE', limit: 1 })[0];
    const id = last === undefined ? 1 : (last[0] as number) + 1;
    const step = opts.step ?? 1;
    const min = opts.min ?? (step > 0 ? 1 : Number.MIN_SAFE_INTEGER);
    const max = opts.max ?? (step > 0 ? Number.MAX_SAFE_INTEGER : -1);
    const start = opts.start ?? (step > 0 ? min : max);
    sequences.insert(txn, [id, ADMIN_USER_ID, name, step, min, max, start, 0, opts.cycle ?? false]);
    return id;
  }

  async createSequence(name: string, opts: { start?: number; step?: number; min?: number; max?: number; cycle?: boolean } = {}): Promise<number> {
    return this.write((txn) => this.createSequenceIn(txn, name, opts));
  }

  async sequenceNextByName(name: string): Promise<number | bigint> {
    const row = this.schema.space(SystemSpaceId._sequence).select([name], { index: 'name' })[0];
    if (row === undefined) throw boxErrors.noSuchSequence(name);
    return this.write((txn) => this.sequenceNext(txn, row[0] as number));
  }

  async createUser(name: string, options: { password?: string; ifNotExists?: boolean } = {}): Promise<number> {
    const users = this.schema.space(SystemSpaceId._user);
    const existing = users.select([name], { index: 'name' })[0];
    if (existing !== undefined) {
      if (options.ifNotExists === true) return existing[0] as number;
      throw boxErrors.userExists(name);
    }
    const last = users.select([], { iterator: 'LE', limit: 1 })[0];
    const id = Math.max(32, ((last?.[0] as number | undefined) ?? 0) + 1);
    const auth: MpObject = options.password === undefined ? {} : { 'chap-sha1': chapSha1Hash(options.password) };
    await this.write((txn) => users.insert(txn, [id, ADMIN_USER_ID, name, 'user', auth]));
    return id;
  }

  async passwd(name: string, password: string): Promise<void> {
    const users = this.schema.space(SystemSpaceId._user);
    const user = users.select([name], { index: 'name' })[0];
    if (user === undefined) throw boxErrors.noSuchUser(name);
    await this.write((txn) => users.replace(txn, [user[0], user[1], user[2], user[3], { 'chap-sha1': chapSha1Hash(password) }]));
  }

  /** The `_user` tuple of a user, for authentication. */
  userByName(name: string): Tuple | null {
    return this.schema.space(SystemSpaceId._user).select([name], { index: 'name' })[0] ?? null;
  }

  // --- checkpoints ---------------------------------------------------------------------------

  /**
   * Writes a snapshot of every memtx space at the current LSN, dumps vinyl, drops snapshots
   * beyond `checkpointCount` and trims the WAL they cover. Returns the snapshot's LSN.
   */
  async checkpoint(): Promise<number> {
    if (this.checkpointRunning) throw boxErrors.checkpointInProgress();
    this.checkpointRunning = true;
    try {
      return await this.runCheckpoint();
    } finally {
      this.checkpointRunning = false;
    }
  }

  private async runCheckpoint(): Promise<number> {
    if (this.activeTxn !== null) this.abortActive('checkpoint');
    const lsn = this.wal.nextLsn - 1;
    this.rowsSinceCheckpoint = 0;
    if (snapshotFinished(this.snapStore, lsn)) {
      // Nothing was written since that checkpoint (Tarantool's box.snapshot() skips it too).
      this.log.info('checkpoint: nothing changed since the last snapshot', { lsn });
    } else {
      await this.writeCheckpoint(lsn);
    }
    for (const store of this.vinylStores.values()) {
      if (this.wal.pendingCount === 0 && store.memBytes() > 0) await this.dumpVinyl(store);
    }
    await this.pruneSnapshots();
    this.log.info('checkpoint done', { lsn });
    return lsn;
  }

  private async writeCheckpoint(lsn: number): Promise<void> {
    // Tuples are immutable: copying the references is a consistent image at `lsn`.
    const images: SpaceImage[] = [];
    for (const space of this.schema.allSpaces()) {
      if (space.isView || space.engine !== 'memtx' || space.indexes.length === 0) continue;
      images.push({ spaceId: space.id, tuples: space.select([], { iterator: 'ALL' }) });
    }
    await this.wal.waitCommitted(lsn);
    // Between chunks the clock lets requests in: tuples are immutable, so the image stays the
    // one at `lsn` while later transactions commit.
    const clock = this.options.clock;
    const pause = clock === undefined ? undefined : () => clock.sleep(0);
    if (lsn > 0 || images.length > 0) await writeSnapshot(this.snapStore, lsn, images, pause);
  }

  private async pruneSnapshots(): Promise<void> {
    const keep = Math.max(1, this.options.checkpointCount ?? DEFAULT_CHECKPOINT_COUNT);
    const lsns = snapshotLsns(this.snapStore);
    for (const old of lsns.slice(keep)) await deleteSnapshot(this.snapStore, old);
    const kept = lsns.slice(0, keep);
    let trimTo = kept[kept.length - 1] ?? 0;
    for (const space of this.schema.spaces.values()) {
      if (space.engine === 'vinyl') trimTo = Math.min(trimTo, this.vinylSpaceStore(space.def).dumpedLsn);
    }
    await this.wal.trim(trimTo);
  }

  /** Waits for every submitted transaction to settle. */
  async drain(): Promise<void> {
    await this.wal.idle();
  }

  /** Formats for `_vspace` consumers (exported for the iproto layer's convenience). */
  static formatValue(def: SpaceDef): MpValue[] {
    return formatToValue(def.format);
  }
}
