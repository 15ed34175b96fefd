import { describe, expect, it } from 'vitest';
import { mergeAppends } from '../../core/cluster/raft-node.ts';
import type { RaftMessage } from '../../core/raft/messages.ts';
import { asLogIndex, asRaftId, asTerm, type Entry } from '../../core/raft/types.ts';

const entry = (index: number, term = 2): Entry => ({ index: asLogIndex(index), term: asTerm(term), kind: 'normal', data: new Uint8Array([index]) });
const append = (prevIndex: number, indexes: number[], commit: number, term = 2, to = 2): RaftMessage => ({
  type: 'append',
  from: asRaftId(1),
  to: asRaftId(to),
  term: asTerm(term),
  prevIndex: asLogIndex(prevIndex),
  prevTerm: asTerm(2),
  entries: indexes.map((i) => entry(i)),
  commit: asLogIndex(commit),
});

describe('coalescing appends in one Ready', () => {
  it('joins an append that continues the previous one, keeping the higher commit', () => {
    const merged = mergeAppends(append(10, [11], 9), append(11, [12, 13], 10));
    expect(merged).toMatchObject({ type: 'append', prevIndex: 10, commit: 10 });
    expect(merged?.type === 'append' && merged.entries.map((e) => e.index)).toEqual([11, 12, 13]);
  });

  it('keeps apart what does not continue: a gap, another term, another peer, an empty probe, other types', () => {
    expect(mergeAppends(append(10, [11], 9), append(12, [13], 9))).toBeNull();
    expect(mergeAppends(append(10, [11], 9), append(11, [12], 9, 3))).toBeNull();
    expect(mergeAppends(append(10, [11], 9), append(11, [12], 9, 2, 3))).toBeNull();
    expect(mergeAppends(append(10, [], 9), append(10, [11], 9))).toBeNull();
    const heartbeat: RaftMessage = { type: 'heartbeat', from: asRaftId(1), to: asRaftId(2), term: asTerm(2), commit: asLogIndex(9), context: new Uint8Array(0) };
    expect(mergeAppends(append(10, [11], 9), heartbeat)).toBeNull();
  });
});
