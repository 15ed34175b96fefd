/**
 * Replication configuration, driven by the governor. Every call is fenced by
 * `(term, index, timeout_ms)`: the callee first applies the log up to `index`, then refuses if
 * the term moved on (a stale governor).
 * - `.proc_replication(term, index, timeout_ms, replicaset_id, is_master, replicaset_peers)`:
 *   records the replicaset's peers (box.cfg.replication) and sets read-only unless master.
 * - `.proc_replication_promote(term, index, timeout_ms)`: this instance becomes writable master.
 * - `.proc_replication_demote(term, index, timeout_ms)`: this instance becomes read-only.
 * Data replication itself (streaming the WAL between members) is a later capability; until it
 * exists these calls configure exactly what they say, and nothing claims data was copied.
 * Errors: `raft term mismatch: ...`, `timeout`, `cannot replicate with different replicaset:
 * expected "A", requested "B"`.
 */

import type { MpValue } from '../codec/msgpack.ts';
import type { Node } from '../node/node.ts';
import { ProcError, str, uint } from './proc-error.ts';
import type { Proc } from './proc.ts';

export const PROC_REPLICATION = '.proc_replication';
export const PROC_REPLICATION_PROMOTE = '.proc_replication_promote';
export const PROC_REPLICATION_DEMOTE = '.proc_replication_demote';

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
    node.box.readOnly = !isMaster;
    node.log.info('replication configured', { replicaset_id: replicasetId, is_master: isMaster, peers: peers.length });
    return [{}];
  },
};

export const replicationPromoteProc: Proc = {
  name: PROC_REPLICATION_PROMOTE,
  async handle(node, args) {
    await fenced(node, args);
    node.box.readOnly = false;
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
    node.log.info('demoted to read-only replica');
    return [{}];
  },
};
