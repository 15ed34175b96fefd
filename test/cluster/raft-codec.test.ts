import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { decode, encode, type MpValue } from '../../core/codec/msgpack.ts';
import { decodeMessageValue, messageToValue, RaftCodecError } from '../../core/cluster/raft-codec.ts';
import type { RaftMessage } from '../../core/raft/messages.ts';
import { asLogIndex, asRaftId, asRaftIdOrNone, asTerm, type Entry } from '../../core/raft/types.ts';

const id = fc.integer({ min: 1, max: 1000 }).map(asRaftId);
const idOrNone = fc.integer({ min: 0, max: 1000 }).map(asRaftIdOrNone);
const term = fc.integer({ min: 0, max: 1e6 }).map(asTerm);
const index = fc.integer({ min: 0, max: 1e9 }).map(asLogIndex);
const bytes = fc.uint8Array({ maxLength: 40 });
const entry: fc.Arbitrary<Entry> = fc.record({ index, term, kind: fc.constantFrom('normal' as const, 'confChange' as const), data: bytes });
const env = fc.record({ from: idOrNone, to: idOrNone, term });
const confState = fc.record({ voters: fc.array(id, { maxLength: 5 }), learners: fc.array(id, { maxLength: 5 }), votersOutgoing: fc.array(id, { maxLength: 3 }), learnersNext: fc.array(id, { maxLength: 3 }), autoLeave: fc.boolean() });

const message: fc.Arbitrary<RaftMessage> = fc.oneof(
  env.chain((e) => fc.record({ transfer: fc.boolean() }).map((f) => ({ ...e, type: 'hup' as const, ...f }))),
  env.map((e) => ({ ...e, type: 'timeoutNow' as const })),
  env.chain((e) => fc.array(entry, { maxLength: 4 }).map((entries) => ({ ...e, type: 'propose' as const, entries }))),
  env.chain((e) => fc.record({ prevIndex: index, prevTerm: term, entries: fc.array(entry, { maxLength: 4 }), commit: index }).map((f) => ({ ...e, type: 'append' as const, ...f }))),
  env.chain((e) => fc.record({ index, reject: fc.boolean(), hintIndex: index, hintTerm: term, requestSnapshot: fc.boolean() }).map((f) => ({ ...e, type: 'appendResponse' as const, ...f }))),
  env.chain((e) => fc.record({ lastIndex: index, lastTerm: term, transfer: fc.boolean(), priority: fc.nat(100) }).map((f) => ({ ...e, type: 'vote' as const, ...f }))),
  env.chain((e) => fc.record({ lastIndex: index, lastTerm: term, transfer: fc.boolean(), priority: fc.nat(100) }).map((f) => ({ ...e, type: 'preVote' as const, ...f }))),
  env.chain((e) => fc.boolean().map((reject) => ({ ...e, type: 'voteResponse' as const, reject }))),
  env.chain((e) => fc.record({ commit: index, context: bytes }).map((f) => ({ ...e, type: 'heartbeat' as const, ...f }))),
  env.chain((e) => bytes.map((context) => ({ ...e, type: 'heartbeatResponse' as const, context }))),
  env.chain((e) => fc.record({ index, context: bytes }).map((f) => ({ ...e, type: 'readIndexResponse' as const, ...f }))),
  env.chain((e) => fc.record({ index, term, confState, data: bytes }).map((snapshot) => ({ ...e, type: 'snapshot' as const, snapshot }))),
  env.chain((e) => id.map((transferee) => ({ ...e, type: 'transferLeader' as const, transferee }))),
);

describe('raft wire codec', () => {
  it('round-trips every message type through msgpack (property)', () => {
    fc.assert(
      fc.property(message, (m) => {
        expect(decodeMessageValue(decode(encode(messageToValue(m))))).toEqual(m);
      }),
      { numRuns: 3000 },
    );
  });

  it('rejects malformed messages with RaftCodecError, never an assertion or a bad step', () => {
    const bad: MpValue[] = [null, [], ['append', 1, 2], ['append', 1, 2, 3], ['nope', 1, 2, 3], ['vote', -1, 2, 3, 1, 1, false, 0], ['heartbeat', 1, 2, 3, 5, 'not-bytes'], ['transferLeader', 1, 2, 3, 0]];
    for (const v of bad) expect(() => decodeMessageValue(v)).toThrow(RaftCodecError);
    fc.assert(
      fc.property(fc.jsonValue(), (v) => {
        try {
          decodeMessageValue(v as MpValue);
        } catch (error) {
          expect(error).toBeInstanceOf(RaftCodecError);
        }
      }),
      { numRuns: 2000 },
    );
  });
});
