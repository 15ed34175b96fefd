/**
 * Raft data on the wire and on disk, as compact msgpack arrays. A message is
 * `[type, from, to, term, ...fields]`; the field order per type is fixed below and checked on
 * decode, so a malformed message from the network is an error, never a bad step.
 */

import { MsgpackError, decode, encode, type MpValue } from '../codec/msgpack.ts';
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

export function encodeMessage(m: RaftMessage): Uint8Array {
  return encode(messageToValue(m));
}

export function decodeMessage(bytesIn: Uint8Array): RaftMessage {
  try {
    return messageFromValue(decode(bytesIn));
  } catch (error) {
    if (error instanceof MsgpackError || error instanceof RaftCodecError) throw new RaftCodecError(`bad raft message: ${error.message}`);
    throw new RaftCodecError(`bad raft message: ${error instanceof Error ? error.message : String(error)}`);
  }
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
  const [type, fromRaw, toRaw, termRaw, ...f] = v as MpValue[];
  const env = { from: asRaftIdOrNone(num(fromRaw)), to: asRaftIdOrNone(num(toRaw)), term: asTerm(num(termRaw)) };
  const need = (n: number): void => {
    if (f.length !== n) throw new RaftCodecError(`${String(type)} needs ${n} fields, got ${f.length}`);
  };
  switch (type) {
    case 'hup':
      need(1);
      return { ...env, type, transfer: f[0] === true };
    case 'beat':
    case 'checkQuorum':
    case 'timeoutNow':
    case 'unreachable':
      need(0);
      return { ...env, type };
    case 'propose':
      need(1);
      return { ...env, type, entries: list(f[0]).map(entryFromValue) };
    case 'append':
      need(4);
      return { ...env, type, prevIndex: asLogIndex(num(f[0])), prevTerm: asTerm(num(f[1])), entries: list(f[2]).map(entryFromValue), commit: asLogIndex(num(f[3])) };
    case 'appendResponse':
      need(5);
      return { ...env, type, index: asLogIndex(num(f[0])), reject: f[1] === true, hintIndex: asLogIndex(num(f[2])), hintTerm: asTerm(num(f[3])), requestSnapshot: f[4] === true };
    case 'vote':
    case 'preVote':
      need(4);
      return { ...env, type, lastIndex: asLogIndex(num(f[0])), lastTerm: asTerm(num(f[1])), transfer: f[2] === true, priority: num(f[3]) };
    case 'voteResponse':
    case 'preVoteResponse':
    case 'snapshotStatus':
      need(1);
      return { ...env, type, reject: f[0] === true };
    case 'heartbeat':
      need(2);
      return { ...env, type, commit: asLogIndex(num(f[0])), context: bytes(f[1]) };
    case 'heartbeatResponse':
    case 'readIndex':
      need(1);
      return { ...env, type, context: bytes(f[0]) };
    case 'readIndexResponse':
      need(2);
      return { ...env, type, index: asLogIndex(num(f[0])), context: bytes(f[1]) };
    case 'snapshot':
      need(1);
      return { ...env, type, snapshot: snapshotFromValue(f[0]) };
    case 'transferLeader':
      need(1);
      return { ...env, type, transferee: asRaftId(num(f[0])) };
    default:
      throw new RaftCodecError(`unknown raft message type ${String(type)}`);
  }
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
