import type { FailureDomain } from '../cluster/failure-domain.ts';
import type { WalMode } from '../box/wal.ts';
import { DEFAULT_CHECKPOINT_WAL_ROWS_MAX } from '../box/box.ts';
import { PICODATA_2211_DEFAULTS, type RaftConfig } from '../raft/config.ts';

/** Everything an instance is configured with: the `picodata run` options plus tuning knobs. */
export interface NodeOptions {
  readonly clusterId: string;
  readonly instanceId: string | undefined;
  readonly replicasetId: string | undefined;
  /** Address to listen on. */
  readonly listen: string;
  /** Address other instances reach this one at. */
  readonly advertise: string;
  readonly peers: readonly string[];
  readonly failureDomain: FailureDomain;
  /** Only the bootstrapping instance's value counts. */
  readonly initReplicationFactor: number;
  readonly walMode: WalMode;
  /** Start from the last good WAL record past a corrupt one (Tarantool's force_recovery). */
  readonly forceRecovery?: boolean;
  readonly tuning: NodeTuning;
}

/** Timings and limits, with Picodata's values as defaults. Units are in the names. */
export interface NodeTuning {
  readonly raftTickMs: number;
  readonly raft: Partial<Omit<RaftConfig, 'id' | 'random' | 'appliedIndex'>>;
  /** Snapshot the clusterwide tables and compact the Raft log past this many entries. */
  readonly raftCompactEntriesMax: number;
  /** Timeout of a Raft proposal and of governor RPCs (Picodata: 10 s). */
  readonly syncRpcTimeoutMs: number;
  /** Governor retry delay after a failed step (Picodata: 250 ms). */
  readonly governorRetryMs: number;
  /**
   * After a failed master switch, how long the governor plans around that replicaset (its other
   * steps go on; the replicaset keeps its unreachable master) before it tries the switch again.
   */
  readonly governorMasterSwitchBackoffMs: number;
  /** Discovery: per-request timeout (2 s) and minimal round length (200 ms). */
  readonly discoveryRequestTimeoutMs: number;
  readonly discoveryRoundMs: number;
  /** Join retry after an I/O error (1 s). */
  readonly joinRetryMs: number;
  /** Postjoin: timeout of the request for target grade Online (10 s), retried. */
  readonly postjoinTimeoutMs: number;
  /** Shutdown: retry of the Offline request (300 ms) and the on_shutdown budget (3 s). */
  readonly shutdownRetryMs: number;
  readonly shutdownTimeoutMs: number;
  /** Leader marks an instance Offline after not hearing from it this long (0 = never). */
  readonly autoOfflineTimeoutMs: number;
  /** How often the sentinel looks. */
  readonly sentinelIntervalMs: number;
  /** Raft messages queued for one peer before newer ones are dropped (Raft retransmits). */
  readonly raftMessagesInFlightMax: number;
  /**
   * How often a master settles half-done bucket transfers and collects sent buckets, and how
   * often the rebalancer looks at the bucket counts (0 = never: buckets stay where they are).
   */
  readonly vshardRecoveryIntervalMs: number;
  readonly rebalancerIntervalMs: number;
  /** Tuples per `bucket_recv` call of a bucket transfer (vshard's chunk). */
  readonly vshardTransferChunkTuplesMax: number;
  /**
   * Data replication (core/replication/): how long a replica's fetch waits at the master for a
   * commit when there is nothing to send, rows per fetch reply or copy page, and the pause
   * after a failed step (0 = the replica never replicates).
   */
  readonly replicationFetchWaitMs: number;
  readonly replicationFetchRowsMax: number;
  readonly replicationRetryMs: number;
  /** How long a synchronous transaction waits for its quorum (Tarantool's replication_synchro_timeout). */
  readonly replicationSynchroTimeoutMs: number;
  /** The box checkpoints (and trims its WAL) after this many rows (Tarantool's checkpoint_wal_threshold, in rows). */
  readonly checkpointWalRowsMax: number;
}

export const DEFAULT_TUNING: NodeTuning = {
  raftTickMs: 100,
  // Picodata 22.11's timings, but appends may carry many entries (raft-rs's default of one entry
  // per message makes every burst of proposals cost one message per entry per follower).
  raft: { ...PICODATA_2211_DEFAULTS, maxSizePerMsgBytes: 1024 * 1024 },
  // A joiner replays the whole log; past this many entries it gets a snapshot of the tables instead.
  raftCompactEntriesMax: 1_000,
  syncRpcTimeoutMs: 10_000,
  governorRetryMs: 250,
  governorMasterSwitchBackoffMs: 2_000,
  discoveryRequestTimeoutMs: 2_000,
  discoveryRoundMs: 200,
  joinRetryMs: 1_000,
  postjoinTimeoutMs: 10_000,
  shutdownRetryMs: 300,
  shutdownTimeoutMs: 3_000,
  autoOfflineTimeoutMs: 5_000,
  sentinelIntervalMs: 500,
  raftMessagesInFlightMax: 64,
  vshardRecoveryIntervalMs: 1_000,
  rebalancerIntervalMs: 1_000,
  vshardTransferChunkTuplesMax: 1_000,
  replicationFetchWaitMs: 1_000,
  replicationFetchRowsMax: 1_000,
  replicationRetryMs: 250,
  replicationSynchroTimeoutMs: 5_000,
  checkpointWalRowsMax: DEFAULT_CHECKPOINT_WAL_ROWS_MAX,
};

/** Exit codes: sysexits.h where one fits. */
export const EXIT_OK = 0;
export const EXIT_FAILURE = 1;
export { EXIT_CORRUPT_DATA, EXIT_IO_ERROR } from '../env/storage-failure.ts';
