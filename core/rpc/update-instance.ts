/**
 * `.proc_update_instance(cluster_id, instance_id, target_grade|nil, failure_domain|nil)` on the
 * leader: an instance asks for a target grade (Online at every start, Offline at shutdown) and
 * reports its failure domain. Instances never set their current grade; the governor does.
 * Reply: `{"Ok": {}}` or `{"ErrNotALeader": ...}`.
 * Errors: `cluster_id mismatch: ...`, `unknown instance X`, `cannot update expelled instance "X"`,
 * `missing failure domain names: ...`, `timeout`.
 */

import { normalizeFailureDomain } from '../cluster/failure-domain.ts';
import { isTargetGrade } from '../cluster/grade.ts';
import { RaftNodeFailure } from '../cluster/raft-node.ts';
import type { Node } from '../node/node.ts';
import { domainMap, ProcError, str } from './proc-error.ts';
import { checkClusterId, notALeaderReply, type Proc } from './proc.ts';

export const PROC_UPDATE_INSTANCE = '.proc_update_instance';

export const updateInstanceProc: Proc = {
  name: PROC_UPDATE_INSTANCE,
  async handle(node: Node, args) {
    const [clusterId, instanceId, target, domain] = args;
    const targetGrade = target === null || target === undefined ? undefined : target;
    if (targetGrade !== undefined && !isTargetGrade(targetGrade)) throw new ProcError(`unknown target grade ${String(targetGrade)}`);
    checkClusterId(node, str(clusterId ?? null, 'cluster_id'));
    if (!node.isLeader()) return notALeaderReply(node);
    const updated = node.topology().updateInstance({
      clusterId: str(clusterId ?? null, 'cluster_id'),
      instanceId: str(instanceId ?? null, 'instance_id'),
      targetGrade,
      failureDomain: domain === null || domain === undefined ? undefined : normalizeFailureDomain(domainMap(domain, 'failure_domain')),
    });
    if (!updated.ok) throw new ProcError(updated.error.message);
    try {
      await node.requireLeader().proposeAndWait(updated.value, node.options.tuning.syncRpcTimeoutMs);
    } catch (error) {
      if (error instanceof RaftNodeFailure && (error.error.kind === 'not_a_leader' || error.error.kind === 'proposal_lost')) return notALeaderReply(node);
      throw error;
    }
    return [{ Ok: {} }];
  },
};
