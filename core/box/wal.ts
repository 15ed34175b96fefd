/**
 * The WAL writer: transactions go to the `wal` Store in commit order, grouped.
 *
 * Group commit without timers: a submit schedules a flush on the microtask queue, so every
 * transaction committed in the same synchronous run shares a write; while a write is in flight,
 * later commits accumulate and go out together in the next `Store.write` as soon as it ends.
 * One write is in flight at a time, which keeps records in LSN order.
 *
 * A failed write fails its batch and every transaction queued after it (their changes sit on top
 * of the failed ones in memory): the box undoes them newest first and rejects their promises
 * with ER_WAL_IO, as Tarantool's cascading rollback does. The failed record is then deleted from
 * the store so that the LSNs can be reused; if even that fails the WAL is broken and refuses
 * every later commit until restart (the record may or may not survive a crash: the outcome of a
 * rejected commit is unknown, the outcome of an acknowledged one never is).
 *
 * `stats` counts what reached the store (records, transactions, rows, bytes, syncs, failures)
 * and how long each write took to reach the mode's durability, timed with the env Clock when the
 * box has one. They are plain numbers bumped in the write path; /metrics only reads them.
 */

import { assert } from '../lib/assert.ts';
import { Histogram } from '../lib/histogram.ts';
import type { Clock } from '../env/clock.ts';
import type { Durability, Store } from '../env/disk.ts';
import type { Log } from '../env/log.ts';
import { boxErrors, type BoxError } from './errors.ts';
import { u64Key } from './record-codec.ts';
import type { Txn } from './txn.ts';
import { decodeWalBatch, encodeWalBatch, type WalBatch } from './wal-record.ts';
import { probe } from '../lib/probe.ts';

export const WAL_MODES = ['none', 'write', 'fsync'] as const;
export type WalMode = (typeof WAL_MODES)[number];

/** One WAL record holds at most this many transactions: bounds record size and latency. */
export const WAL_BATCH_TXNS_MAX = 4096;
/** A batch stops growing past this many rows (a single larger transaction still goes alone). */
export const WAL_BATCH_ROWS_MAX = 65_536;

/**
 * Upper bounds of the write duration buckets, in ms (the last, +Inf, is implicit): 100 µs (a
 * write the OS buffers) to 10 s (a stalled disk).
 */
export const WAL_WRITE_DURATION_BUCKETS_MS: readonly number[] = [
  0.1, 0.25, 0.5, 1, 2.5, 5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10_000,
];

/** What the WAL writer did since the box opened. Counters only grow. */
export class WalStats {
  /** Records (group commits) that reached the WAL mode's durability. */
  batchesWritten = 0;
  /** Transactions in those records. */
  transactionsWritten = 0;
  /** Rows (LSNs) in those records. */
  rowsWritten = 0;
  /** Key and value bytes of those records as handed to the store (its own framing not counted). */
  bytesWritten = 0;
  /** Of those records, the ones written with durability `fsync` (each waited for an fsync). */
  syncs = 0;
  /** Store writes that failed: a record (its batch and every later one rolled back) or its cleanup. */
  writeErrors = 0;
  /** How long each record took from `Store.write` to its durability, in ms (none when the box has no clock). */
  readonly writeDurationMs = new Histogram(WAL_WRITE_DURATION_BUCKETS_MS);
}

export interface WalCallbacks {
  /** The transaction reached the WAL mode's durability. Called in LSN order. */
  committed(txn: Txn): void;
  /** These transactions failed (oldest first); undo them newest first. */
  failed(txns: readonly Txn[], error: BoxError): void;
}

/** A WAL record's LSN span, kept to trim records a checkpoint covers. */
export interface WalSpan {
  readonly firstLsn: number;
  readonly lastLsn: number;
}

/** A submitted transaction and how to settle its promise (with `value` once durable). */
interface Pending {
  readonly txn: Txn;
  readonly value: unknown;
  readonly resolve: (value: unknown) => void;
  readonly reject: (error: BoxError) => void;
}

// A promise's settle functions, caught by an executor that allocates no closure per promise:
// the executor runs synchronously inside `new Promise`, and the caller reads them right after.
type Executor<T> = (resolve: (value: T) => void, reject: (error: BoxError) => void) => void;
let caughtResolve: ((value: unknown) => void) | null = null;
let caughtReject: ((error: BoxError) => void) | null = null;
function catchSettlers(resolve: (value: unknown) => void, reject: (error: BoxError) => void): void {
  caughtResolve = resolve;
  caughtReject = reject;
}

export class Wal {
  readonly mode: WalMode;
  private readonly store: Store | null;
  private readonly log: Log;
  private readonly callbacks: WalCallbacks;
  /** Times writes for `stats`; null = writes are not timed. */
  private readonly clock: Clock | null;
  readonly stats = new WalStats();
  /** The LSN the next row gets. */
  nextLsn: number;
  /** Highest LSN known durable at the WAL mode's level. */
  committedLsn: number;
  private queue: Pending[] = [];
  private inFlight: Pending[] | null = null;
  /** Clock reading when the in-flight record went to the store, and its key and value bytes. */
  private inFlightStartMs = 0;
  private inFlightBytes = 0;
  private flushScheduled = false;
  private cleaning = false;
  private broken = false;
  /** Records in the store, oldest first. */
  readonly spans: WalSpan[] = [];
  private idleWaiters: Array<() => void> = [];
  private lsnWaiters: Array<{ lsn: number; resolve: () => void; reject: (e: BoxError) => void }> = [];

  constructor(store: Store | null, mode: WalMode, log: Log, nextLsn: number, callbacks: WalCallbacks, clock: Clock | null = null) {
    assert(mode === 'none' || store !== null, 'a WAL mode other than none needs a store');
    assert(Number.isSafeInteger(nextLsn) && nextLsn >= 1, 'next LSN');
    this.store = store;
    this.mode = mode;
    this.log = log;
    this.nextLsn = nextLsn;
    this.committedLsn = nextLsn - 1;
    this.callbacks = callbacks;
    this.clock = clock;
  }

  get durability(): Durability {
    return this.mode;
  }

  /** Transactions submitted and not yet settled. */
  get pendingCount(): number {
    return this.queue.length + (this.inFlight?.length ?? 0);
  }

  /** Rows submitted and not yet durable (LSNs are contiguous, so no separate count is kept). */
  get pendingRows(): number {
    const rows = this.nextLsn - 1 - this.committedLsn;
    assert(rows >= 0, 'committed LSN past the last assigned one');
    return rows;
  }

  /**
   * Assigns LSNs and queues the transaction; resolves with `value` once durable (so a statement's
   * result needs no extra promise), rejects with ER_WAL_IO.
   */
  submit<T>(txn: Txn, value: T): Promise<T> {
    assert(txn.state === 'open' && txn.changes.length > 0, 'submit of an empty or closed transaction');
    txn.firstLsn = this.nextLsn;
    this.nextLsn += txn.changes.length;
    txn.state = 'submitted';
    if (this.broken) {
      this.nextLsn = txn.firstLsn;
      const error = boxErrors.walIo();
      this.callbacks.failed([txn], error);
      return Promise.reject(error);
    }
    if (this.mode === 'none') {
      this.committedLsn = txn.firstLsn + txn.changes.length - 1;
      this.callbacks.committed(txn);
      this.settleLsnWaiters();
      return Promise.resolve(value);
    }
    const promise = new Promise<T>(catchSettlers as Executor<T>);
    const resolve = caughtResolve!;
    const reject = caughtReject!;
    caughtResolve = null;
    caughtReject = null;
    this.queue.push({ txn, value, resolve, reject });
    this.scheduleFlush();
    return promise;
  }

  /** Resolves when nothing is queued or in flight. */
  idle(): Promise<void> {
    if (this.pendingCount === 0 && !this.cleaning) return Promise.resolve();
    return new Promise<void>((resolve) => this.idleWaiters.push(resolve));
  }

  /** Resolves once every row up to `lsn` is durable; rejects if a failed write rolled it back. */
  waitCommitted(lsn: number): Promise<void> {
    if (this.committedLsn >= lsn) return Promise.resolve();
    if (this.nextLsn <= lsn) return Promise.reject(boxErrors.walIo());
    return new Promise<void>((resolve, reject) => this.lsnWaiters.push({ lsn, resolve, reject }));
  }

  private settleLsnWaiters(): void {
    if (this.lsnWaiters.length === 0) return;
    const keep = [];
    for (const w of this.lsnWaiters) {
      if (this.committedLsn >= w.lsn) w.resolve();
      else if (this.nextLsn <= w.lsn) w.reject(boxErrors.walIo());
      else keep.push(w);
    }
    this.lsnWaiters = keep;
  }

  private scheduleFlush(): void {
    if (this.flushScheduled) return;
    this.flushScheduled = true;
    void Promise.resolve().then(() => {
      this.flushScheduled = false;
      this.flush();
    });
  }

  private flush(): void {
    if (this.inFlight !== null || this.cleaning || this.queue.length === 0) return this.notifyIdle();
    const batch = this.takeBatch();
    this.inFlight = batch;
    const txns = batch.map((p) => p.txn);
    const firstLsn = txns[0]!.firstLsn;
    const last = txns[txns.length - 1]!;
    const lastLsn = last.firstLsn + last.changes.length - 1;
    const record = encodeWalBatch(txns);
    const key = u64Key(firstLsn);
    const store = this.store!;
    this.inFlightBytes = key.length + record.length;
    if (this.clock !== null) this.inFlightStartMs = this.clock.nowMs();
    let written: Promise<void>;
    try {
      written = store.write([{ kind: 'put', key, value: record }], this.mode);
    } catch (error) {
      written = Promise.reject(error);
    }
    written.then(
      () => this.written(batch, { firstLsn, lastLsn }),
      (error: unknown) => this.writeFailed(batch, firstLsn, error),
    );
  }

  private takeBatch(): Pending[] {
    let rows = 0;
    let n = 0;
    while (n < this.queue.length && n < WAL_BATCH_TXNS_MAX) {
      const size = this.queue[n]!.txn.changes.length;
      if (n > 0 && rows + size > WAL_BATCH_ROWS_MAX) break;
      rows += size;
      n++;
    }
    return this.queue.splice(0, n);
  }

  private written(batch: Pending[], span: WalSpan): void {
    assert(this.inFlight === batch, 'WAL completion out of order');
    this.inFlight = null;
    this.spans.push(span);
    this.committedLsn = span.lastLsn;
    this.countWritten(batch.length, span);
    for (const p of batch) {
      this.callbacks.committed(p.txn);
      p.resolve(p.value);
    }
    this.settleLsnWaiters();
    this.flush();
  }

  private countWritten(transactions: number, span: WalSpan): void {
    const stats = this.stats;
    stats.batchesWritten++;
    stats.transactionsWritten += transactions;
    stats.rowsWritten += span.lastLsn - span.firstLsn + 1;
    stats.bytesWritten += this.inFlightBytes;
    if (this.mode === 'fsync') stats.syncs++;
    // A simulated clock with drift still never goes back; the max only guards rounding.
    if (this.clock !== null) stats.writeDurationMs.record(Math.max(0, this.clock.nowMs() - this.inFlightStartMs));
  }

  private writeFailed(batch: Pending[], firstLsn: number, cause: unknown): void {
    assert(this.inFlight === batch, 'WAL failure out of order');
    this.inFlight = null;
    this.stats.writeErrors++;
    const failed = [...batch, ...this.queue];
    this.queue = [];
    this.nextLsn = firstLsn;
    this.log.error('WAL write failed, rolling back', {
      firstLsn,
      transactions: failed.length,
      cause: String(cause),
    });
    const error = boxErrors.walIo();
    probe('wal.write_failed');
    this.callbacks.failed(
      failed.map((p) => p.txn),
      error,
    );
    for (const p of failed) p.reject(error);
    this.settleLsnWaiters();
    this.cleanUp(firstLsn);
  }

  /** Deletes the failed record so its LSNs can be reused; a failure here breaks the WAL. */
  private cleanUp(firstLsn: number): void {
    this.cleaning = true;
    let deleted: Promise<void>;
    try {
      deleted = this.store!.write([{ kind: 'delete', key: u64Key(firstLsn) }], this.mode);
    } catch (error) {
      deleted = Promise.reject(error);
    }
    deleted.then(
      () => {
        this.cleaning = false;
        this.flush();
      },
      (error: unknown) => {
        this.cleaning = false;
        this.broken = true;
        probe('wal.broken');
        this.stats.writeErrors++;
        this.log.error('WAL cleanup after a failed write failed; refusing writes until restart', {
          firstLsn,
          cause: String(error),
        });
        // What was queued behind the failed record took the LSNs from firstLsn on: they go with
        // it, or waiters for those LSNs (a checkpoint) would wait for a WAL that writes no more.
        const pending = this.queue;
        this.queue = [];
        this.nextLsn = firstLsn;
        if (pending.length > 0) {
          const walError = boxErrors.walIo();
          this.callbacks.failed(pending.map((p) => p.txn), walError);
          for (const p of pending) p.reject(walError);
        }
        this.settleLsnWaiters();
        this.notifyIdle();
      },
    );
  }

  private notifyIdle(): void {
    if (this.pendingCount > 0 || this.cleaning) return;
    const waiters = this.idleWaiters;
    this.idleWaiters = [];
    for (const w of waiters) w();
  }

  get isBroken(): boolean {
    return this.broken;
  }

  /** The first LSN the store still holds; rows before it are only in snapshots. */
  oldestLsn(): number {
    return this.spans[0]?.firstLsn ?? this.committedLsn + 1;
  }

  /**
   * Committed records holding rows after `afterLsn`, oldest first, whole records (the first one
   * may start before `afterLsn`: its earlier rows are the caller's to skip), until at least
   * `rowsMax` rows are out. For a replication relay; needs a WAL mode other than none.
   */
  readCommitted(afterLsn: number, rowsMax: number): WalBatch[] {
    assert(this.store !== null, 'reading a WAL kept in no store');
    const out: WalBatch[] = [];
    let rows = 0;
    let i = this.spanIndexAfter(afterLsn);
    for (; i < this.spans.length && rows < rowsMax; i++) {
      const span = this.spans[i]!;
      if (span.lastLsn > this.committedLsn) break;
      const bytes = this.store.get(u64Key(span.firstLsn));
      const batch = bytes === undefined ? null : decodeWalBatch(bytes);
      // The store checksums every record it wrote; a record it lost or rotted while running is a
      // damaged disk, which the relay reports rather than skip rows of.
      if (batch === null) throw boxErrors.invalidXlog(`WAL record at LSN ${span.firstLsn} cannot be read for replication`);
      out.push(batch);
      rows += batch.rows.length;
    }
    return out;
  }

  /** Index of the first span with rows after `lsn` (binary search: spans are in LSN order). */
  private spanIndexAfter(lsn: number): number {
    let lo = 0;
    let hi = this.spans.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (this.spans[mid]!.lastLsn <= lsn) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }

  /**
   * Deletes records wholly at or below `lsn` (a checkpoint covers them), as one range delete:
   * records are keyed by their first LSN, so they are the keys up to the last covered record's.
   */
  async trim(lsn: number): Promise<number> {
    if (this.store === null) return 0;
    let n = 0;
    while (n < this.spans.length && this.spans[n]!.lastLsn <= lsn) n++;
    if (n === 0) return 0;
    const to = u64Key(this.spans[n - 1]!.firstLsn + 1);
    await this.store.write([{ kind: 'deleteRange', from: u64Key(0), to }], this.mode === 'none' ? 'write' : this.mode);
    this.spans.splice(0, n);
    return n;
  }
}
