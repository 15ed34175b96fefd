/**
 * Raft messages as a discriminated union on `type`. Every message names its sender (`from`), its
 * receiver (`to`) and the sender's `term`. Local messages (`hup`, `beat`, `checkQuorum`,
 * `unreachable`, `snapshotStatus`) never cross the network: the node or its driver feeds them to
 * itself, with term 0. `propose` and `readIndex` are local when they come from the application
 * (term 0) and travel when a follower forwards them to its leader.
 */
import type { Entry, LogIndex, RaftId, Snapshot, Term } from './types.ts';

interface Envelope {
  readonly from: RaftId;
  readonly to: RaftId;
  readonly term: Term;
}

/** Starts an election (or pre-election) now, as an election timeout would. */
export interface HupMessage extends Envelope {
  readonly type: 'hup';
  /** True when the campaign answers a leader transfer (TimeoutNow). */
  readonly transfer: boolean;
}

/** Tells a leader to broadcast heartbeats now. */
export interface BeatMessage extends Envelope {
  readonly type: 'beat';
}

/** Tells a leader to check that a quorum was active during the last election timeout. */
export interface CheckQuorumMessage extends Envelope {
  readonly type: 'checkQuorum';
}

/** Proposes entries. Followers forward it to the leader. */
export interface ProposeMessage extends Envelope {
  readonly type: 'propose';
  readonly entries: readonly Entry[];
}

/**
 * Replicates entries after (`prevIndex`, `prevTerm`). `commit` is the leader's commit index;
 * an empty `entries` is a probe.
 */
export interface AppendMessage extends Envelope {
  readonly type: 'append';
  readonly prevIndex: LogIndex;
  readonly prevTerm: Term;
  readonly entries: readonly Entry[];
  readonly commit: LogIndex;
}

/**
 * Answers `append` and `snapshot`. On success `index` is the follower's last index known to match
 * the leader. On rejection `index` echoes the rejected `prevIndex`, and (`hintIndex`, `hintTerm`)
 * name the largest follower entry that could possibly match: the leader skips straight to it.
 */
export interface AppendResponseMessage extends Envelope {
  readonly type: 'appendResponse';
  readonly index: LogIndex;
  readonly reject: boolean;
  readonly hintIndex: LogIndex;
  readonly hintTerm: Term;
  /** A follower asking for a snapshot (raft-rs request_snapshot): send one at or past `index`. */
  readonly requestSnapshot: boolean;
}

interface VoteFields {
  /** Candidate's last log index and term: voters refuse candidates less up to date than them. */
  readonly lastIndex: LogIndex;
  readonly lastTerm: Term;
  /** A campaign started by a leader transfer: it may disturb a leader lease. */
  readonly transfer: boolean;
  /** Election priority (raft-rs): with equal logs, a voter refuses a lower-priority candidate. */
  readonly priority: number;
}

export interface VoteMessage extends Envelope, VoteFields {
  readonly type: 'vote';
}

/** A pre-vote probe: `term` is the term the sender would campaign at; its own term is unchanged. */
export interface PreVoteMessage extends Envelope, VoteFields {
  readonly type: 'preVote';
}

export interface VoteResponseMessage extends Envelope {
  readonly type: 'voteResponse';
  readonly reject: boolean;
}

export interface PreVoteResponseMessage extends Envelope {
  readonly type: 'preVoteResponse';
  readonly reject: boolean;
}

/** Keeps followers' election timers quiet and carries the commit index the follower may know. */
export interface HeartbeatMessage extends Envelope {
  readonly type: 'heartbeat';
  readonly commit: LogIndex;
  /** ReadIndex context being confirmed, or empty. */
  readonly context: Uint8Array;
}

export interface HeartbeatResponseMessage extends Envelope {
  readonly type: 'heartbeatResponse';
  readonly context: Uint8Array;
}

export interface SnapshotMessage extends Envelope {
  readonly type: 'snapshot';
  readonly snapshot: Snapshot;
}

/** Leader to transferee: campaign now, even inside other nodes' leader leases. */
export interface TimeoutNowMessage extends Envelope {
  readonly type: 'timeoutNow';
}

/** Asks the leader to hand leadership to `transferee`. */
export interface TransferLeaderMessage extends Envelope {
  readonly type: 'transferLeader';
  readonly transferee: RaftId;
}

export interface ReadIndexMessage extends Envelope {
  readonly type: 'readIndex';
  /** Caller's request id; echoed back in the ReadState. Requests with equal context coalesce. */
  readonly context: Uint8Array;
}

export interface ReadIndexResponseMessage extends Envelope {
  readonly type: 'readIndexResponse';
  readonly index: LogIndex;
  readonly context: Uint8Array;
}

/** The driver tells the leader that `from` could not be reached. */
export interface UnreachableMessage extends Envelope {
  readonly type: 'unreachable';
}

/** The driver reports how sending a snapshot to `from` ended. */
export interface SnapshotStatusMessage extends Envelope {
  readonly type: 'snapshotStatus';
  readonly reject: boolean;
}

export type RaftMessage =
  | HupMessage
  | BeatMessage
  | CheckQuorumMessage
  | ProposeMessage
  | AppendMessage
  | AppendResponseMessage
  | VoteMessage
  | PreVoteMessage
  | VoteResponseMessage
  | PreVoteResponseMessage
  | HeartbeatMessage
  | HeartbeatResponseMessage
  | SnapshotMessage
  | TimeoutNowMessage
  | TransferLeaderMessage
  | ReadIndexMessage
  | ReadIndexResponseMessage
  | UnreachableMessage
  | SnapshotStatusMessage;

export type RaftMessageType = RaftMessage['type'];

/** Messages a node produces for itself; they must never be handed to the network. */
export function isLocalMessage(message: RaftMessage): boolean {
  return LOCAL_MESSAGE_TYPES[message.type];
}

/** A complete table, so a new message type cannot be forgotten here. */
const LOCAL_MESSAGE_TYPES: Readonly<Record<RaftMessageType, boolean>> = {
  hup: true, beat: true, checkQuorum: true, unreachable: true, snapshotStatus: true,
  propose: false, append: false, appendResponse: false, vote: false, preVote: false,
  voteResponse: false, preVoteResponse: false, heartbeat: false, heartbeatResponse: false,
  snapshot: false, timeoutNow: false, transferLeader: false, readIndex: false, readIndexResponse: false,
};

/**
 * Messages that acknowledge state which must be durable first (a vote, appended entries). The Ready
 * contract guarantees this: a Ready's messages are sent only after its entries and hard state are
 * persisted. Tests use this list to check that promise.
 */
export function isResponseMessage(message: RaftMessage): boolean {
  return RESPONSE_MESSAGE_TYPES[message.type];
}

const RESPONSE_MESSAGE_TYPES: Readonly<Record<RaftMessageType, boolean>> = {
  appendResponse: true, voteResponse: true, preVoteResponse: true, heartbeatResponse: true,
  readIndexResponse: true,
  hup: false, beat: false, checkQuorum: false, unreachable: false, snapshotStatus: false,
  propose: false, append: false, vote: false, preVote: false, heartbeat: false, snapshot: false,
  timeoutNow: false, transferLeader: false, readIndex: false,
};
