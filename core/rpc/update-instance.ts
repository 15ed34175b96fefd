/**
 * `.proc_update_instance(cluster_id, instance_id, target_grade|nil, failure_domain|nil,
 * advertise_address|nil)` on the leader: an instance asks for a target grade (Online at every
 * start, Offline at shutdown), reports its failure domain and, asking for Online, announces the
 * address it is reachable at (admin guide 7: `--advertise` may change at a restart).
 * Instances never set their current grade; the governor does.
 * A changed address is written to the peer address table (where join put it) by an entry
 * proposed before the grade change, so the governor's calls after it use the new address; until
 * it is applied the leader already sends there (see Node.announceAddress), since with two voters
 * it cannot commit without the instance that moved. An unchanged address proposes nothing.
 * Reply: `{"Ok": {}}` once applied, or `{"ErrNotALeader": {raft_id, address} | nil}`.
 * Errors: `advertise_address must be a string`, `invalid advertise address "X": ...`,
 * `cluster_id mismatch: ...`, `unknown instance X`, `cannot update expelled instance "X"`,
 * `missing failure domain names: ...`, `timeout`.
 */

import { addressError } from '../cluster/address.ts';
import { normalizeFailureDomain } from '../cluster/failure-domain.ts';
import { isTargetGrade } from '../cluster/grade.ts';
import type { Op } from '../cluster/ops.ts';
import { RaftNodeFailure } from '../cluster/raft-node.ts';
import { TABLE_DEFS } from '../cluster/tables.ts';
import type { MpValue } from '../codec/msgpack.ts';
import type { Node } from '../node/node.ts';
import { domainMap, optionalStr, ProcError, str } from './proc-error.ts';
import { checkClusterId, notALeaderReply, type Proc } from './proc.ts';

export const PROC_UPDATE_INSTANCE = '.proc_update_instance';

/** The announced address, checked before anything else (an empty or malformed one is a bug). */
export function advertiseAddressArg(value: MpValue | undefined): string | undefined {
  const address = optionalStr(value ?? null, 'advertise_address');
  if (address === undefined) return undefined;
  const error = addressError(address, 'advertise');
  if (error !== undefined) throw new ProcError(error);
  return address;
}

export const updateInstanceProc: Proc = {
  name: PROC_UPDATE_INSTANCE,
  async handle(node: Node, args) {
    const [clusterId, instanceId, target, domain, advertise] = args;
    const targetGrade = target === null || target === undefined ? undefined : target;
    if (targetGrade !== undefined && !isTargetGrade(targetGrade)) throw new ProcError(`unknown target grade ${String(targetGrade)}`);
    const address = advertiseAddressArg(advertise);
    checkClusterId(node, str(clusterId ?? null, 'cluster_id'));
    if (!node.isLeader()) return notALeaderReply(node);
    const updated = node.topology().updateInstance({
      clusterId: str(clusterId ?? null, 'cluster_id'),
      instanceId: str(instanceId ?? null, 'instance_id'),
      targetGrade,
      failureDomain: domain === null || domain === undefined ? undefined : normalizeFailureDomain(domainMap(domain, 'failure_domain')),
    });
    if (!updated.ok) throw new ProcError(updated.error.message);
    const ops: Op[] = [];
    const raftId = node.topology().get(updated.value.instanceId)?.raftId;
    if (address !== undefined && raftId !== undefined && node.tables.peerAddress(raftId) !== address) {
      node.log.info('instance announced a new address', { instance_id: updated.value.instanceId, raft_id: raftId, address, previous: node.tables.peerAddress(raftId) ?? null });
      node.announceAddress(raftId, address);
      ops.push({ kind: 'dml', dml: { op: 'replace', space: TABLE_DEFS.peerAddress.name, tuple: [raftId, address] } });
    }
    ops.push(updated.value);
    const applied: Array<Promise<unknown>> = [];
    try {
      const raft = node.requireLeader();
      const timeoutMs = node.options.tuning.syncRpcTimeoutMs;
      // Proposed in order, so the address is applied before the grade change it comes with.
      for (const op of ops) applied.push(raft.propose(op, timeoutMs).applied);
      await Promise.all(applied);
    } catch (error) {
      for (const waiting of applied) waiting.catch(() => undefined);
      if (error instanceof RaftNodeFailure && (error.error.kind === 'not_a_leader' || error.error.kind === 'proposal_lost')) return notALeaderReply(node);
      throw error;
    }
    return [{ Ok: {} }];
  },
};
