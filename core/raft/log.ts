/**
 * The Raft log as the state machine sees it: a durable prefix in `LogStorage` and an in-memory
 * `Unstable` suffix (entries and possibly a snapshot) that the driver has not persisted yet.
 *
 *   storage: [firstIndex ........ storage.lastIndex]
 *   unstable:                      [offset .............. lastIndex]
 *
 * The two may overlap: a suffix of storage can be superseded by unstable entries after a
 * conflict; unstable wins, and storage is overwritten when the driver persists them.
 */
import { assert } from '../lib/assert.ts';
import type { StorageResult } from './errors.ts';
import { storageError, storageOk } from './errors.ts';
import { type LogStorage, limitSize } from './storage.ts';
import {
  type Entry,
  type LogIndex,
  type Snapshot,
  type Term,
  ZERO_INDEX,
  ZERO_TERM,
  asLogIndex,
  entrySizeBytes,
} from './types.ts';

/** Entries and a snapshot not yet written to stable storage. */
export class Unstable {
  snapshot: Snapshot | undefined = undefined;
  entries: Entry[] = [];
  /** Index of entries[0] (or where it would go): one past the last stable entry. */
  offset: LogIndex;

  constructor(offset: LogIndex) {
    this.offset = offset;
  }

  maybeFirstIndex(): LogIndex | undefined {
    return this.snapshot === undefined ? undefined : asLogIndex(this.snapshot.index + 1);
  }

  maybeLastIndex(): LogIndex | undefined {
    if (this.entries.length > 0) return asLogIndex(this.offset + this.entries.length - 1);
    return this.snapshot?.index;
  }

  maybeTerm(index: LogIndex): Term | undefined {
    if (index < this.offset) {
      if (this.snapshot !== undefined && this.snapshot.index === index) return this.snapshot.term;
      return undefined;
    }
    const last = this.maybeLastIndex();
    if (last === undefined || index > last) return undefined;
    return this.entries[index - this.offset]!.term;
  }

  /** The driver persisted entries up to (`index`, `term`); drop them unless since overwritten. */
  stableTo(index: LogIndex, term: Term): void {
    const known = this.maybeTerm(index);
    if (known === undefined || known !== term || index < this.offset) return;
    this.entries = this.entries.slice(index + 1 - this.offset);
    this.offset = asLogIndex(index + 1);
  }

  stableSnapshotTo(index: LogIndex): void {
    if (this.snapshot !== undefined && this.snapshot.index === index) this.snapshot = undefined;
  }

  restore(snapshot: Snapshot): void {
    this.offset = asLogIndex(snapshot.index + 1);
    this.entries = [];
    this.snapshot = snapshot;
  }

  truncateAndAppend(entries: readonly Entry[]): void {
    const first = entries[0]!.index;
    if (first <= this.offset) {
      // Replaces every unstable entry; the stable ones from `first` on are overwritten on persist.
      this.offset = first;
      this.entries = [...entries];
    } else {
      assert(first <= this.offset + this.entries.length, 'unstable entries must not leave a gap');
      // A fresh array: a Ready handed out earlier may still hold the old one.
      const kept = this.entries.slice(0, first - this.offset);
      for (const entry of entries) kept.push(entry);
      this.entries = kept;
    }
    assert(this.entries[0]!.index === this.offset, 'unstable entries must start at offset');
  }

  slice(lo: LogIndex, hi: LogIndex): Entry[] {
    assert(lo >= this.offset && hi <= this.offset + this.entries.length && lo <= hi, () =>
      `unstable slice [${lo},${hi}) out of [${this.offset},${this.offset + this.entries.length})`);
    return this.entries.slice(lo - this.offset, hi - this.offset);
  }
}

export class RaftLog {
  readonly storage: LogStorage;
  readonly unstable: Unstable;
  /** Highest index known to be on a quorum of stable storages. Never decreases. */
  committed: LogIndex;
  /** Highest index the application confirmed applying (via `advance`). Never above `committed`. */
  applied: LogIndex;

  constructor(storage: LogStorage) {
    this.storage = storage;
    const first = storage.firstIndex();
    const last = storage.lastIndex();
    assert(first >= 1 && last + 1 >= first, 'storage first/last index out of order');
    this.unstable = new Unstable(asLogIndex(last + 1));
    this.committed = asLogIndex(first - 1);
    this.applied = asLogIndex(first - 1);
  }

  firstIndex(): LogIndex {
    return this.unstable.maybeFirstIndex() ?? this.storage.firstIndex();
  }

  lastIndex(): LogIndex {
    return this.unstable.maybeLastIndex() ?? this.storage.lastIndex();
  }

  lastTerm(): Term {
    const term = this.term(this.lastIndex());
    assert(term.ok, 'the term of the last entry must be known');
    return term.value;
  }

  /** Term of entry `index`, valid from firstIndex()-1 (the snapshot point) to lastIndex(). */
  term(index: LogIndex): StorageResult<Term> {
    const unstableTerm = this.unstable.maybeTerm(index);
    if (unstableTerm !== undefined) return storageOk(unstableTerm);
    if (index + 1 < this.firstIndex()) return storageError('compacted');
    if (index > this.lastIndex()) return storageError('unavailable');
    return this.storage.term(index);
  }

  /** The term, or 0 when it is unknown (compacted or past the end). */
  termOrZero(index: LogIndex): Term {
    const term = this.term(index);
    return term.ok ? term.value : ZERO_TERM;
  }

  matchTerm(index: LogIndex, term: Term): boolean {
    const known = this.term(index);
    return known.ok && known.value === term;
  }

  /** Raft §5.4.1: is a log ending at (`lastIndex`, `lastTerm`) at least as up to date as ours? */
  isUpToDate(lastIndex: LogIndex, lastTerm: Term): boolean {
    const ourTerm = this.lastTerm();
    return lastTerm > ourTerm || (lastTerm === ourTerm && lastIndex >= this.lastIndex());
  }

  /** The first entry of `entries` that is new or contradicts ours; 0 when all are present. */
  findConflict(entries: readonly Entry[]): LogIndex {
    for (const entry of entries) {
      if (!this.matchTerm(entry.index, entry.term)) return entry.index;
    }
    return ZERO_INDEX;
  }

  /**
   * The largest index <= `index` whose term is <= `term`, with that term: no entry above it can
   * match a leader entry at `term` or earlier. An unknown term (compacted) stops the search.
   */
  findConflictByTerm(index: LogIndex, term: Term): { index: LogIndex; term: Term } {
    let candidate: number = index;
    for (; candidate > 0; candidate--) {
      const ours = this.term(asLogIndex(candidate));
      if (!ours.ok) return { index: asLogIndex(candidate), term: ZERO_TERM };
      if (ours.value <= term) return { index: asLogIndex(candidate), term: ours.value };
    }
    return { index: ZERO_INDEX, term: ZERO_TERM };
  }

  /**
   * Appends a leader's entries that follow (`prevIndex`, `prevTerm`) if our log contains that
   * entry, truncating any conflicting suffix. Returns the last index now known to match the
   * leader, or undefined when (`prevIndex`, `prevTerm`) does not match.
   */
  maybeAppend(prevIndex: LogIndex, prevTerm: Term, commit: LogIndex, entries: readonly Entry[]): LogIndex | undefined {
    if (!this.matchTerm(prevIndex, prevTerm)) return undefined;
    const lastNewIndex = asLogIndex(prevIndex + entries.length);
    const conflict = this.findConflict(entries);
    if (conflict !== 0) {
      // A committed entry can never conflict with a legitimate leader (Leader Completeness).
      assert(conflict > this.committed, () => `entry ${conflict} conflicts with committed ${this.committed}`);
      this.append(entries.slice(conflict - (prevIndex + 1)));
    }
    this.commitTo(asLogIndex(Math.min(commit, lastNewIndex)));
    return lastNewIndex;
  }

  append(entries: readonly Entry[]): LogIndex {
    if (entries.length === 0) return this.lastIndex();
    const after = entries[0]!.index - 1;
    assert(after >= this.committed, () => `append after ${after} would truncate committed ${this.committed}`);
    assert(after <= this.lastIndex(), () => `append after ${after} leaves a gap past ${this.lastIndex()}`);
    this.unstable.truncateAndAppend(entries);
    return this.lastIndex();
  }

  unstableEntries(): readonly Entry[] {
    return this.unstable.entries;
  }

  /** Entries from `index` to the end, limited by size (at least one if any). */
  entriesFrom(index: LogIndex, maxSizeBytes: number): StorageResult<Entry[]> {
    if (index > this.lastIndex()) return storageOk([]);
    return this.slice(index, asLogIndex(this.lastIndex() + 1), maxSizeBytes);
  }

  /** Every entry from `index` on; asserts they are all available (tests and restarts). */
  allEntriesFrom(index: LogIndex): Entry[] {
    const result = this.entriesFrom(index, Number.POSITIVE_INFINITY);
    assert(result.ok, () => `entries from ${index} must be available`);
    return result.value;
  }

  hasPendingSnapshot(): boolean {
    return this.unstable.snapshot !== undefined;
  }

  /** Committed entries the application has not been handed yet; none while a snapshot waits. */
  nextCommittedEntries(maxSizeBytes: number): Entry[] {
    if (this.hasPendingSnapshot()) return [];
    const lo = Math.max(this.applied + 1, this.firstIndex());
    const hi = this.committed + 1;
    if (lo >= hi) return [];
    const result = this.slice(asLogIndex(lo), asLogIndex(hi), maxSizeBytes);
    assert(result.ok, () => `committed entries [${lo},${hi}) must be available: ${result.ok || result.error}`);
    return result.value;
  }

  hasNextCommittedEntries(): boolean {
    if (this.hasPendingSnapshot()) return false;
    return this.committed + 1 > Math.max(this.applied + 1, this.firstIndex());
  }

  snapshot(minIndex?: LogIndex): StorageResult<Snapshot> {
    const pending = this.unstable.snapshot;
    if (pending !== undefined && (minIndex === undefined || pending.index >= minIndex)) return storageOk(pending);
    return this.storage.snapshot(minIndex);
  }

  commitTo(index: LogIndex): void {
    if (index <= this.committed) return;
    assert(index <= this.lastIndex(), () => `commit ${index} is past last index ${this.lastIndex()}`);
    this.committed = index;
  }

  /** Raft §5.4.2: commit `index` only if it was written in the leader's current `term`. */
  maybeCommit(index: LogIndex, term: Term): boolean {
    if (index > this.committed && this.termOrZero(index) === term) {
      this.commitTo(index);
      return true;
    }
    return false;
  }

  appliedTo(index: LogIndex): void {
    if (index === 0) return;
    assert(index <= this.committed, () => `applied ${index} is past committed ${this.committed}`);
    assert(index >= this.applied, () => `applied ${index} goes back from ${this.applied}`);
    this.applied = index;
  }

  stableTo(index: LogIndex, term: Term): void {
    this.unstable.stableTo(index, term);
  }

  stableSnapshotTo(index: LogIndex): void {
    this.unstable.stableSnapshotTo(index);
  }

  restore(snapshot: Snapshot): void {
    // Equal only when the follower asked for a fresh snapshot of what it already committed.
    assert(snapshot.index >= this.committed, 'restore must not move back from the commit index');
    this.committed = snapshot.index;
    this.unstable.restore(snapshot);
  }

  /** Entries in [lo, hi) from storage and/or unstable, within `maxSizeBytes` (at least one). */
  slice(lo: LogIndex, hi: LogIndex, maxSizeBytes: number): StorageResult<Entry[]> {
    assert(lo <= hi, () => `invalid slice [${lo},${hi})`);
    if (lo < this.firstIndex()) return storageError('compacted');
    assert(hi <= this.lastIndex() + 1, () => `slice [${lo},${hi}) past last index ${this.lastIndex()}`);
    if (lo === hi) return storageOk([]);
    let result: Entry[] = [];
    const offset = this.unstable.offset;
    if (lo < offset) {
      const stored = this.storage.entries(lo, asLogIndex(Math.min(hi, offset)), maxSizeBytes);
      if (!stored.ok) {
        // Racing with compaction is possible; anything else means storage lost entries.
        assert(stored.error === 'compacted', () => `storage entries [${lo},${hi}): ${stored.error}`);
        return stored;
      }
      result = stored.value;
      if (result.length < Math.min(hi, offset) - lo) return storageOk(result);
    }
    if (hi > offset) {
      result = [...result, ...this.unstable.slice(asLogIndex(Math.max(lo, offset)), hi)];
    }
    return storageOk(limitSize(result, maxSizeBytes));
  }
}

/** Total `entrySizeBytes` of `entries`. */
export function entriesSizeBytes(entries: readonly Entry[]): number {
  let total = 0;
  for (const entry of entries) total += entrySizeBytes(entry);
  return total;
}
