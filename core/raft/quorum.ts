/**
 * Quorum arithmetic for majority and joint configurations: which index a quorum has
 * acknowledged, and how an election stands. Pure functions over sets of ids.
 */
import { assert } from '../lib/assert.ts';
import { type LogIndex, type RaftId, asLogIndex } from './types.ts';

export type VoteResult = 'pending' | 'lost' | 'won';

/** A simple majority configuration. An empty one is a no-op in a joint config. */
export type MajorityConfig = ReadonlySet<RaftId>;

/** Acknowledged index per voter (undefined = unknown, counts as 0). */
export type AckedIndexer = (id: RaftId) => LogIndex | undefined;

/** raft-rs group commit: the commit group a voter lives in (0 = unknown). */
export type CommitGroupOf = (id: RaftId) => number;

export function majoritySize(voterCount: number): number {
  return Math.floor(voterCount / 2) + 1;
}

/**
 * The largest index acknowledged by a majority. An empty config returns +Infinity as a
 * LogIndex-compatible "no constraint" so that joint configs take the other half's value.
 */
export function majorityCommittedIndex(config: MajorityConfig, acked: AckedIndexer): number {
  if (config.size === 0) return Number.POSITIVE_INFINITY;
  const indexes: number[] = [];
  for (const id of config) indexes.push(acked(id) ?? 0);
  indexes.sort((a, b) => b - a);
  return indexes[majoritySize(indexes.length) - 1]!;
}

/**
 * raft-rs group commit: like `majorityCommittedIndex`, but an index also has to reach a second
 * commit group (so that losing one whole group, e.g. a data centre, cannot lose it). When every
 * voter is in the same known group the plain quorum index applies; when groups are unknown the
 * index has to be on every voter.
 */
export function majorityGroupCommittedIndex(
  config: MajorityConfig,
  acked: AckedIndexer,
  groupOf: CommitGroupOf,
): number {
  if (config.size === 0) return Number.POSITIVE_INFINITY;
  const matched: { index: number; group: number }[] = [];
  for (const id of config) matched.push({ index: acked(id) ?? 0, group: groupOf(id) });
  matched.sort((a, b) => b.index - a.index);
  const quorum = matched[majoritySize(matched.length) - 1]!;
  let checkedGroup = quorum.group;
  let singleGroup = true;
  for (const entry of matched) {
    if (entry.group === 0) {
      singleGroup = false;
      continue;
    }
    if (checkedGroup === 0) {
      checkedGroup = entry.group;
      continue;
    }
    if (checkedGroup !== entry.group) return Math.min(entry.index, quorum.index);
  }
  return singleGroup ? quorum.index : matched[matched.length - 1]!.index;
}

/** Tallies votes: won with a majority of yes, lost once a majority is out of reach. */
export function majorityVoteResult(config: MajorityConfig, votes: ReadonlyMap<RaftId, boolean>): VoteResult {
  // An empty config wins every election, so that a joint config defers to the other half.
  if (config.size === 0) return 'won';
  let granted = 0;
  let missing = 0;
  for (const id of config) {
    const vote = votes.get(id);
    if (vote === undefined) missing++;
    else if (vote) granted++;
  }
  const quorum = majoritySize(config.size);
  if (granted >= quorum) return 'won';
  if (granted + missing >= quorum) return 'pending';
  return 'lost';
}

/** A (possibly joint) voter configuration: [incoming, outgoing]; outgoing empty when not joint. */
export interface JointConfig {
  readonly incoming: MajorityConfig;
  readonly outgoing: MajorityConfig;
}

export function jointCommittedIndex(config: JointConfig, acked: AckedIndexer, groupOf?: CommitGroupOf): LogIndex {
  const committed = (half: MajorityConfig): number =>
    groupOf === undefined ? majorityCommittedIndex(half, acked) : majorityGroupCommittedIndex(half, acked, groupOf);
  const index = Math.min(committed(config.incoming), committed(config.outgoing));
  // Both halves empty cannot happen for a live config: it would make everything committed.
  assert(Number.isFinite(index), 'a joint config must have at least one voter');
  return asLogIndex(index);
}

export function jointVoteResult(config: JointConfig, votes: ReadonlyMap<RaftId, boolean>): VoteResult {
  const incoming = majorityVoteResult(config.incoming, votes);
  const outgoing = majorityVoteResult(config.outgoing, votes);
  if (incoming === outgoing) return incoming;
  if (incoming === 'lost' || outgoing === 'lost') return 'lost';
  return 'pending';
}

/** Every voter in either half. */
export function jointVoterIds(config: JointConfig): Set<RaftId> {
  return new Set([...config.incoming, ...config.outgoing]);
}
