/**
 * The Raft log on disk. `MemoryStorage` (core/raft/storage.ts) serves the core's reads; this
 * class loads it from a Store at start and writes every Ready's entries, hard state and snapshot
 * through to the Store before the Ready's messages are sent.
 *
 * Keys (all values sealed with CRC-32C, so rot is reported instead of served):
 *   `e` + index (8 bytes, big-endian)  -> entry [index, term, kind, data]
 *   `hs`                              -> hard state [term, vote, commit]
 *   `snap`                            -> latest snapshot [index, term, confState, data]
 *   `id`                              -> this instance's identity (raft id, instance id, cluster id...)
 */

import { decode, encode, type MpValue } from '../codec/msgpack.ts';
import type { Durability, Op, Store } from '../env/disk.ts';
import { assert } from '../lib/assert.ts';
import { utf8 } from '../lib/bytes.ts';
import { CorruptionError, seal, unseal } from '../lib/sealed.ts';
import { MemoryStorage } from '../raft/storage.ts';
import { EMPTY_SNAPSHOT, type ConfState, type Entry, type HardState, type LogIndex, type Snapshot } from '../raft/types.ts';
import { entryFromValue, entryToValue, hardStateFromValue, hardStateToValue, snapshotFromValue, snapshotToValue } from './raft-codec.ts';
import { pushAll } from '../lib/arrays.ts';

const KEY_HARD_STATE = utf8('hs');
const KEY_SNAPSHOT = utf8('snap');
const KEY_IDENTITY = utf8('id');
const ENTRY_PREFIX = 0x65; // 'e'

export interface Identity {
  readonly raftId: number;
  readonly instanceId: string;
  readonly clusterId: string;
  readonly replicasetId: string;
  /** Learned (from a peer) that it was expelled: it must never start again. */
  readonly expelled?: boolean;
}

export function entryKey(index: number): Uint8Array {
  const key = new Uint8Array(9);
  key[0] = ENTRY_PREFIX;
  new DataView(key.buffer).setBigUint64(1, BigInt(index));
  return key;
}

/** Adds the removal of the entries first..last (inclusive; none when last < first) to `ops`. */
function pushEntryRemoval(ops: Op[], first: number, last: number): void {
  if (last < first) return;
  ops.push({ kind: 'deleteRange', from: entryKey(first), to: entryKey(last + 1) });
}

function sealed(value: MpValue): Uint8Array {
  return seal(encode(value));
}

function unsealed(record: Uint8Array, where: string): MpValue {
  try {
    return decode(unseal(record, where));
  } catch (error) {
    if (error instanceof CorruptionError) throw error;
    throw new CorruptionError(where, error instanceof Error ? error.message : String(error));
  }
}

export class RaftStore {
  readonly memory = new MemoryStorage();
  private readonly store: Store;
  /** Highest entry index present on disk (entries are contiguous from the snapshot on). */
  private diskLastIndex = 0;
  /** Lowest entry index that may still be on disk. */
  private diskFirstIndex = 1;
  private snapshotIndex = 0;

  private constructor(store: Store) {
    this.store = store;
  }

  /** Loads the log; throws CorruptionError if any record is rotten or the log has a hole. */
  static load(store: Store): RaftStore {
    const raft = new RaftStore(store);
    const snapRecord = store.get(KEY_SNAPSHOT);
    const snapshot = snapRecord === undefined ? EMPTY_SNAPSHOT : snapshotFromValue(unsealed(snapRecord, 'raft snapshot'));
    if (snapshot.index > 0) raft.memory.applySnapshot(snapshot);
    else if (snapRecord !== undefined) raft.memory.bootstrap(snapshot.confState);
    raft.snapshotIndex = snapshot.index;
    raft.diskLastIndex = snapshot.index;
    // Entries the snapshot covers may linger after a partial compaction: start deleting from there.
    for (const [key] of store.range({ from: entryKey(0), to: entryKey(Number.MAX_SAFE_INTEGER), limit: 1 })) {
      raft.diskFirstIndex = Number(new DataView(key.buffer, key.byteOffset).getBigUint64(1));
    }
    const entries: Entry[] = [];
    for (const [key, value] of store.range({ from: entryKey(snapshot.index + 1), to: entryKey(Number.MAX_SAFE_INTEGER) })) {
      const entry = entryFromValue(unsealed(value, `raft log entry ${new DataView(key.buffer, key.byteOffset).getBigUint64(1)}`));
      const expected = raft.diskLastIndex + 1;
      if (entry.index !== expected) throw new CorruptionError('raft log', `entry ${entry.index} where ${expected} was expected`);
      entries.push(entry);
      raft.diskLastIndex = entry.index;
    }
    raft.memory.append(entries);
    const hs = store.get(KEY_HARD_STATE);
    if (hs !== undefined) raft.memory.setHardState(hardStateFromValue(unsealed(hs, 'raft hard state')));
    return raft;
  }

  identity(): Identity | undefined {
    const record = this.store.get(KEY_IDENTITY);
    if (record === undefined) return undefined;
    const v = unsealed(record, 'raft identity') as Record<string, MpValue>;
    return {
      raftId: v['raftId'] as number,
      instanceId: v['instanceId'] as string,
      clusterId: v['clusterId'] as string,
      replicasetId: v['replicasetId'] as string,
      ...(v['expelled'] === true ? { expelled: true } : {}),
    };
  }

  async saveIdentity(identity: Identity): Promise<void> {
    await this.store.write([{ kind: 'put', key: KEY_IDENTITY, value: sealed({ ...identity }) }], 'fsync');
  }

  /** A brand-new group: membership as if a snapshot at index 0 carried it. */
  bootstrap(confState: ConfState): Op[] {
    this.memory.bootstrap(confState);
    return [{ kind: 'put', key: KEY_SNAPSHOT, value: sealed(snapshotToValue({ ...EMPTY_SNAPSHOT, confState })) }];
  }

  /**
   * Persists a Ready's snapshot, entries and hard state in one atomic batch, then makes them
   * visible to the core through MemoryStorage. Entries replace any conflicting suffix.
   */
  async persist(snapshot: Snapshot | undefined, entries: readonly Entry[], hardState: HardState | undefined, mustSync: boolean, extra: readonly Op[] = []): Promise<void> {
    const ops: Op[] = [...extra];
    if (snapshot !== undefined) pushAll(ops, this.snapshotOps(snapshot));
    if (entries.length > 0) pushAll(ops, this.entryOps(entries));
    if (hardState !== undefined) ops.push({ kind: 'put', key: KEY_HARD_STATE, value: sealed(hardStateToValue(hardState)) });
    if (ops.length > 0) {
      const durability: Durability = mustSync ? 'fsync' : 'write';
      await this.store.write(ops, durability);
    }
    if (snapshot !== undefined) this.memory.applySnapshot(snapshot);
    this.memory.append(entries);
    if (hardState !== undefined) this.memory.setHardState(hardState);
  }

  private snapshotOps(snapshot: Snapshot): Op[] {
    const ops: Op[] = [{ kind: 'put', key: KEY_SNAPSHOT, value: sealed(snapshotToValue(snapshot)) }];
    // A received snapshot replaces the whole log.
    pushEntryRemoval(ops, this.diskFirstIndex, this.diskLastIndex);
    this.snapshotIndex = snapshot.index;
    this.diskLastIndex = snapshot.index;
    this.diskFirstIndex = snapshot.index + 1;
    return ops;
  }

  private entryOps(entries: readonly Entry[]): Op[] {
    const ops: Op[] = [];
    const first = entries[0]!.index;
    const last = entries[entries.length - 1]!.index;
    assert(first <= this.diskLastIndex + 1, () => `raft log hole: appending ${first} after ${this.diskLastIndex}`);
    for (const e of entries) ops.push({ kind: 'put', key: entryKey(e.index), value: sealed(entryToValue(e)) });
    // A conflicting suffix beyond the new entries must go too.
    pushEntryRemoval(ops, last + 1, this.diskLastIndex);
    this.diskLastIndex = last;
    return ops;
  }

  /**
   * Records a snapshot of the applied state and drops the entries up to `compactIndex` (which
   * the snapshot covers). Snapshot and deletions go in one atomic batch, so a crash never leaves
   * a hole. After a restart the log starts right after the snapshot.
   */
  async compact(snapshot: Snapshot, compactIndex: number): Promise<void> {
    assert(compactIndex <= snapshot.index, () => `compacting ${compactIndex} past the snapshot at ${snapshot.index}`);
    const ops: Op[] = [{ kind: 'put', key: KEY_SNAPSHOT, value: sealed(snapshotToValue(snapshot)) }];
    pushEntryRemoval(ops, this.diskFirstIndex, compactIndex);
    await this.store.write(ops, 'fsync');
    this.diskFirstIndex = Math.max(this.diskFirstIndex, compactIndex + 1);
    this.snapshotIndex = Math.max(this.snapshotIndex, snapshot.index);
  }

  /** Nothing persisted yet (no entries, no hard state, no snapshot). */
  isEmpty(): boolean {
    return this.diskLastIndex === 0 && this.store.get(KEY_HARD_STATE) === undefined && this.store.get(KEY_SNAPSHOT) === undefined;
  }

  get firstIndex(): LogIndex {
    return this.memory.firstIndex();
  }

  get lastIndex(): LogIndex {
    return this.memory.lastIndex();
  }
}
