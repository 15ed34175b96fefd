/**
 * The cluster at a glance, as one instance sees it: its Raft state and the clusterwide instance
 * and replicaset tables (admin guide 15.2). Served as JSON on `/api/v1/cluster` and over iproto
 * as the stored procedure `daemon.cluster_status` (what `picodata status` calls), because the
 * clusterwide tables are not box spaces a client could select from.
 */

import type { MpValue } from '../core/codec/msgpack.ts';
import type { Node } from '../core/node/node.ts';
import type { NodeBackend } from '../core/node/backend.ts';

export const CLUSTER_STATUS_FUNCTION = 'daemon.cluster_status';

export interface GradeInfo {
  readonly variant: string;
  readonly incarnation: number;
}

export interface InstanceRow {
  readonly instance_id: string;
  readonly instance_uuid: string;
  readonly raft_id: number;
  readonly peer_address: string | null;
  readonly replicaset_id: string;
  readonly replicaset_uuid: string;
  readonly current_grade: GradeInfo;
  readonly target_grade: GradeInfo;
  readonly failure_domain: Record<string, string>;
  /** `voter`, `learner`, or `none` (not in the Raft configuration, e.g. expelled). */
  readonly raft_role: 'voter' | 'learner' | 'none';
}

export interface ReplicasetRow {
  readonly replicaset_id: string;
  readonly replicaset_uuid: string;
  readonly master_id: string;
  readonly weight: number;
  readonly weight_origin: string;
  readonly weight_state: string;
  readonly current_schema_version: number;
}

export interface ClusterStatus {
  readonly cluster_id: string;
  /** The instance that answered. */
  readonly instance_id: string | null;
  readonly raft_id: number | null;
  readonly state: string;
  readonly raft: {
    readonly term: number;
    readonly leader_id: number | null;
    readonly raft_state: string;
    readonly commit: number;
    readonly applied: number;
    readonly voters: number[];
    readonly learners: number[];
  } | null;
  readonly replication_factor: number | null;
  readonly instances: InstanceRow[];
  readonly replicasets: ReplicasetRow[];
}

export function clusterStatus(node: Node): ClusterStatus {
  const raft = node.raft;
  const status = raft?.status();
  const voters = new Set<number>(status?.voters ?? []);
  const learners = new Set<number>(status?.learners ?? []);
  const rf = node.tables.property('replication_factor');
  return {
    cluster_id: node.clusterId(),
    instance_id: node.identity?.instanceId ?? null,
    raft_id: node.identity?.raftId ?? null,
    state: node.state,
    raft:
      status === undefined
        ? null
        : {
            term: status.term,
            leader_id: status.leaderId === 0 ? null : status.leaderId,
            raft_state: status.raftState,
            commit: status.commit,
            applied: status.applied,
            voters: [...status.voters],
            learners: [...status.learners],
          },
    replication_factor: typeof rf === 'number' ? rf : null,
    instances: node.tables.instances().map((i) => ({
      instance_id: i.instanceId,
      instance_uuid: i.instanceUuid,
      raft_id: i.raftId,
      peer_address: node.peerAddress(i.raftId) ?? null,
      replicaset_id: i.replicasetId,
      replicaset_uuid: i.replicasetUuid,
      current_grade: { variant: i.currentGrade.variant, incarnation: i.currentGrade.incarnation },
      target_grade: { variant: i.targetGrade.variant, incarnation: i.targetGrade.incarnation },
      failure_domain: { ...i.failureDomain },
      raft_role: voters.has(i.raftId) ? 'voter' : learners.has(i.raftId) ? 'learner' : 'none',
    })),
    replicasets: node.tables.replicasets().map((r) => ({
      replicaset_id: r.replicasetId,
      replicaset_uuid: r.replicasetUuid,
      master_id: r.masterId,
      weight: r.weight.value,
      weight_origin: r.weight.origin,
      weight_state: r.weight.state,
      current_schema_version: r.currentSchemaVersion,
    })),
  };
}

/** Makes `daemon.cluster_status()` callable over iproto on this instance. */
export function registerClusterStatus(node: Node, backend: NodeBackend): void {
  backend.userFunctions.set(CLUSTER_STATUS_FUNCTION, () => [clusterStatus(node) as unknown as MpValue]);
}
