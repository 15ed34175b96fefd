/**
 * The leader's bookkeeping for the whole group (etcd's tracker.ProgressTracker): the active
 * configuration, a Progress per tracked node, and the votes of the current election.
 */
import { assert } from '../lib/assert.ts';
import type { Progress } from './progress.ts';
import {
  type JointConfig,
  type VoteResult,
  jointCommittedIndex,
  jointVoteResult,
  jointVoterIds,
} from './quorum.ts';
import type { ConfState, LogIndex, RaftId } from './types.ts';

/** Membership in the shape the quorum code needs. Values are never mutated once built. */
export interface TrackerConfig {
  readonly voters: JointConfig;
  /** Non-voting members; disjoint from both voter halves. */
  readonly learners: ReadonlySet<RaftId>;
  /** Outgoing voters that become learners when the joint config is left. */
  readonly learnersNext: ReadonlySet<RaftId>;
  readonly autoLeave: boolean;
}

export const EMPTY_TRACKER_CONFIG: TrackerConfig = {
  voters: { incoming: new Set(), outgoing: new Set() },
  learners: new Set(),
  learnersNext: new Set(),
  autoLeave: false,
};

export type ProgressMap = ReadonlyMap<RaftId, Progress>;

export function isJoint(config: TrackerConfig): boolean {
  return config.voters.outgoing.size > 0;
}

export function sortedIds(ids: Iterable<RaftId>): RaftId[] {
  return [...ids].sort((a, b) => a - b);
}

export function toConfState(config: TrackerConfig): ConfState {
  return {
    voters: sortedIds(config.voters.incoming),
    learners: sortedIds(config.learners),
    votersOutgoing: sortedIds(config.voters.outgoing),
    learnersNext: sortedIds(config.learnersNext),
    autoLeave: config.autoLeave,
  };
}

export class ProgressTracker {
  config: TrackerConfig = EMPTY_TRACKER_CONFIG;
  progress: ProgressMap = new Map();
  readonly maxInflightMsgs: number;
  /** raft-rs group commit: commit only what reached two commit groups. */
  groupCommit = false;
  private votes = new Map<RaftId, boolean>();

  constructor(maxInflightMsgs: number) {
    this.maxInflightMsgs = maxInflightMsgs;
  }

  confState(): ConfState {
    return toConfState(this.config);
  }

  isSingleton(): boolean {
    return this.config.voters.incoming.size === 1 && this.config.voters.outgoing.size === 0;
  }

  get(id: RaftId): Progress | undefined {
    return this.progress.get(id);
  }

  /** Visits every tracked node in ascending id order, so output order is deterministic. */
  visit(visitor: (id: RaftId, progress: Progress) => void): void {
    for (const id of sortedIds(this.progress.keys())) visitor(id, this.progress.get(id)!);
  }

  voterIds(): Set<RaftId> {
    return jointVoterIds(this.config.voters);
  }

  isVoter(id: RaftId): boolean {
    return this.config.voters.incoming.has(id) || this.config.voters.outgoing.has(id);
  }

  /** The largest index a quorum has persisted, by the leader's view of each follower's match. */
  committed(): LogIndex {
    const acked = (id: RaftId): LogIndex | undefined => this.progress.get(id)?.match;
    if (!this.groupCommit) return jointCommittedIndex(this.config.voters, acked);
    const groupOf = (id: RaftId): number => this.progress.get(id)?.commitGroupId ?? 0;
    return jointCommittedIndex(this.config.voters, acked, groupOf);
  }

  /** Whether a quorum of voters showed activity since the flags were last cleared. */
  quorumActive(): boolean {
    const active = new Map<RaftId, boolean>();
    for (const [id, progress] of this.progress) {
      if (!progress.isLearner) active.set(id, progress.recentActive);
    }
    return jointVoteResult(this.config.voters, active) === 'won';
  }

  resetVotes(): void {
    this.votes = new Map();
  }

  /** Records `id`'s vote; only the first answer per election counts. */
  recordVote(id: RaftId, granted: boolean): void {
    if (!this.votes.has(id)) this.votes.set(id, granted);
  }

  tallyVotes(): { granted: number; rejected: number; result: VoteResult } {
    let granted = 0;
    let rejected = 0;
    for (const [id, progress] of this.progress) {
      if (progress.isLearner) continue;
      const vote = this.votes.get(id);
      if (vote === true) granted++;
      if (vote === false) rejected++;
    }
    return { granted, rejected, result: jointVoteResult(this.config.voters, this.votes) };
  }

  /** Installs a configuration built by confchange; it must track exactly its members. */
  install(config: TrackerConfig, progress: ProgressMap): void {
    const members = new Set([...jointVoterIds(config.voters), ...config.learners, ...config.learnersNext]);
    for (const id of members) assert(progress.has(id), () => `member ${id} has no progress`);
    for (const id of progress.keys()) assert(members.has(id), () => `progress for non-member ${id}`);
    this.config = config;
    this.progress = progress;
  }
}
