/**
 * Expel: `.proc_expel_on_leader(cluster_id, instance_id)` sets the instance's target grade to
 * Expelled (the governor does the rest); `.proc_expel_redirect(cluster_id, instance_id)` can be
 * called on any instance and forwards to the leader (what `picodata expel --peer` uses).
 * Errors: `cluster_id mismatch: ...`, `leader is unknown yet`, `not a leader`, `unknown instance X`,
 * `cannot update expelled instance "X"`.
 */

import type { MpValue } from '../codec/msgpack.ts';
import type { Node } from '../node/node.ts';
import { describeClientError } from './pool.ts';
import { ProcError, str } from './proc-error.ts';
import { checkClusterId, type Proc } from './proc.ts';

export const PROC_EXPEL_ON_LEADER = '.proc_expel_on_leader';
export const PROC_EXPEL_REDIRECT = '.proc_expel_redirect';

export async function expelOnLeader(node: Node, clusterId: string, instanceId: string): Promise<void> {
  checkClusterId(node, clusterId);
  const raft = node.requireRaft();
  if (raft.leaderId === 0) throw new ProcError('leader is unknown yet');
  if (raft.role !== 'Leader') throw new ProcError('not a leader');
  const updated = node.topology().updateInstance({ clusterId, instanceId, targetGrade: 'Expelled' });
  if (!updated.ok) throw new ProcError(updated.error.message);
  await raft.proposeAndWait(updated.value, node.options.tuning.syncRpcTimeoutMs);
  node.log.info('expel requested', { instance_id: instanceId });
}

export const expelOnLeaderProc: Proc = {
  name: PROC_EXPEL_ON_LEADER,
  async handle(node, args) {
    await expelOnLeader(node, str(args[0] ?? null, 'cluster_id'), str(args[1] ?? null, 'instance_id'));
    return [];
  },
};

/** Forwards an expel to the leader, wherever it is (the local instance included). */
export async function expelRedirect(node: Node, clusterId: string, instanceId: string): Promise<MpValue[]> {
  checkClusterId(node, clusterId);
  const raft = node.requireRaft();
  if (raft.role === 'Leader') {
    await expelOnLeader(node, clusterId, instanceId);
    return [];
  }
  const leader = node.leaderAddress();
  if (leader === undefined) throw new ProcError('leader is unknown yet');
  const result = await node.pool.call(leader, PROC_EXPEL_ON_LEADER, [clusterId, instanceId], node.options.tuning.syncRpcTimeoutMs);
  if (!result.ok) throw new ProcError(describeClientError(result.error), result.error.kind === 'server' ? result.error.code : 102);
  return [];
}

export const expelRedirectProc: Proc = {
  name: PROC_EXPEL_REDIRECT,
  handle(node, args) {
    return expelRedirect(node, str(args[0] ?? null, 'cluster_id'), str(args[1] ?? null, 'instance_id'));
  },
};
