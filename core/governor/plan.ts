/**
 * The governor's planner, sans-IO (Picodata's `action_plan`). It looks at a snapshot of the
 * clusterwide tables on the Raft leader and returns the one next step, as plain data; the
 * executor (executor.ts) performs it, and on any failure the governor plans again from fresh
 * state. Checks run in priority order; the first that applies wins:
 *
 *   1. conf_change            Raft voters/learners differ from what the topology needs
 *   2. downgrade steps        someone's target is Offline/Expelled: move leadership, mastership,
 *                             reconfigure sharding, then set current = target
 *   3. raft_sync              Offline (or restarted) instance catches up with the Raft log
 *   4. create_replicaset      first instance of a replicaset: promote it, insert the record
 *   5. switch_master          the master is going away and a member can take over
 *   (a replicaset whose master switch just failed is skipped by 2 and 5 for a backoff)
 *   6. replication            configure replication on the replicaset's members
 *   7. sharding_init          configure sharding everywhere (bootstrapped or weighted replicaset)
 *   8. sharding_boot          distribute buckets once a replicaset is full and weighted
 *   9. propose_weight         a replicaset became full: give it weight
 *  10. skip_sharding          nothing to shard yet: the instance is Online without it
 *  11. update_weights         weights changed: reconfigure sharding everywhere
 *  12. to_online              sharding initialized: Online
 */

import { grade, isReincarnated, mayRespond, type CurrentGrade, type CurrentGradeVariant } from '../cluster/grade.ts';
import type { Instance, Replicaset, Weight } from '../cluster/records.ts';
import { replicasetUuid } from '../cluster/uuid.ts';
import { planConfChange, type ConfChangeSingle } from './conf-change.ts';

/**
 * Instances one step may move at once. Picodata moves one instance per step; moving every
 * instance that needs the same step together keeps each transition identical but turns O(N)
 * steps (each committed to all N instances) into a handful when many join at once.
 */
export const GOVERNOR_BATCH_INSTANCES_MAX = 64;

export interface GovernorSnapshot {
  /** The leader this governor runs on. */
  readonly selfRaftId: number;
  readonly voters: readonly number[];
  readonly learners: readonly number[];
  /** A configuration change is proposed but not applied yet (or the joint state not left). */
  readonly confChangePending: boolean;
  readonly instances: readonly Instance[];
  readonly replicasets: readonly Replicaset[];
  readonly replicationFactor: number;
  readonly vshardBootstrapped: boolean;
  /**
   * Replicasets whose master switch failed a moment ago (no member could safely take over, or
   * one did not answer): planned around until the executor's backoff ends. Absent: none.
   */
  readonly masterSwitchBlocked?: ReadonlySet<string>;
}

export type Plan =
  | { readonly kind: 'conf_change'; readonly changes: readonly ConfChangeSingle[] }
  | { readonly kind: 'transfer_leadership'; readonly toRaftId: number }
  | { readonly kind: 'switch_master'; readonly replicasetId: string; readonly fromInstanceId: string; readonly toInstanceId: string }
  | {
      readonly kind: 'downgrade';
      readonly instance: Instance;
      readonly currentGrade: CurrentGrade;
      /** Instances whose sharding configuration must drop the downgraded one first. */
      readonly shardingTargets: readonly Instance[];
    }
  | { readonly kind: 'raft_sync'; readonly instances: readonly Instance[] }
  | { readonly kind: 'create_replicaset'; readonly created: ReadonlyArray<{ readonly instance: Instance; readonly replicaset: Replicaset }> }
  | {
      readonly kind: 'replication';
      readonly instances: readonly Instance[];
      /** Members that get the new replication configuration (the instances included). */
      readonly targets: readonly Instance[];
    }
  | { readonly kind: 'sharding_init'; readonly instances: readonly Instance[]; readonly targets: readonly Instance[] }
  | { readonly kind: 'sharding_boot'; readonly replicasetId: string; readonly master: Instance }
  | { readonly kind: 'propose_weight'; readonly weights: ReadonlyArray<{ readonly replicasetId: string; readonly weight: Weight }> }
  | { readonly kind: 'skip_sharding'; readonly instances: readonly Instance[] }
  | { readonly kind: 'update_weights'; readonly replicasetIds: readonly string[]; readonly targets: readonly Instance[] }
  | { readonly kind: 'to_online'; readonly instances: readonly Instance[] }
  | { readonly kind: 'idle' };

export type PlanKind = Plan['kind'];

const isShardingReady = (v: CurrentGradeVariant): boolean => v === 'ShardingInitialized' || v === 'Online';

export function plan(s: GovernorSnapshot): Plan {
  if (s.confChangePending) return { kind: 'idle' };
  const changes = planConfChange(s.instances, s.voters, s.learners, s.selfRaftId);
  if (changes.length > 0) return { kind: 'conf_change', changes };
  return (
    planDowngrade(s) ??
    planRaftSync(s) ??
    planCreateReplicaset(s) ??
    planSwitchMaster(s) ??
    planReplication(s) ??
    planShardingInit(s) ??
    planShardingBoot(s) ??
    planProposeWeight(s) ??
    planSkipSharding(s) ??
    planUpdateWeights(s) ??
    planToOnline(s) ?? { kind: 'idle' }
  );
}

/** Target is Offline/Expelled but current is not there yet. */
function isDowngrading(i: Instance): boolean {
  return (i.targetGrade.variant === 'Offline' || i.targetGrade.variant === 'Expelled') && i.currentGrade.variant !== i.targetGrade.variant;
}

/** Wants Online but is not fully there for its current incarnation. */
function isUpgrading(i: Instance, from: CurrentGradeVariant): boolean {
  if (i.targetGrade.variant !== 'Online') return false;
  if (from === 'Offline') return i.currentGrade.variant === 'Offline' || (isReincarnated(i.currentGrade, i.targetGrade) && i.currentGrade.variant !== 'Expelled');
  return i.currentGrade.variant === from && i.currentGrade.incarnation === i.targetGrade.incarnation;
}

function planDowngrade(s: GovernorSnapshot): Plan | undefined {
  // A master whose switch is backing off waits (it is not downgraded without a handover); the
  // others go ahead.
  const instance = s.instances.find((i) => isDowngrading(i) && !isBlockedMaster(s, i));
  if (instance === undefined) return undefined;
  if (instance.raftId === s.selfRaftId) {
    const to = [...s.voters].sort((a, b) => a - b).map((id) => s.instances.find((i) => i.raftId === id)).find((i) => i !== undefined && i.raftId !== s.selfRaftId && mayRespond(i.targetGrade));
    if (to !== undefined) return { kind: 'transfer_leadership', toRaftId: to.raftId };
  }
  const replicaset = s.replicasets.find((r) => r.replicasetId === instance.replicasetId);
  if (replicaset !== undefined && replicaset.masterId === instance.instanceId) {
    const successor = members(s, instance.replicasetId).find((m) => m.instanceId !== instance.instanceId && mayRespond(m.targetGrade));
    if (successor !== undefined) {
      return { kind: 'switch_master', replicasetId: replicaset.replicasetId, fromInstanceId: instance.instanceId, toInstanceId: successor.instanceId };
    }
  }
  const shardingTargets = s.instances.filter((i) => i.instanceId !== instance.instanceId && mayRespond(i.targetGrade) && isShardingReady(i.currentGrade.variant));
  const variant = instance.targetGrade.variant === 'Expelled' ? 'Expelled' : 'Offline';
  return { kind: 'downgrade', instance, currentGrade: grade(variant, instance.targetGrade.incarnation), shardingTargets };
}

function switchBlocked(s: GovernorSnapshot, replicasetId: string): boolean {
  return s.masterSwitchBlocked?.has(replicasetId) === true;
}

function isBlockedMaster(s: GovernorSnapshot, i: Instance): boolean {
  return switchBlocked(s, i.replicasetId) && s.replicasets.some((r) => r.replicasetId === i.replicasetId && r.masterId === i.instanceId);
}

function batch(s: GovernorSnapshot, pick: (i: Instance) => boolean): Instance[] {
  return s.instances.filter(pick).slice(0, GOVERNOR_BATCH_INSTANCES_MAX);
}

function planRaftSync(s: GovernorSnapshot): Plan | undefined {
  const instances = batch(s, (i) => isUpgrading(i, 'Offline'));
  return instances.length === 0 ? undefined : { kind: 'raft_sync', instances };
}

function planCreateReplicaset(s: GovernorSnapshot): Plan | undefined {
  const created: Array<{ instance: Instance; replicaset: Replicaset }> = [];
  const seen = new Set<string>();
  for (const instance of s.instances) {
    if (created.length >= GOVERNOR_BATCH_INSTANCES_MAX) break;
    if (!isUpgrading(instance, 'RaftSynced') || seen.has(instance.replicasetId)) continue;
    if (s.replicasets.some((r) => r.replicasetId === instance.replicasetId)) continue;
    seen.add(instance.replicasetId); // one master per new replicaset: the first member to get here
    created.push({
      instance,
      replicaset: {
        replicasetId: instance.replicasetId,
        replicasetUuid: replicasetUuid(instance.replicasetId),
        masterId: instance.instanceId,
        weight: { value: 0, origin: 'Auto', state: 'Initial' },
        currentSchemaVersion: 0,
      },
    });
  }
  return created.length === 0 ? undefined : { kind: 'create_replicaset', created };
}

/**
 * A master that is going away (and is already down), or that is no longer a member (it was wiped
 * and rejoined elsewhere under the same instance id), hands over to a live member.
 */
function planSwitchMaster(s: GovernorSnapshot): Plan | undefined {
  for (const r of s.replicasets) {
    if (switchBlocked(s, r.replicasetId)) continue;
    const master = s.instances.find((i) => i.instanceId === r.masterId);
    if (master !== undefined && master.replicasetId === r.replicasetId && mayRespond(master.targetGrade)) continue;
    const successor = members(s, r.replicasetId).find((m) => m.instanceId !== r.masterId && mayRespond(m.targetGrade) && m.currentGrade.variant !== 'Offline');
    if (successor !== undefined) return { kind: 'switch_master', replicasetId: r.replicasetId, fromInstanceId: r.masterId, toInstanceId: successor.instanceId };
  }
  return undefined;
}

function planReplication(s: GovernorSnapshot): Plan | undefined {
  const instances = batch(s, (i) => isUpgrading(i, 'RaftSynced') && s.replicasets.some((r) => r.replicasetId === i.replicasetId));
  if (instances.length === 0) return undefined;
  const moving = new Set(instances.map((i) => i.instanceId));
  const replicasetIds = new Set(instances.map((i) => i.replicasetId));
  const targets = s.instances.filter(
    (m) => replicasetIds.has(m.replicasetId) && m.currentGrade.variant !== 'Expelled' && (moving.has(m.instanceId) || mayRespond(m.targetGrade)),
  );
  return { kind: 'replication', instances, targets };
}

function weightOf(s: GovernorSnapshot, replicasetId: string): Weight | undefined {
  return s.replicasets.find((r) => r.replicasetId === replicasetId)?.weight;
}

function planShardingInit(s: GovernorSnapshot): Plan | undefined {
  const instances = batch(s, (i) => isUpgrading(i, 'Replicated') && (s.vshardBootstrapped || (weightOf(s, i.replicasetId)?.value ?? 0) !== 0));
  if (instances.length === 0) return undefined;
  const moving = new Set(instances.map((i) => i.instanceId));
  const targets = s.instances.filter((i) => moving.has(i.instanceId) || (mayRespond(i.targetGrade) && isShardingReady(i.currentGrade.variant)));
  return { kind: 'sharding_init', instances, targets };
}

function planShardingBoot(s: GovernorSnapshot): Plan | undefined {
  if (s.vshardBootstrapped) return undefined;
  const r = s.replicasets.find((x) => x.weight.state === 'UpToDate' && x.weight.value > 0);
  if (r === undefined) return undefined;
  const master = s.instances.find((i) => i.instanceId === r.masterId);
  if (master === undefined || !isShardingReady(master.currentGrade.variant)) return undefined;
  return { kind: 'sharding_boot', replicasetId: r.replicasetId, master };
}

function planProposeWeight(s: GovernorSnapshot): Plan | undefined {
  const weights: Array<{ replicasetId: string; weight: Weight }> = [];
  for (const r of s.replicasets) {
    const live = members(s, r.replicasetId).filter((m) => mayRespond(m.targetGrade));
    if (live.length < s.replicationFactor || r.weight.value !== 0 || r.weight.origin !== 'Auto' || r.weight.state === 'Updating') continue;
    weights.push({ replicasetId: r.replicasetId, weight: { value: 1, origin: 'Auto', state: s.vshardBootstrapped ? 'Updating' : 'UpToDate' } });
    // Before the buckets are distributed one weighted replicaset suffices (it gets them all).
    if (!s.vshardBootstrapped) break;
  }
  return weights.length === 0 ? undefined : { kind: 'propose_weight', weights };
}

function planSkipSharding(s: GovernorSnapshot): Plan | undefined {
  const instances = batch(s, (i) => isUpgrading(i, 'Replicated'));
  return instances.length === 0 ? undefined : { kind: 'skip_sharding', instances };
}

function planUpdateWeights(s: GovernorSnapshot): Plan | undefined {
  const updating = s.replicasets.filter((r) => r.weight.state === 'Updating').map((r) => r.replicasetId);
  if (updating.length === 0) return undefined;
  const targets = s.instances.filter((i) => mayRespond(i.targetGrade) && isShardingReady(i.currentGrade.variant));
  return { kind: 'update_weights', replicasetIds: updating, targets };
}

function planToOnline(s: GovernorSnapshot): Plan | undefined {
  const instances = batch(s, (i) => isUpgrading(i, 'ShardingInitialized'));
  return instances.length === 0 ? undefined : { kind: 'to_online', instances };
}

/** Members of a replicaset in raft id order. */
function members(s: GovernorSnapshot, replicasetId: string): Instance[] {
  return s.instances.filter((i) => i.replicasetId === replicasetId && i.currentGrade.variant !== 'Expelled').sort((a, b) => a.raftId - b.raftId);
}
