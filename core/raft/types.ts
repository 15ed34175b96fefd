/**
 * Plain data shared by every part of the Raft core: branded ids, log entries, the persistent
 * hard state, membership (ConfState) and snapshots. Nothing here has behaviour beyond
 * construction-time checks.
 */
import { assert } from '../lib/assert.ts';

declare const raftIdBrand: unique symbol;
declare const termBrand: unique symbol;
declare const logIndexBrand: unique symbol;

/** A node's Raft id. 0 is reserved for "nobody" (`NO_RAFT_ID`). */
export type RaftId = number & { readonly [raftIdBrand]: true };
/** A Raft term. 0 is the term before any election. */
export type Term = number & { readonly [termBrand]: true };
/** A position in the Raft log. 0 is the position before the first entry. */
export type LogIndex = number & { readonly [logIndexBrand]: true };

/** The id that means "no node": no vote cast, no known leader, a local message's sender. */
export const NO_RAFT_ID = 0 as RaftId;

export function asRaftId(value: number): RaftId {
  assert(Number.isSafeInteger(value) && value > 0, () => `raft id must be a positive integer: ${value}`);
  return value as RaftId;
}

/** Like `asRaftId` but also accepts 0, for fields where "nobody" is legal (vote, leader). */
export function asRaftIdOrNone(value: number): RaftId {
  assert(Number.isSafeInteger(value) && value >= 0, () => `raft id must be >= 0: ${value}`);
  return value as RaftId;
}

export function asTerm(value: number): Term {
  assert(Number.isSafeInteger(value) && value >= 0, () => `term must be a non-negative integer: ${value}`);
  return value as Term;
}

export function asLogIndex(value: number): LogIndex {
  assert(Number.isSafeInteger(value) && value >= 0, () => `log index must be a non-negative integer: ${value}`);
  return value as LogIndex;
}

export const ZERO_TERM = 0 as Term;
export const ZERO_INDEX = 0 as LogIndex;

/** `normal` entries carry application commands; `confChange` entries carry an encoded ConfChangeV2. */
export type EntryKind = 'normal' | 'confChange';

export interface Entry {
  readonly index: LogIndex;
  readonly term: Term;
  readonly kind: EntryKind;
  /** Opaque to Raft for `normal`; `encodeConfChange()` bytes for `confChange`. Empty = no-op. */
  readonly data: Uint8Array;
}

/**
 * Fixed per-entry overhead counted by size limits on top of `data`, approximating the index, term
 * and kind fields on the wire. Keeps empty entries from being free when batching by size.
 */
export const ENTRY_OVERHEAD_BYTES = 24;

export function entrySizeBytes(entry: Entry): number {
  return entry.data.length + ENTRY_OVERHEAD_BYTES;
}

/** Sum of `data` lengths only: what the uncommitted-size cap counts (empty entries are free). */
export function payloadSizeBytes(entries: readonly Entry[]): number {
  let total = 0;
  for (const entry of entries) total += entry.data.length;
  return total;
}

/** The state that must be on stable storage before any message depending on it is sent. */
export interface HardState {
  readonly term: Term;
  readonly vote: RaftId;
  readonly commit: LogIndex;
}

export const EMPTY_HARD_STATE: HardState = { term: ZERO_TERM, vote: NO_RAFT_ID, commit: ZERO_INDEX };

export function hardStateEqual(a: HardState, b: HardState): boolean {
  return a.term === b.term && a.vote === b.vote && a.commit === b.commit;
}

/**
 * Cluster membership as persisted in snapshots and returned by `applyConfChange`.
 * In a joint configuration `votersOutgoing` is non-empty and a decision needs a majority of both
 * `voters` and `votersOutgoing`. `learnersNext` holds nodes demoted from outgoing voters: they
 * become learners when the joint configuration is left.
 */
export interface ConfState {
  readonly voters: readonly RaftId[];
  readonly learners: readonly RaftId[];
  readonly votersOutgoing: readonly RaftId[];
  readonly learnersNext: readonly RaftId[];
  /** Whether the leader proposes leaving the joint configuration on its own. */
  readonly autoLeave: boolean;
}

export const EMPTY_CONF_STATE: ConfState = {
  voters: [],
  learners: [],
  votersOutgoing: [],
  learnersNext: [],
  autoLeave: false,
};

export function confStateEqual(a: ConfState, b: ConfState): boolean {
  const same = (x: readonly RaftId[], y: readonly RaftId[]): boolean => {
    if (x.length !== y.length) return false;
    const sortedX = [...x].sort((p, q) => p - q);
    const sortedY = [...y].sort((p, q) => p - q);
    return sortedX.every((v, i) => v === sortedY[i]);
  };
  return (
    same(a.voters, b.voters) &&
    same(a.learners, b.learners) &&
    same(a.votersOutgoing, b.votersOutgoing) &&
    same(a.learnersNext, b.learnersNext) &&
    a.autoLeave === b.autoLeave
  );
}

/**
 * A point-in-time image of the state machine: everything up to and including `index` (written at
 * `term`) is folded into `data`, which only the application understands.
 */
export interface Snapshot {
  readonly index: LogIndex;
  readonly term: Term;
  readonly confState: ConfState;
  readonly data: Uint8Array;
}

export const EMPTY_SNAPSHOT: Snapshot = {
  index: ZERO_INDEX,
  term: ZERO_TERM,
  confState: EMPTY_CONF_STATE,
  data: new Uint8Array(0),
};

export function isEmptySnapshot(snapshot: Snapshot): boolean {
  return snapshot.index === 0;
}

/** The four roles. `PreCandidate` probes for votes at term+1 without bumping its own term. */
export type RaftRole = 'Follower' | 'PreCandidate' | 'Candidate' | 'Leader';

/** State that is useful to report but need not be persisted. */
export interface SoftState {
  readonly leaderId: RaftId;
  readonly raftState: RaftRole;
}

/** The answer to a ReadIndex request: reads that see everything up to `index` are linearizable. */
export interface ReadState {
  readonly index: LogIndex;
  readonly context: Uint8Array;
}
