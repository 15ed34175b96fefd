/**
 * Configuration of one Raft node. Durations are in ticks: the driver decides how long a tick is
 * (Picodata: 100 ms). Defaults follow Picodata 22.11 (raft-rs 0.7 defaults plus pre-vote).
 */
import { assert } from '../lib/assert.ts';
import type { Random } from '../env/random.ts';
import type { ReadOnlyOption } from './read-only.ts';
import { type LogIndex, type RaftId, ZERO_INDEX, asRaftId } from './types.ts';

export interface RaftConfig {
  readonly id: RaftId;
  /**
   * A follower that hears nothing from a leader for a randomized timeout in
   * [electionTicks, 2 * electionTicks) starts an election. Must be > heartbeatTicks.
   */
  readonly electionTicks: number;
  /** A leader sends heartbeats every this many ticks. */
  readonly heartbeatTicks: number;
  /** Randomness for election timeouts (Raft §5.2); inject a seeded stream for determinism. */
  readonly random: Pick<Random, 'int'>;
  /** Raft thesis §9.6: probe electability at term+1 first, so a partitioned node can't disrupt. */
  readonly preVote: boolean;
  /** Raft thesis §6.2: a leader steps down if no quorum was heard from in an election timeout. */
  readonly checkQuorum: boolean;
  /** Size budget for one append message; 0 sends one entry per message. */
  readonly maxSizePerMsgBytes: number;
  /** Append messages in flight to one follower in replicate state. */
  readonly maxInflightMsgs: number;
  /** Leader stops accepting proposals once this many uncommitted payload bytes are in its log; 0 = unlimited. */
  readonly maxUncommittedEntriesSizeBytes: number;
  /** Upper bound on the size of committed entries handed out per Ready (at least one). */
  readonly maxCommittedSizePerReadyBytes: number;
  readonly readOnlyOption: ReadOnlyOption;
  /** raft-rs election priority: with equal logs, voters refuse a candidate of lower priority. */
  readonly priority: number;
  /** Followers drop proposals instead of forwarding them to the leader. */
  readonly disableProposalForwarding: boolean;
  /** A leader removed from (or demoted in) the configuration steps down when it applies that. */
  readonly stepDownOnRemoval: boolean;
  /** The index the application already applied, when restarting. 0 = none. */
  readonly appliedIndex: LogIndex;
}

export type RaftConfigInput = Pick<RaftConfig, 'id' | 'random'> & Partial<Omit<RaftConfig, 'id' | 'random'>>;

/** Picodata 22.11 settings: heartbeat 2 ticks, election 20, pre-vote on, check-quorum off. */
export const PICODATA_2211_DEFAULTS = {
  electionTicks: 20,
  heartbeatTicks: 2,
  preVote: true,
  checkQuorum: false,
  maxSizePerMsgBytes: 0,
  maxInflightMsgs: 256,
  maxUncommittedEntriesSizeBytes: 0,
  maxCommittedSizePerReadyBytes: Number.POSITIVE_INFINITY,
  readOnlyOption: 'safe',
  priority: 0,
  disableProposalForwarding: false,
  stepDownOnRemoval: true,
  appliedIndex: ZERO_INDEX,
} as const satisfies Omit<RaftConfig, 'id' | 'random'>;

/** Later Picodata settings: check-quorum on, heartbeat 10, election 100, 64-byte messages. */
export const PICODATA_HEAD_OVERRIDES = {
  electionTicks: 100,
  heartbeatTicks: 10,
  checkQuorum: true,
  maxSizePerMsgBytes: 64,
} as const satisfies Partial<RaftConfig>;

export function makeConfig(input: RaftConfigInput): RaftConfig {
  const config: RaftConfig = { ...PICODATA_2211_DEFAULTS, ...input };
  validateConfig(config);
  return config;
}

/** A bad config is a programming error in the driver: assert, don't return. */
export function validateConfig(config: RaftConfig): void {
  asRaftId(config.id);
  assert(Number.isSafeInteger(config.heartbeatTicks) && config.heartbeatTicks > 0, 'heartbeatTicks must be > 0');
  assert(Number.isSafeInteger(config.electionTicks), 'electionTicks must be an integer');
  assert(config.electionTicks > config.heartbeatTicks, 'electionTicks must be greater than heartbeatTicks');
  assert(config.maxInflightMsgs > 0, 'maxInflightMsgs must be > 0');
  assert(config.maxSizePerMsgBytes >= 0, 'maxSizePerMsgBytes must be >= 0');
  assert(config.maxUncommittedEntriesSizeBytes >= 0, 'maxUncommittedEntriesSizeBytes must be >= 0');
  assert(config.maxCommittedSizePerReadyBytes >= 0, 'maxCommittedSizePerReadyBytes must be >= 0');
  assert(Number.isFinite(config.priority), 'priority must be finite');
  if (config.readOnlyOption === 'leaseBased') {
    assert(config.checkQuorum, 'readOnlyOption leaseBased requires checkQuorum');
  }
}
