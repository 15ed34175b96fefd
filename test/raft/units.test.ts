/**
 * Unit tests of the small pieces: branded ids, quorum arithmetic (checked against a deliberately
 * simple alternative, like etcd's quorum/quick_test.go), inflights, progress, storage, the
 * conf change codec and changer.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { applyConfChangeV2, decodeConfChange, encodeConfChange, restoreConfState, type ConfChangeV2 } from '../../core/raft/confchange.ts';
import { PICODATA_HEAD_OVERRIDES, makeConfig } from '../../core/raft/config.ts';
import { Inflights } from '../../core/raft/inflights.ts';
import { Progress } from '../../core/raft/progress.ts';
import { jointCommittedIndex, jointVoteResult, majorityCommittedIndex, majorityVoteResult } from '../../core/raft/quorum.ts';
import { MemoryStorage } from '../../core/raft/storage.ts';
import { EMPTY_TRACKER_CONFIG, toConfState } from '../../core/raft/tracker.ts';
import { type LogIndex, type RaftId, asLogIndex, asRaftId, asTerm } from '../../core/raft/types.ts';
import { confState, entriesWithTerms, idx, term } from './harness.ts';

describe('config', () => {
  it('defaults to Picodata 22.11 settings', () => {
    const config = makeConfig({ id: asRaftId(1), random: { int: () => 0 } });
    expect(config).toMatchObject({
      heartbeatTicks: 2, electionTicks: 20, preVote: true, checkQuorum: false, maxInflightMsgs: 256,
      maxSizePerMsgBytes: 0, readOnlyOption: 'safe',
    });
  });
  it('rejects inconsistent settings', () => {
    const random = { int: () => 0 };
    expect(() => makeConfig({ id: asRaftId(1), random, electionTicks: 2, heartbeatTicks: 2 })).toThrow(/greater/);
    expect(() => makeConfig({ id: asRaftId(1), random, maxInflightMsgs: 0 })).toThrow();
    expect(() => makeConfig({ id: asRaftId(1), random, readOnlyOption: 'leaseBased' })).toThrow(/checkQuorum/);
    expect(makeConfig({ id: asRaftId(1), random, ...PICODATA_HEAD_OVERRIDES })).toMatchObject({ checkQuorum: true, electionTicks: 100 });
  });
});

describe('branded ids', () => {
  it('are made only through asserting constructors', () => {
    expect(asRaftId(3)).toBe(3);
    expect(() => asRaftId(0)).toThrow();
    expect(() => asRaftId(1.5)).toThrow();
    expect(() => asTerm(-1)).toThrow();
    expect(() => asLogIndex(Number.NaN)).toThrow();
    // A plain number does not type-check where a branded id is expected (checked by tsc).
    // @ts-expect-error a raw number is not a RaftId
    const notAnId: RaftId = 3;
    // @ts-expect-error a Term is not a LogIndex
    const notAnIndex: LogIndex = asTerm(2);
    expect([notAnId, notAnIndex]).toEqual([3, 2]);
  });
});

/** The obvious definition: the largest index that a majority has reached. */
function naiveCommitted(matches: number[]): number {
  if (matches.length === 0) return Number.POSITIVE_INFINITY;
  const candidates = [0, ...matches].sort((a, b) => b - a);
  for (const candidate of candidates) {
    const reached = matches.filter((m) => m >= candidate).length;
    if (reached > matches.length / 2) return candidate;
  }
  return 0;
}

describe('quorum (compared with a naive alternative)', () => {
  const votersAndMatches = fc.array(fc.nat(20), { maxLength: 9 });
  it('majority committed index', () => {
    fc.assert(fc.property(votersAndMatches, (matches) => {
      const ids = new Set(matches.map((_, i) => asRaftId(i + 1)));
      const acked = (id: RaftId): LogIndex => asLogIndex(matches[id - 1]!);
      expect(majorityCommittedIndex(ids, acked)).toBe(naiveCommitted(matches));
    }), { numRuns: 300 });
  });
  it('joint committed index is the minimum of the halves', () => {
    fc.assert(fc.property(fc.array(fc.nat(20), { minLength: 1, maxLength: 7 }), fc.array(fc.boolean(), { maxLength: 7 }), (matches, inOutgoing) => {
      const incoming = new Set(matches.map((_, i) => asRaftId(i + 1)));
      const outgoing = new Set(matches.map((_, i) => asRaftId(i + 1)).filter((_, i) => inOutgoing[i] === true));
      const acked = (id: RaftId): LogIndex => asLogIndex(matches[id - 1]!);
      const outgoingMatches = matches.filter((_, i) => inOutgoing[i] === true);
      const expected = Math.min(naiveCommitted(matches), naiveCommitted(outgoingMatches));
      expect(jointCommittedIndex({ incoming, outgoing }, acked)).toBe(expected);
    }), { numRuns: 300 });
  });
  it('vote results', () => {
    const ids = new Set([1, 2, 3, 4, 5].map(asRaftId));
    const votes = (entries: [number, boolean][]): Map<RaftId, boolean> => new Map(entries.map(([id, v]) => [asRaftId(id), v]));
    expect(majorityVoteResult(ids, votes([[1, true], [2, true]]))).toBe('pending');
    expect(majorityVoteResult(ids, votes([[1, true], [2, true], [3, true]]))).toBe('won');
    expect(majorityVoteResult(ids, votes([[1, false], [2, false], [3, false]]))).toBe('lost');
    expect(majorityVoteResult(new Set(), votes([]))).toBe('won');
    const joint = { incoming: new Set([1, 2, 3].map(asRaftId)), outgoing: new Set([3, 4, 5].map(asRaftId)) };
    expect(jointVoteResult(joint, votes([[1, true], [2, true]]))).toBe('pending');
    expect(jointVoteResult(joint, votes([[1, true], [2, true], [4, true], [5, true]]))).toBe('won');
    expect(jointVoteResult(joint, votes([[1, true], [2, true], [4, false], [5, false]]))).toBe('lost');
  });
});

describe('Inflights', () => {
  it('is a bounded FIFO of increasing indexes', () => {
    const inflights = new Inflights(3);
    inflights.add(idx(1));
    inflights.add(idx(4));
    inflights.add(idx(9));
    expect(inflights.full()).toBe(true);
    expect(() => inflights.add(idx(10))).toThrow();
    inflights.freeLE(idx(4));
    expect(inflights.size).toBe(1);
    inflights.add(idx(10));
    inflights.add(idx(12));
    expect(() => inflights.add(idx(11))).toThrow(); // full, and would not increase either
    inflights.freeFirstOne();
    expect(inflights.size).toBe(2);
    expect(inflights.clone().size).toBe(2);
    inflights.freeLE(idx(100));
    expect(inflights.size).toBe(0);
  });
});

describe('Progress', () => {
  it('probe: one message at a time; replicate: optimistic next; stale rejections ignored', () => {
    const progress = new Progress(idx(5), 2, false);
    expect(progress.isPaused()).toBe(false);
    progress.sentEntries(1, idx(5), idx(0));
    expect(progress.isPaused()).toBe(true);
    expect(progress.maybeDecrTo(idx(3), idx(0))).toBe(false); // not the latest probe
    expect(progress.maybeDecrTo(idx(4), idx(1))).toBe(true);
    expect(progress.next).toBe(2);
    expect(progress.maybeUpdate(idx(3))).toBe(true);
    progress.becomeReplicate();
    expect(progress.next).toBe(4);
    progress.sentEntries(2, idx(5), idx(0));
    progress.sentEntries(1, idx(6), idx(0));
    expect(progress.next).toBe(7);
    expect(progress.isPaused()).toBe(true);
    expect(progress.maybeDecrTo(idx(2), idx(2))).toBe(false); // below match: stale
    expect(progress.maybeDecrTo(idx(5), idx(2))).toBe(true);
    expect(progress.next).toBe(4);
    expect(() => { progress.match = idx(9); progress.checkInvariants(); }).toThrow(/match/);
  });
});

describe('MemoryStorage', () => {
  it('answers entries, terms and bounds; compacts and snapshots', () => {
    const storage = new MemoryStorage();
    storage.append(entriesWithTerms([1, 1, 2, 3, 3]));
    expect(storage.firstIndex()).toBe(1);
    expect(storage.lastIndex()).toBe(5);
    expect(storage.term(idx(3))).toEqual({ ok: true, value: 2 });
    expect(storage.term(idx(6))).toEqual({ ok: false, error: 'unavailable' });
    expect(storage.entries(idx(2), idx(5), 0)).toMatchObject({ ok: true, value: [{ index: 2 }] });
    storage.createSnapshot(idx(3), confState([1]), new Uint8Array([7]));
    storage.compact(idx(3));
    expect(storage.firstIndex()).toBe(4);
    expect(storage.term(idx(3))).toEqual({ ok: true, value: 2 });
    expect(storage.term(idx(2))).toEqual({ ok: false, error: 'compacted' });
    expect(storage.entries(idx(3), idx(5), Infinity)).toEqual({ ok: false, error: 'compacted' });
    expect(storage.createSnapshot(idx(2), confState([1]), new Uint8Array(0))).toEqual({ ok: false, error: 'compacted' });
    // A conflicting append replaces the tail.
    storage.append(entriesWithTerms([4, 4], 5));
    expect(storage.lastIndex()).toBe(6);
    expect(storage.term(idx(5))).toEqual({ ok: true, value: 4 });
    expect(() => storage.append(entriesWithTerms([5], 9))).toThrow(/missing/);
    expect(storage.applySnapshot({ index: idx(2), term: term(1), confState: confState([1]), data: new Uint8Array(0) }))
      .toEqual({ ok: false, error: 'compacted' });
    expect(storage.applySnapshot({ index: idx(3), term: term(2), confState: confState([1]), data: new Uint8Array([8]) }))
      .toEqual({ ok: true, value: undefined });
    expect(storage.lastIndex()).toBe(3);
  });
});

describe('conf change codec and changer', () => {
  it('round-trips', () => {
    const change: ConfChangeV2 = {
      transition: 'explicit',
      changes: [{ type: 'addNode', nodeId: asRaftId(7) }, { type: 'removeNode', nodeId: asRaftId(123456789) }],
      context: new Uint8Array([1, 2, 3]),
    };
    expect(decodeConfChange(encodeConfChange(change))).toEqual(change);
  });
  it('refuses changes that would break the configuration', () => {
    const base = { config: EMPTY_TRACKER_CONFIG, progress: new Map(), lastIndex: idx(0), maxInflightMsgs: 4 };
    const three = restoreConfState(base, confState([1, 2, 3]));
    expect(three.ok).toBe(true);
    if (!three.ok) return;
    const context = { ...base, config: three.config, progress: three.progress };
    const twoAtOnce: ConfChangeV2 = { transition: 'auto', changes: [], context: new Uint8Array(0) };
    expect(applyConfChangeV2(context, twoAtOnce)).toMatchObject({ ok: false, error: "can't leave a non-joint config" });
    const simpleTwo = applyConfChangeV2(context, {
      transition: 'auto', changes: [{ type: 'addNode', nodeId: asRaftId(4) }], context: new Uint8Array(0),
    });
    expect(simpleTwo.ok).toBe(true);
  });
  it('restores any ConfState it produced (joint ones included)', () => {
    const base = { config: EMPTY_TRACKER_CONFIG, progress: new Map(), lastIndex: idx(0), maxInflightMsgs: 4 };
    const joint = {
      voters: [1, 2, 4].map(asRaftId), learners: [5].map(asRaftId), votersOutgoing: [1, 2, 3].map(asRaftId),
      learnersNext: [3].map(asRaftId), autoLeave: true,
    };
    const restored = restoreConfState(base, joint);
    expect(restored.ok).toBe(true);
    if (restored.ok) expect(toConfState(restored.config)).toEqual(joint);
  });
});
