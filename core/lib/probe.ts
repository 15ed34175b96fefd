/**
 * Coverage probes (FoundationDB's code probes): named points on the rare paths a fuzz campaign
 * exists to exercise (fault handling, retries, recovery, failover), counted when reached. `sim
 * fuzz` reports, over all its seeds, how often each was hit and which never were: a probe nobody
 * reaches marks a path the faults do not test, however many seeds pass.
 *
 * A probe only counts; it never changes what the code does, so it is safe in the daemon too
 * (where nobody reads it) and does not touch determinism. Names are declared here, so a report
 * can list the probes that were never hit and a typo is a type error.
 */

export const PROBES = [
  // Raft
  'raft.leader_lost_quorum',
  'raft.snapshot_sent',
  // storage
  'wal.write_failed',
  'wal.broken',
  // cluster lifecycle
  'join.redirected',
  'join.own_address_skipped',
  'target_grade.leader_searched',
  'sentinel.marked_offline',
  'sentinel.revived_self',
  'sentinel.reannounced_address',
  'sentinel.told_peers_address',
  'governor.master_switched',
  'governor.voter_replaced',
  'shutdown.no_quorum',
  // vshard
  'vshard.router.rerouted',
  'vshard.router.retried',
  'vshard.router.write_not_retried',
  'vshard.router.no_route',
  'vshard.storage.refused',
  'vshard.transfer.sent',
  'vshard.transfer.received',
  'vshard.transfer.unknown_outcome',
  'vshard.transfer.activation_left_to_recovery',
  'vshard.recovery.reactivated',
  'vshard.recovery.marked_sent',
  'vshard.recovery.activated_received',
  'vshard.recovery.dropped_copy',
  'vshard.gc.collected',
  'vshard.rebalancer.routes_applied',
  // data replication
  'replication.applied',
  'replication.resync_requested',
  'replication.relay.copy_in_wal',
  'replication.copy_done',
  'replication.master_changed',
  'replication.apply_failed',
] as const;

export type ProbeName = (typeof PROBES)[number];

const hits = new Map<ProbeName, number>();

/** Counts one pass through the probe's path. */
export function probe(name: ProbeName): void {
  hits.set(name, (hits.get(name) ?? 0) + 1);
}

/** The hits since the last call (every declared probe, zeros included), and a fresh count. */
export function takeProbeHits(): Record<ProbeName, number> {
  const out = {} as Record<ProbeName, number>;
  for (const name of PROBES) out[name] = hits.get(name) ?? 0;
  hits.clear();
  return out;
}
