/**
 * Raft data on the wire and on disk, as compact msgpack arrays. A message is
 * `[type, from, to, term, ...fields]`; the field order per type is fixed below and checked on
 * decode, so a malformed message from the network is an error, never a bad step.
 */

import type { MpValue } from '../codec/msgpack.ts';
import type { RaftMessage } from '../raft/messages.ts';
import {
  asLogIndex,
  asRaftId,
  asRaftIdOrNone,
  asTerm,
  type ConfState,
  type Entry,
  type HardState,
  type Snapshot,
} from '../raft/types.ts';

export class RaftCodecError extends Error {
  override readonly name = 'RaftCodecError';
}

export function entryToValue(e: Entry): MpValue {
  return [e.index, e.term, e.kind === 'confChange' ? 1 : 0, e.data];
}

export function entryFromValue(v: MpValue): Entry {
  const [index, term, kind, data] = tuple(v, 4, 'entry');
  return { index: asLogIndex(num(index)), term: asTerm(num(term)), kind: num(kind) === 1 ? 'confChange' : 'normal', data: bytes(data) };
}

export function confStateToValue(c: ConfState): MpValue {
  return [[...c.voters], [...c.learners], [...c.votersOutgoing], [...c.learnersNext], c.autoLeave];
}

export function confStateFromValue(v: MpValue): ConfState {
  const [voters, learners, votersOutgoing, learnersNext, autoLeave] = tuple(v, 5, 'conf state');
  return { voters: ids(voters), learners: ids(learners), votersOutgoing: ids(votersOutgoing), learnersNext: ids(learnersNext), autoLeave: autoLeave === true };
}

export function snapshotToValue(s: Snapshot): MpValue {
  return [s.index, s.term, confStateToValue(s.confState), s.data];
}

export function snapshotFromValue(v: MpValue): Snapshot {
  const [index, term, confState, data] = tuple(v, 4, 'snapshot');
  return { index: asLogIndex(num(index)), term: asTerm(num(term)), confState: confStateFromValue(confState), data: bytes(data) };
}

export function hardStateToValue(h: HardState): MpValue {
  return [h.term, h.vote, h.commit];
}

export function hardStateFromValue(v: MpValue): HardState {
  const [term, vote, commit] = tuple(v, 3, 'hard state');
  return { term: asTerm(num(term)), vote: asRaftIdOrNone(num(vote)), commit: asLogIndex(num(commit)) };
}

export function messageToValue(m: RaftMessage): MpValue {
  const head: MpValue[] = [m.type, m.from, m.to, m.term];
  switch (m.type) {
    case 'hup':
      return [...head, m.transfer];
    case 'beat':
    case 'checkQuorum':
    case 'timeoutNow':
    case 'unreachable':
      return head;
    case 'propose':
      return [...head, m.entries.map(entryToValue)];
    case 'append':
      return [...head, m.prevIndex, m.prevTerm, m.entries.map(entryToValue), m.commit];
    case 'appendResponse':
      return [...head, m.index, m.reject, m.hintIndex, m.hintTerm, m.requestSnapshot];
    case 'vote':
    case 'preVote':
      return [...head, m.lastIndex, m.lastTerm, m.transfer, m.priority];
    case 'voteResponse':
    case 'preVoteResponse':
    case 'snapshotStatus':
      return [...head, m.reject];
    case 'heartbeat':
      return [...head, m.commit, m.context];
    case 'heartbeatResponse':
    case 'readIndex':
      return [...head, m.context];
    case 'readIndexResponse':
      return [...head, m.index, m.context];
    case 'snapshot':
      return [...head, snapshotToValue(m.snapshot)];
    case 'transferLeader':
      return [...head, m.transferee];
  }
}

export function messageFromValue(v: MpValue): RaftMessage {
  if (!Array.isArray(v) || v.length < 4) throw new RaftCodecError('message must be [type, from, to, term, ...]');
  const a = v as MpValue[];
  const type = a[0];
  const from = asRaftIdOrNone(num(a[1]));
  const to = asRaftIdOrNone(num(a[2]));
  const term = asTerm(num(a[3]));
  const fields = a.length - 4;
  switch (type) {
    case 'hup':
      checkFieldCount(type, fields, 1);
      return { from, to, term, type, transfer: a[4] === true };
    case 'beat':
    case 'checkQuorum':
    case 'timeoutNow':
    case 'unreachable':
      checkFieldCount(type, fields, 0);
      return { from, to, term, type };
    case 'propose':
      checkFieldCount(type, fields, 1);
      return { from, to, term, type, entries: list(a[4]).map(entryFromValue) };
    case 'append':
      checkFieldCount(type, fields, 4);
      return { from, to, term, type, prevIndex: asLogIndex(num(a[4])), prevTerm: asTerm(num(a[5])), entries: list(a[6]).map(entryFromValue), commit: asLogIndex(num(a[7])) };
    case 'appendResponse':
      checkFieldCount(type, fields, 5);
      return { from, to, term, type, index: asLogIndex(num(a[4])), reject: a[5] === true, hintIndex: asLogIndex(num(a[6])), hintTerm: asTerm(num(a[7])), requestSnapshot: a[8] === true };
    case 'vote':
    case 'preVote':
      checkFieldCount(type, fields, 4);
      return { from, to, term, type, lastIndex: asLogIndex(num(a[4])), lastTerm: asTerm(num(a[5])), transfer: a[6] === true, priority: num(a[7]) };
    case 'voteResponse':
    case 'preVoteResponse':
    case 'snapshotStatus':
      checkFieldCount(type, fields, 1);
      return { from, to, term, type, reject: a[4] === true };
    case 'heartbeat':
      checkFieldCount(type, fields, 2);
      return { from, to, term, type, commit: asLogIndex(num(a[4])), context: bytes(a[5]) };
    case 'heartbeatResponse':
    case 'readIndex':
      checkFieldCount(type, fields, 1);
      return { from, to, term, type, context: bytes(a[4]) };
    case 'readIndexResponse':
      checkFieldCount(type, fields, 2);
      return { from, to, term, type, index: asLogIndex(num(a[4])), context: bytes(a[5]) };
    case 'snapshot':
      checkFieldCount(type, fields, 1);
      return { from, to, term, type, snapshot: snapshotFromValue(a[4]) };
    case 'transferLeader':
      checkFieldCount(type, fields, 1);
      return { from, to, term, type, transferee: asRaftId(num(a[4])) };
    default:
      throw new RaftCodecError(`unknown raft message type ${String(type)}`);
  }
}

/** Decodes a message that arrived as a msgpack value (not bytes); malformed input throws RaftCodecError. */
export function decodeMessageValue(value: MpValue): RaftMessage {
  try {
    return messageFromValue(value);
  } catch (error) {
    if (error instanceof RaftCodecError) throw error;
    throw new RaftCodecError(`bad raft message: ${error instanceof Error ? error.message : String(error)}`);
  }
}

function checkFieldCount(type: MpValue, actual: number, expected: number): void {
  if (actual !== expected) throw new RaftCodecError(`${String(type)} needs ${expected} fields, got ${actual}`);
}

function tuple(v: MpValue, n: number, what: string): MpValue[] {
  if (!Array.isArray(v) || v.length !== n) throw new RaftCodecError(`${what} must be an array of ${n}`);
  return v as MpValue[];
}

function list(v: MpValue): MpValue[] {
  if (!Array.isArray(v)) throw new RaftCodecError('expected an array');
  return v as MpValue[];
}

function num(v: MpValue): number {
  if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < 0) throw new RaftCodecError(`expected a non-negative integer, got ${String(v)}`);
  return v;
}

function bytes(v: MpValue): Uint8Array {
  if (!(v instanceof Uint8Array)) throw new RaftCodecError('expected binary data');
  return v;
}

function ids(v: MpValue): ReturnType<typeof asRaftId>[] {
  return list(v).map((x) => asRaftId(num(x)));
}
