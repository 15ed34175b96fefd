/**
 * A read-only report of a node's Raft state, the data behind `pico.raft_status()`.
 */
import type { ProgressState } from './progress.ts';
import type { Raft } from './raft.ts';
import type { LogIndex, RaftId, RaftRole, Term } from './types.ts';

export interface ProgressStatus {
  readonly match: LogIndex;
  readonly next: LogIndex;
  readonly state: ProgressState;
  readonly paused: boolean;
  readonly pendingSnapshot: LogIndex;
  readonly recentActive: boolean;
  readonly isLearner: boolean;
  readonly inflightCount: number;
}

export interface RaftStatus {
  readonly id: RaftId;
  readonly term: Term;
  readonly vote: RaftId;
  /** 0 when no leader is known. */
  readonly leaderId: RaftId;
  readonly raftState: RaftRole;
  readonly commit: LogIndex;
  /**
   * The highest commit index this node knows a leader has reached: its own on the leader, else
   * the highest a leader has told it (see Raft.leaderCommit), and never below its own commit.
   */
  readonly leaderCommit: LogIndex;
  readonly applied: LogIndex;
  readonly firstIndex: LogIndex;
  readonly lastIndex: LogIndex;
  readonly voters: readonly RaftId[];
  readonly learners: readonly RaftId[];
  readonly votersOutgoing: readonly RaftId[];
  readonly learnersNext: readonly RaftId[];
  /** Node leadership is being transferred to, or 0. */
  readonly leadTransferee: RaftId;
  /** Followers' replication progress; only on the leader. */
  readonly progress?: ReadonlyMap<RaftId, ProgressStatus>;
}

export function raftStatus(raft: Raft): RaftStatus {
  const confState = raft.tracker.confState();
  const base = {
    id: raft.id,
    term: raft.term,
    vote: raft.vote,
    leaderId: raft.lead,
    raftState: raft.state,
    commit: raft.log.committed,
    leaderCommit: raft.leaderCommit > raft.log.committed ? raft.leaderCommit : raft.log.committed,
    applied: raft.log.applied,
    firstIndex: raft.log.firstIndex(),
    lastIndex: raft.log.lastIndex(),
    voters: confState.voters,
    learners: confState.learners,
    votersOutgoing: confState.votersOutgoing,
    learnersNext: confState.learnersNext,
    leadTransferee: raft.leadTransferee,
  };
  if (raft.state !== 'Leader') return base;
  const progress = new Map<RaftId, ProgressStatus>();
  raft.tracker.visit((id, pr) => {
    progress.set(id, {
      match: pr.match,
      next: pr.next,
      state: pr.state,
      paused: pr.isPaused(),
      pendingSnapshot: pr.pendingSnapshot,
      recentActive: pr.recentActive,
      isLearner: pr.isLearner,
      inflightCount: pr.inflights.size,
    });
  });
  return { ...base, progress };
}
