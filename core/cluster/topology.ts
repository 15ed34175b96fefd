/**
 * The leader's view of the topology for admitting and updating instances, sans-IO.
 *
 * It starts from the committed instance table and also remembers what this leader proposed but
 * has not seen committed yet (joins in flight), so concurrent joins get distinct raft ids and a
 * correct placement. A new leader (new term) starts a fresh view from the committed table.
 */

import { assert } from '../lib/assert.ts';
import { intersects, missingNames, missingNamesMessage, type FailureDomain } from './failure-domain.ts';
import { grade, nextTargetIncarnation, type CurrentGrade, type TargetGradeVariant } from './grade.ts';
import type { Instance } from './records.ts';
import { applyInstanceUpdate, type InstanceUpdate } from './ops.ts';
import { instanceUuid, replicasetUuid } from './uuid.ts';

export interface JoinRequest {
  readonly clusterId: string;
  readonly instanceId?: string | undefined;
  readonly replicasetId?: string | undefined;
  readonly advertiseAddress: string;
  readonly failureDomain: FailureDomain;
}

export interface UpdateInstanceRequest {
  readonly clusterId: string;
  readonly instanceId: string;
  readonly targetGrade?: TargetGradeVariant | undefined;
  readonly failureDomain?: FailureDomain | undefined;
}

export type TopologyError =
  | { readonly kind: 'cluster_id_mismatch'; readonly message: string }
  | { readonly kind: 'already_joined'; readonly message: string }
  | { readonly kind: 'missing_failure_domain_names'; readonly message: string }
  | { readonly kind: 'unknown_instance'; readonly message: string }
  | { readonly kind: 'expelled'; readonly message: string };

export type TopologyResult<T> = { readonly ok: true; readonly value: T } | { readonly ok: false; readonly error: TopologyError };

function fail<T>(kind: TopologyError['kind'], message: string): TopologyResult<T> {
  return { ok: false, error: { kind, message } };
}

export function clusterIdMismatch(instanceClusterId: string, clusterId: string): string {
  return `cluster_id mismatch: cluster_id of the instance = "${instanceClusterId}", cluster_id of the cluster = "${clusterId}"`;
}

export class Topology {
  private readonly clusterId: string;
  private readonly replicationFactor: number;
  private readonly instances = new Map<string, Instance>();
  /** Highest raft id ever handed out or seen (raft ids are never reused). */
  private maxRaftId: number;
  /** Failure-domain names every instance must carry: the union over all instances ever. */
  private readonly requiredDomainNames = new Set<string>();

  constructor(clusterId: string, replicationFactor: number, instances: readonly Instance[], maxRaftIdSeen = 0) {
    assert(replicationFactor >= 1, 'replication factor must be at least 1');
    this.clusterId = clusterId;
    this.replicationFactor = replicationFactor;
    this.maxRaftId = maxRaftIdSeen;
    for (const instance of instances) this.remember(instance);
  }

  /** Records an instance (committed or just proposed by this leader). */
  remember(instance: Instance): void {
    this.instances.set(instance.instanceId, instance);
    this.maxRaftId = Math.max(this.maxRaftId, instance.raftId);
    for (const name of Object.keys(instance.failureDomain)) this.requiredDomainNames.add(name);
  }

  get(instanceId: string): Instance | undefined {
    return this.instances.get(instanceId);
  }

  all(): Instance[] {
    return [...this.instances.values()];
  }

  /** Admits a new instance: checks in Picodata's order, then assigns ids and a replicaset. */
  join(request: JoinRequest): TopologyResult<Instance> {
    if (request.clusterId !== this.clusterId) {
      return fail('cluster_id_mismatch', `cannot join the instance to the cluster: ${clusterIdMismatch(request.clusterId, this.clusterId)}`);
    }
    if (request.instanceId !== undefined) {
      const existing = this.instances.get(request.instanceId);
      if (existing !== undefined && existing.currentGrade.variant === 'Online') {
        return fail('already_joined', `${request.instanceId} is already joined`);
      }
    }
    const missing = missingNames(request.failureDomain, this.requiredDomainNames);
    if (missing.length > 0) return fail('missing_failure_domain_names', missingNamesMessage(missing));

    const raftId = this.maxRaftId + 1;
    const instanceId = request.instanceId ?? this.freeInstanceId(raftId);
    const replicasetId = request.replicasetId ?? this.chooseReplicaset(request.failureDomain);
    const offline: CurrentGrade = grade('Offline', 0);
    const instance: Instance = {
      instanceId,
      instanceUuid: instanceUuid(instanceId),
      raftId,
      replicasetId,
      replicasetUuid: replicasetUuid(replicasetId),
      currentGrade: offline,
      targetGrade: grade('Offline', 0),
      failureDomain: request.failureDomain,
    };
    this.remember(instance);
    return { ok: true, value: instance };
  }

  /** `i<raft_id>`, or `i<raft_id>-2`, `-3`... if that name is taken. */
  private freeInstanceId(raftId: number): string {
    const base = `i${raftId}`;
    if (!this.instances.has(base)) return base;
    for (let n = 2; ; n++) {
      const candidate = `${base}-${n}`;
      if (!this.instances.has(candidate)) return candidate;
    }
  }

  /**
   * In string order, the first replicaset with fewer members than the replication factor and no
   * member whose failure domain intersects the joiner's; otherwise the smallest unused `r<i>`.
   * Members are all records, whatever their grade.
   */
  private chooseReplicaset(domain: FailureDomain): string {
    const members = new Map<string, Instance[]>();
    for (const instance of this.instances.values()) {
      const list = members.get(instance.replicasetId) ?? [];
      list.push(instance);
      members.set(instance.replicasetId, list);
    }
    for (const id of [...members.keys()].sort()) {
      const list = members.get(id)!;
      if (list.length < this.replicationFactor && !list.some((m) => intersects(m.failureDomain, domain))) return id;
    }
    for (let i = 1; ; i++) if (!members.has(`r${i}`)) return `r${i}`;
  }

  /**
   * An instance asks for a target grade and/or reports its failure domain. Instances never set
   * their current grade (the governor does). Returns the field-level update to propose: only
   * the fields the request set, so it commutes with the governor's current-grade updates.
   */
  updateInstance(request: UpdateInstanceRequest): TopologyResult<InstanceUpdate> {
    if (request.clusterId !== this.clusterId) {
      return fail('cluster_id_mismatch', clusterIdMismatch(request.clusterId, this.clusterId));
    }
    const existing = this.instances.get(request.instanceId);
    if (existing === undefined) return fail('unknown_instance', `unknown instance ${request.instanceId}`);
    if (existing.currentGrade.variant === 'Expelled') {
      return fail('expelled', `cannot update expelled instance "${request.instanceId}"`);
    }
    if (request.failureDomain !== undefined) {
      const missing = missingNames(request.failureDomain, this.requiredDomainNames);
      if (missing.length > 0) return fail('missing_failure_domain_names', missingNamesMessage(missing));
    }
    const update: InstanceUpdate = {
      kind: 'update_instance',
      instanceId: existing.instanceId,
      ...(request.failureDomain === undefined ? {} : { failureDomain: request.failureDomain }),
      ...(request.targetGrade === undefined
        ? {}
        : { targetGrade: grade(request.targetGrade, nextTargetIncarnation(request.targetGrade, existing.currentGrade, existing.targetGrade)) }),
    };
    this.remember(applyInstanceUpdate(existing, update));
    return { ok: true, value: update };
  }

  /** The governor moves an instance's current grade (and nothing else). */
  setCurrentGrade(instanceId: string, current: CurrentGrade): Instance {
    const existing = this.instances.get(instanceId);
    assert(existing !== undefined, `setCurrentGrade of unknown instance ${instanceId}`);
    const updated = { ...existing, currentGrade: current };
    this.remember(updated);
    return updated;
  }

  /** Addresses to replicate from: every member of the replicaset, the joiner included. */
  replicasetMembers(replicasetId: string): Instance[] {
    return [...this.instances.values()].filter((i) => i.replicasetId === replicasetId).sort((a, b) => a.raftId - b.raftId);
  }
}
