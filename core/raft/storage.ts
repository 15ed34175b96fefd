/**
 * Log storage: the durable part of the Raft log as the core sees it, plus `MemoryStorage`, an
 * in-memory implementation (etcd's MemoryStorage) used by tests, the simulator and as the cache a
 * disk-backed driver keeps in front of its store.
 *
 * The core only reads storage synchronously. The driver writes to it while handling a Ready
 * (`append`, `setHardState`, `applySnapshot`), and compacts it through `RawNode.compact`.
 */
import { assert } from '../lib/assert.ts';
import { type StorageResult, storageError, storageOk } from './errors.ts';
import {
  type ConfState,
  EMPTY_HARD_STATE,
  EMPTY_SNAPSHOT,
  type Entry,
  type HardState,
  type LogIndex,
  type Snapshot,
  type Term,
  asLogIndex,
  entrySizeBytes,
} from './types.ts';

export interface InitialState {
  readonly hardState: HardState;
  readonly confState: ConfState;
}

/** What the core needs from stable storage. Implementations must answer from durable state. */
export interface LogStorage {
  /** Hard state and membership as of the last durable write (used only when a node starts). */
  initialState(): InitialState;
  /**
   * Entries in [lo, hi), truncated so their total `entrySizeBytes` stays within `maxSizeBytes`,
   * but never to fewer than one entry.
   */
  entries(lo: LogIndex, hi: LogIndex, maxSizeBytes: number): StorageResult<Entry[]>;
  /** Term of entry `index`; valid for firstIndex()-1 (the snapshot's term) up to lastIndex(). */
  term(index: LogIndex): StorageResult<Term>;
  /** Index of the first entry still available (older ones were compacted into a snapshot). */
  firstIndex(): LogIndex;
  lastIndex(): LogIndex;
  /**
   * The most recent snapshot; `snapshot_temporarily_unavailable` while one is being built, or when
   * `minIndex` is given (a follower asked for a fresh snapshot) and the latest is older than it.
   */
  snapshot(minIndex?: LogIndex): StorageResult<Snapshot>;
  /**
   * Records a snapshot of the state machine at `index` (which must be applied) with the given
   * membership and application data. Older snapshots are rejected with `snapshot_out_of_date`.
   */
  createSnapshot(index: LogIndex, confState: ConfState, data: Uint8Array): StorageResult<Snapshot>;
  /** Drops entries up to and including `index`, which must be covered by a snapshot. */
  compact(index: LogIndex): StorageResult<void>;
}

/** Keeps the prefix of `entries` whose total size fits `maxSizeBytes`; never fewer than one. */
export function limitSize(entries: Entry[], maxSizeBytes: number): Entry[] {
  if (entries.length === 0) return entries;
  let size = entrySizeBytes(entries[0]!);
  let keep = 1;
  while (keep < entries.length) {
    size += entrySizeBytes(entries[keep]!);
    if (size > maxSizeBytes) break;
    keep++;
  }
  return keep === entries.length ? entries : entries.slice(0, keep);
}

export class MemoryStorage implements LogStorage {
  private hardState: HardState = EMPTY_HARD_STATE;
  private snap: Snapshot = EMPTY_SNAPSHOT;
  /** entries[0] is a dummy standing for the snapshot point: its index and term, no data. */
  private entriesWithDummy: Entry[] = [dummyEntry(EMPTY_SNAPSHOT)];
  /** Test hook: while true, `snapshot()` answers `snapshot_temporarily_unavailable`. */
  snapshotUnavailable = false;

  /**
   * Sets the membership of a brand-new group (no snapshot, no entries yet), as if a snapshot at
   * index 0 had carried it. This is how a first node bootstraps.
   */
  bootstrap(confState: ConfState): void {
    assert(this.snap.index === 0 && this.lastIndex() === 0, 'bootstrap only an empty storage');
    this.snap = { ...this.snap, confState };
  }

  initialState(): InitialState {
    return { hardState: this.hardState, confState: this.snap.confState };
  }

  setHardState(hardState: HardState): void {
    assert(hardState.term >= this.hardState.term, 'hard state term must not go back');
    this.hardState = hardState;
  }

  hardStateForTest(): HardState {
    return this.hardState;
  }

  private offset(): number {
    return this.entriesWithDummy[0]!.index;
  }

  firstIndex(): LogIndex {
    return asLogIndex(this.offset() + 1);
  }

  lastIndex(): LogIndex {
    return asLogIndex(this.offset() + this.entriesWithDummy.length - 1);
  }

  term(index: LogIndex): StorageResult<Term> {
    const offset = this.offset();
    if (index < offset) return storageError('compacted');
    if (index - offset >= this.entriesWithDummy.length) return storageError('unavailable');
    return storageOk(this.entriesWithDummy[index - offset]!.term);
  }

  entries(lo: LogIndex, hi: LogIndex, maxSizeBytes: number): StorageResult<Entry[]> {
    assert(lo <= hi, () => `entries: lo ${lo} > hi ${hi}`);
    const offset = this.offset();
    if (lo <= offset) return storageError('compacted');
    if (hi > this.lastIndex() + 1) return storageError('unavailable');
    const slice = this.entriesWithDummy.slice(lo - offset, hi - offset);
    return storageOk(limitSize(slice, maxSizeBytes));
  }

  snapshot(minIndex?: LogIndex): StorageResult<Snapshot> {
    if (this.snapshotUnavailable) return storageError('snapshot_temporarily_unavailable');
    if (minIndex !== undefined && this.snap.index < minIndex) return storageError('snapshot_temporarily_unavailable');
    return storageOk(this.snap);
  }

  /**
   * Replaces everything with `snapshot` (a follower catching up); older snapshots are refused.
   * One at the same index replaces ours: a follower may ask for a fresh one (requestSnapshot).
   */
  applySnapshot(snapshot: Snapshot): StorageResult<void> {
    if (snapshot.index < this.snap.index || (snapshot.index === 0 && this.snap.index === 0)) {
      return storageError('compacted');
    }
    this.snap = snapshot;
    this.entriesWithDummy = [dummyEntry(snapshot)];
    return storageOk(undefined);
  }

  createSnapshot(index: LogIndex, confState: ConfState, data: Uint8Array): StorageResult<Snapshot> {
    if (index <= this.snap.index) return storageError('compacted');
    assert(index <= this.lastIndex(), () => `snapshot ${index} is past last index ${this.lastIndex()}`);
    const term = this.entriesWithDummy[index - this.offset()]!.term;
    this.snap = { index, term, confState, data };
    return storageOk(this.snap);
  }

  compact(index: LogIndex): StorageResult<void> {
    const offset = this.offset();
    if (index <= offset) return storageError('compacted');
    assert(index <= this.lastIndex(), () => `compact ${index} is past last index ${this.lastIndex()}`);
    assert(index <= this.snap.index, () => `compact ${index} is past snapshot ${this.snap.index}`);
    const kept = this.entriesWithDummy.slice(index - offset);
    kept[0] = { index, term: kept[0]!.term, kind: 'normal', data: new Uint8Array(0) };
    this.entriesWithDummy = kept;
    return storageOk(undefined);
  }

  /**
   * Appends entries, replacing any existing suffix they conflict with. Entries already compacted
   * are skipped. The new entries must continue the log without a gap.
   */
  append(entries: readonly Entry[]): void {
    if (entries.length === 0) return;
    const first = this.firstIndex();
    const last = entries[entries.length - 1]!.index;
    if (last < first) return;
    const fresh = first > entries[0]!.index ? entries.slice(first - entries[0]!.index) : entries;
    const position = fresh[0]!.index - this.offset();
    assert(position <= this.entriesWithDummy.length, () => `missing log entries before ${fresh[0]!.index}`);
    // Truncate in place and append: copying the whole log on every append would be quadratic.
    this.entriesWithDummy.length = position;
    for (const entry of fresh) this.entriesWithDummy.push(entry);
    this.checkContiguousFrom(position);
  }

  /** Checks the junction at `position` and everything after it (the part just written). */
  private checkContiguousFrom(position: number): void {
    const entries = this.entriesWithDummy;
    for (let i = Math.max(1, position); i < entries.length; i++) {
      assert(entries[i]!.index === entries[i - 1]!.index + 1, 'storage entries must be contiguous');
      assert(entries[i]!.term >= entries[i - 1]!.term, 'storage entry terms must not decrease');
    }
  }
}

function dummyEntry(snapshot: Snapshot): Entry {
  return { index: snapshot.index, term: snapshot.term, kind: 'normal', data: new Uint8Array(0) };
}
