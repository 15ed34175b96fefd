/**
 * `.proc_raft_join(cluster_id, instance_id|nil, replicaset_id|nil, advertise_address, failure_domain)`
 * on the leader: admits an instance (ids, replicaset placement), persists its peer address and
 * record through Raft, and answers once both are applied.
 * Reply: `{"Ok": {instance, peer_addresses: [{raft_id, address}], box_replication: [addresses]}}`,
 * or `{"ErrNotALeader": {raft_id, address} | nil}` so the joiner retries at the leader.
 * Errors: `cannot join the instance to the cluster: cluster_id mismatch: ...`, `<id> is already
 * joined`, `missing failure domain names: ...`, `timeout`.
 */

import { normalizeFailureDomain } from '../cluster/failure-domain.ts';
import { instanceToTuple } from '../cluster/records.ts';
import { RaftNodeFailure } from '../cluster/raft-node.ts';
import { TABLE_DEFS } from '../cluster/tables.ts';
import type { Node } from '../node/node.ts';
import { domainMap, optionalStr, ProcError, str } from './proc-error.ts';
import { notALeaderReply, type Proc } from './proc.ts';

export const PROC_RAFT_JOIN = '.proc_raft_join';

export const raftJoinProc: Proc = {
  name: PROC_RAFT_JOIN,
  async handle(node: Node, args) {
    const [clusterId, instanceId, replicasetId, advertise, domain] = args;
    const request = {
      clusterId: str(clusterId ?? null, 'cluster_id'),
      instanceId: optionalStr(instanceId ?? null, 'instance_id'),
      replicasetId: optionalStr(replicasetId ?? null, 'replicaset_id'),
      advertiseAddress: str(advertise ?? null, 'advertise_address'),
      failureDomain: normalizeFailureDomain(domainMap(domain ?? null, 'failure_domain')),
    };
    if (request.clusterId !== node.clusterId()) {
      // Checked before leadership, so a stranger learns its mistake from any instance.
      const result = new ProcError(`cannot join the instance to the cluster: cluster_id mismatch: cluster_id of the instance = "${request.clusterId}", cluster_id of the cluster = "${node.clusterId()}"`);
      throw result;
    }
    if (!node.isLeader()) return notALeaderReply(node);
    const joined = node.topology().join(request);
    if (!joined.ok) throw new ProcError(joined.error.message);
    const instance = joined.value;
    const raft = node.requireLeader();
    const timeoutMs = node.options.tuning.syncRpcTimeoutMs;
    try {
      const address = raft.propose({ kind: 'dml', dml: { op: 'replace', space: TABLE_DEFS.peerAddress.name, tuple: [instance.raftId, request.advertiseAddress] } }, timeoutMs);
      const persisted = raft.propose({ kind: 'persist_instance', instance }, timeoutMs);
      await Promise.all([address.applied, persisted.applied]);
    } catch (error) {
      if (error instanceof RaftNodeFailure && (error.error.kind === 'not_a_leader' || error.error.kind === 'proposal_lost')) return notALeaderReply(node);
      throw error;
    }
    const members = node.topology().replicasetMembers(instance.replicasetId);
    const boxReplication = members.map((m) => node.peerAddress(m.raftId)).filter((a): a is string => a !== undefined);
    return [
      {
        Ok: {
          instance: instanceToTuple(instance),
          peer_addresses: node.tables.peerAddresses().map((p) => ({ raft_id: p.raftId, address: p.address })),
          box_replication: boxReplication,
        },
      },
    ];
  },
};
