/**
 * Replication configuration, driven by the governor. Every call is fenced by
 * `(term, index, timeout_ms)`: the callee first applies the log up to `index`, then refuses if
 * the term moved on (a stale governor).
 * - `.proc_replication(term, index, timeout_ms, replicaset_id, is_master, replicaset_peers)`:
 *   records the replicaset's peers (box.cfg.replication) and sets read-only unless master.
 * - `.proc_replication_promote(term, index, timeout_ms)`: this instance becomes writable master.
 * - `.proc_replication_demote(term, index, timeout_ms)`: this instance becomes read-only; returns
 *   `{lsn}`, its last committed LSN once the writes already submitted settled.
 * - `.proc_replication_sync(term, index, timeout_ms, master_id, lsn)`: waits until this replica
 *   has fetched and applied master `master_id`'s WAL up to `lsn` (the catch-up of a graceful
 *   master switch); `timeout: ...` when it does not within `timeout_ms`.
 * - `.proc_replication_progress(term, index, timeout_ms, master_id)`: `{lsn, sync}`, how far
 *   this replica holds that master's WAL (the governor promotes the member that holds the most)
 *   and whether it has synchronous spaces.
 * Data itself flows from the master to the others by pull (core/replication/): a member that is
 * not master follows whoever the replicaset table names master.
 * Errors: `raft term mismatch: ...`, `timeout`, `cannot replicate with different replicaset:
 * expected "A", requested "B"`.
 */

import type { MpValue } from '../codec/msgpack.ts';
import type { Node } from '../node/node.ts';
import { ProcError, str, uint } from './proc-error.ts';
import { becomeWritable } from '../replication/writable.ts';
import { progressOf } from '../replication/applier.ts';
import { holdsHistory } from '../replication/state-spaces.ts';
import type { Proc } from './proc.ts';

export const PROC_REPLICATION = '.proc_replication';
export const PROC_REPLICATION_PROMOTE = '.proc_replication_promote';
export const PROC_REPLICATION_DEMOTE = '.proc_replication_demote';
export const PROC_REPLICATION_SYNC = '.proc_replication_sync';
export const PROC_REPLICATION_PROGRESS = '.proc_replication_progress';

async function fenced(node: Node, args: readonly MpValue[]): Promise<void> {
  await node.fence(uint(args[0] ?? null, 'term'), uint(args[1] ?? null, 'index'), uint(args[2] ?? null, 'timeout_ms'));
}

export const replicationProc: Proc = {
  name: PROC_REPLICATION,
  async handle(node, args) {
    await fenced(node, args);
    const replicasetId = str(args[3] ?? null, 'replicaset_id');
    const own = node.self()?.replicasetId;
    if (own !== undefined && own !== replicasetId) {
      throw new ProcError(`cannot replicate with different replicaset: expected "${own}", requested "${replicasetId}"`);
    }
    const isMaster = args[4] === true;
    const peers = args[5];
    if (!Array.isArray(peers)) throw new ProcError('replicaset_peers must be an array');
    node.replication = { replicasetId, isMaster, peers: peers.map((p) => `guest:@${str(p as MpValue, 'peer')}`) };
    if (isMaster) await becomeWritable(node, node.tables.replicationFactor());
    else node.box.readOnly = true;
    node.log.info('replication configured', { replicaset_id: replicasetId, is_master: isMaster, peers: peers.length });
    return [{}];
  },
};

export const replicationPromoteProc: Proc = {
  name: PROC_REPLICATION_PROMOTE,
  async handle(node, args) {
    await fenced(node, args);
    await becomeWritable(node, node.tables.replicationFactor());
    if (node.replication !== null) node.replication = { ...node.replication, isMaster: true };
    node.log.info('promoted to replicaset master');
    return [{}];
  },
};

export const replicationDemoteProc: Proc = {
  name: PROC_REPLICATION_DEMOTE,
  async handle(node, args) {
    await fenced(node, args);
    node.box.readOnly = true;
    if (node.replication !== null) node.replication = { ...node.replication, isMaster: false };
    // Writes already submitted still count: the successor catches up to the last of them.
    await node.box.waitCommitted(node.box.lastAssignedLsn).catch(() => undefined);
    node.log.info('demoted to read-only replica', { lsn: node.box.committedLsn });
    return [{ lsn: node.box.committedLsn, sync: node.box.hasSyncSpaces() }];
  },
};

export const replicationProgressProc: Proc = {
  name: PROC_REPLICATION_PROGRESS,
  async handle(node, args) {
    await fenced(node, args);
    const masterId = str(args[3] ?? null, 'master_id');
    return [{ lsn: progressOf(node, masterId), sync: node.box.hasSyncSpaces(), caught_up: holdsHistory(node.box) }];
  },
};

/** Pause between looks at the replica's progress while it catches up. */
const SYNC_POLL_MS = 20;

export const replicationSyncProc: Proc = {
  name: PROC_REPLICATION_SYNC,
  async handle(node, args) {
    await fenced(node, args);
    const timeoutMs = uint(args[2] ?? null, 'timeout_ms');
    const masterId = str(args[3] ?? null, 'master_id');
    const lsn = uint(args[4] ?? null, 'lsn');
    const deadlineMs = node.env.clock.nowMs() + timeoutMs;
    const caughtUp = (): boolean => progressOf(node, masterId) >= lsn;
    while (!caughtUp()) {
      if (node.env.clock.nowMs() >= deadlineMs) throw new ProcError(`timeout: caught up with ${masterId} to LSN ${progressOf(node, masterId)} of ${lsn}`);
      await node.env.clock.sleep(SYNC_POLL_MS);
    }
    return [{}];
  },
};
