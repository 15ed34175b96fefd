/**
 * The Raft log on disk: what `persist` and `compact` leave in the Store is what `load` finds,
 * and entries that a conflict, a compaction or a received snapshot removed are gone from the
 * Store itself (not only from memory).
 */

import { describe, expect, it } from 'vitest';
import { entryKey, RaftStore } from '../../core/cluster/raft-store.ts';
import type { Store } from '../../core/env/disk.ts';
import { asLogIndex, asTerm, EMPTY_SNAPSHOT, type Entry, type Snapshot } from '../../core/raft/types.ts';
import { MemoryDisk } from '../box/helpers.ts';

const entry = (index: number, term: number): Entry => ({ index: asLogIndex(index), term: asTerm(term), kind: 'normal', data: Uint8Array.of(index) });
const snapshotAt = (index: number, term: number): Snapshot => ({ ...EMPTY_SNAPSHOT, index: asLogIndex(index), term: asTerm(term) });

/** The entry indexes the Store holds, in order. */
function storedIndexes(store: Store): number[] {
  return [...store.range({ from: entryKey(0), to: entryKey(Number.MAX_SAFE_INTEGER) })].map(([key]) => Number(new DataView(key.buffer, key.byteOffset).getBigUint64(1)));
}

/** The terms `load` finds for `lo..hi`. */
function loadedTerms(store: Store, lo: number, hi: number): number[] {
  const result = RaftStore.load(store).memory.entries(asLogIndex(lo), asLogIndex(hi + 1), Number.MAX_SAFE_INTEGER);
  if (!result.ok) throw new Error(`entries ${lo}..${hi}: ${JSON.stringify(result)}`);
  return result.value.map((e) => e.term);
}

describe('RaftStore', () => {
  it('removes a conflicting suffix, a compacted prefix and a log a snapshot replaces, from the Store', async () => {
    const store = await new MemoryDisk().open('raft');
    const raft = RaftStore.load(store);
    await raft.persist(undefined, [1, 2, 3, 4, 5].map((i) => entry(i, 1)), undefined, true);
    expect(storedIndexes(store)).toEqual([1, 2, 3, 4, 5]);

    // A new leader's entries 3..4 replace 3..5: entry 5 must not survive a restart.
    await raft.persist(undefined, [entry(3, 2), entry(4, 2)], undefined, true);
    expect(storedIndexes(store)).toEqual([1, 2, 3, 4]);
    expect(loadedTerms(store, 1, 4)).toEqual([1, 1, 2, 2]);
    expect(RaftStore.load(store).lastIndex).toBe(4);

    await raft.compact(snapshotAt(3, 2), 3);
    expect(storedIndexes(store)).toEqual([4]);
    const compacted = RaftStore.load(store);
    expect([compacted.firstIndex, compacted.lastIndex]).toEqual([4, 4]);

    await raft.persist(snapshotAt(10, 3), [], undefined, true);
    expect(storedIndexes(store)).toEqual([]);
    const replaced = RaftStore.load(store);
    expect([replaced.firstIndex, replaced.lastIndex]).toEqual([11, 10]);
  });
});
