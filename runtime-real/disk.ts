/**
 * The real Disk: one LMDB environment per data directory, one named database per store, binary
 * keys and values, with the simulated disk's semantics (core/env/disk.ts):
 * - a batch is one synchronous LMDB transaction on an env opened with `noSync`: atomic, visible
 *   when `write` returns, and in the OS once committed (survives a process crash) = `write`;
 *   `none` cannot be weaker than that here;
 * - `fsync` adds mdb_env_sync. Syncs are grouped: one in flight; requests arriving meanwhile
 *   share the next one (it must start after their batches, so the current one cannot cover them).
 * A catalog database lists the stores, so `list()` does not depend on LMDB internals.
 *
 * Stores named in `appendLogStores` (the box's WAL) are append-only logs of files instead
 * (runtime-real/append-log.ts, directory `log-<name>` next to LMDB's files): one write per commit
 * instead of LMDB's page rewrites. A data directory whose such store still lives in LMDB (written
 * before) has it moved into the log the first time it is opened.
 */

import { open, type Database, type RootDatabase } from 'lmdb';
import { join } from 'node:path';
import { DiskError, type Disk, type Durability, type Op, type RangeOptions, type Store } from '../core/env/disk.ts';
import { AppendLogStore } from './append-log.ts';
import { GroupedSync } from './grouped-sync.ts';

export interface LmdbDiskOptions {
  /** Stores kept as append-only logs: written only by appending keys in increasing order. */
  readonly appendLogStores?: readonly string[];
}

const CATALOG = '__stores';
/** Named databases per environment (LMDB needs the bound up front). */
export const LMDB_STORES_MAX = 4096;

type Bytes = Uint8Array;

function diskError(error: unknown, what: string): DiskError {
  const text = error instanceof Error ? error.message : String(error);
  const code = /MDB_MAP_FULL|ENOSPC|No space/i.test(text) ? 'ENOSPC' : 'EIO';
  return new DiskError(code, `${what}: ${text}`);
}

export class LmdbDisk implements Disk {
  private readonly root: RootDatabase;
  private readonly catalog: Database<string, string>;
  private readonly databases = new Map<string, Database<Bytes, Bytes>>();
  private closed = false;
  private readonly syncs = new GroupedSync(() => this.runSync());
  private readonly path: string;
  private readonly appendLogNames: ReadonlySet<string>;
  private readonly appendLogs = new Map<string, AppendLogStore>();

  private constructor(path: string, options: LmdbDiskOptions) {
    this.path = path;
    this.appendLogNames = new Set(options.appendLogStores ?? []);
    this.root = open({ path, noSync: true, maxDbs: LMDB_STORES_MAX, compression: false });
    this.catalog = this.root.openDB<string, string>({ name: CATALOG, encoding: 'string' });
  }

  /** Opens (creating if missing) the environment in directory `path`. */
  static open(path: string, options: LmdbDiskOptions = {}): LmdbDisk {
    return new LmdbDisk(path, options);
  }

  checkOpen(): void {
    if (this.closed) throw new DiskError('ECLOSED', 'the disk is closed');
  }

  database(name: string): Database<Bytes, Bytes> {
    let db = this.databases.get(name);
    if (db === undefined) {
      db = this.root.openDB<Bytes, Bytes>({ name: `s:${name}`, keyEncoding: 'binary', encoding: 'binary' });
      this.databases.set(name, db);
    }
    return db;
  }

  async open(name: string): Promise<Store> {
    this.checkOpen();
    if (name === CATALOG) throw new DiskError('EIO', `reserved store name ${name}`);
    const db = this.database(name);
    if (this.catalog.get(name) === undefined) this.root.transactionSync(() => this.catalog.put(name, ''));
    if (this.appendLogNames.has(name)) return this.openAppendLog(name, db);
    return new LmdbStore(this, name, db);
  }

  private async openAppendLog(name: string, db: Database<Bytes, Bytes>): Promise<Store> {
    let log = this.appendLogs.get(name);
    if (log !== undefined) return log;
    log = AppendLogStore.open(name, this.appendLogDir(name));
    this.appendLogs.set(name, log);
    await this.moveIntoLog(log, db);
    return log;
  }

  /**
   * Moves what an older version kept of this store in LMDB into its log: appended (keys the log
   * holds already are from an interrupted earlier move), made durable, then cleared from LMDB.
   */
  private async moveIntoLog(log: AppendLogStore, db: Database<Bytes, Bytes>): Promise<void> {
    const last = log.lastKey();
    const ops: Op[] = [];
    for (const { key, value } of db.getRange({})) {
      if (last === undefined || Buffer.compare(key, last) > 0) ops.push({ kind: 'put', key: Uint8Array.from(key), value: Uint8Array.from(value) });
    }
    if (ops.length > 0) await log.write(ops, 'fsync');
    if (db.getKeysCount() > 0) this.root.transactionSync(() => void db.clearSync());
  }

  private appendLogDir(name: string): string {
    return join(this.path, `log-${name}`);
  }

  async list(): Promise<string[]> {
    this.checkOpen();
    return [...this.catalog.getKeys()].map(String).sort();
  }

  async destroy(name: string): Promise<void> {
    this.checkOpen();
    if (this.appendLogNames.has(name)) {
      await this.appendLogs.get(name)?.close();
      this.appendLogs.delete(name);
      AppendLogStore.destroy(this.appendLogDir(name));
    }
    const db = this.database(name);
    this.root.transactionSync(() => {
      db.clearSync();
      this.catalog.remove(name);
    });
    this.databases.delete(name);
  }

  /** Applies a batch as one synchronous transaction. */
  commit(db: Database<Bytes, Bytes>, ops: readonly Op[], storeName: string): void {
    this.checkOpen();
    try {
      this.root.transactionSync(() => {
        for (const op of ops) {
          if (op.kind === 'put') void db.put(op.key, op.value);
          else if (op.kind === 'delete') void db.remove(op.key);
          else removeRange(db, op.from, op.to);
        }
      });
    } catch (error) {
      throw diskError(error, `write to store ${storeName}`);
    }
  }

  /** mdb_env_sync, grouped: covers every batch committed before the call. */
  fsync(): Promise<void> {
    this.checkOpen();
    return this.syncs.request();
  }

  private runSync(): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      // mdb_env_sync: exposed by lmdb-js at runtime, missing from its typings.
      const root = this.root as unknown as { sync(callback: (error?: unknown) => void): void };
      root.sync((error?: unknown) => (error ? reject(diskError(error, 'fsync')) : resolve()));
    });
  }

  async close(): Promise<void> {
    if (this.closed) return;
    await this.fsync().catch(() => undefined);
    for (const log of this.appendLogs.values()) await log.close();
    this.closed = true;
    await this.root.close();
  }
}

/** Removes the keys k with from <= k < to, inside the caller's write transaction. */
function removeRange(db: Database<Bytes, Bytes>, from: Uint8Array, to: Uint8Array): void {
  if (Buffer.compare(from, to) >= 0) return;
  // Collected first: the range is read from the transaction that the removals change.
  const keys = [...db.getKeys({ start: from, end: to })];
  for (const key of keys) void db.remove(key);
}

class LmdbStore implements Store {
  readonly name: string;
  private readonly disk: LmdbDisk;
  private readonly db: Database<Bytes, Bytes>;

  constructor(disk: LmdbDisk, name: string, db: Database<Bytes, Bytes>) {
    this.disk = disk;
    this.name = name;
    this.db = db;
  }

  get(key: Uint8Array): Uint8Array | undefined {
    this.disk.checkOpen();
    try {
      return this.db.get(key) ?? undefined;
    } catch (error) {
      throw diskError(error, `read from store ${this.name}`);
    }
  }

  *range(options: RangeOptions = {}): Iterable<[Uint8Array, Uint8Array]> {
    this.disk.checkOpen();
    const limit = options.limit ?? Number.POSITIVE_INFINITY;
    if (limit <= 0) return;
    if (!options.reverse) {
      const range = this.db.getRange({
        ...(options.from !== undefined ? { start: options.from } : {}),
        ...(options.to !== undefined ? { end: options.to } : {}),
        ...(Number.isFinite(limit) ? { limit } : {}),
      });
      for (const { key, value } of range) yield [key, value];
      return;
    }
    yield* this.reverseRange(options.from, options.to, limit);
  }

  /** LMDB's reverse ranges include `start` (the upper end): ours exclude `to` and include `from`. */
  private *reverseRange(from: Bytes | undefined, to: Bytes | undefined, limit: number): Iterable<[Bytes, Bytes]> {
    let n = 0;
    const range = this.db.getRange({
      reverse: true,
      ...(to !== undefined ? { start: to } : {}),
      ...(from !== undefined ? { end: from } : {}),
    });
    for (const { key, value } of range) {
      if (to !== undefined && Buffer.compare(key, to) === 0) continue;
      if (n++ >= limit) return;
      yield [key, value];
    }
    if (from === undefined || n >= limit) return;
    const first = this.db.get(from);
    if (first !== undefined) yield [from, first];
  }

  write(ops: readonly Op[], durability: Durability): Promise<void> {
    try {
      this.disk.commit(this.db, ops, this.name);
    } catch (error) {
      return Promise.reject(error);
    }
    if (durability !== 'fsync') return Promise.resolve();
    return this.disk.fsync();
  }

  sync(): Promise<void> {
    return this.disk.fsync();
  }
}
