/**
 * The governor's executor: on the Raft leader, plan one step from the applied clusterwide tables
 * (plan.ts), carry it out (RPCs to instances, then a Raft proposal recording the result), wait
 * until it is applied, repeat. A failed step is logged and retried after `governorRetryMs`,
 * planned afresh. RPCs carry (term, applied index, timeout) so a callee can refuse a stale
 * governor.
 */

import { mapGet, type MpValue } from '../codec/msgpack.ts';
import { grade, mayRespond, type CurrentGrade } from '../cluster/grade.ts';
import type { Op } from '../cluster/ops.ts';
import type { Instance } from '../cluster/records.ts';
import { replicasetToTuple } from '../cluster/records.ts';
import { PROPERTY, TABLE_DEFS } from '../cluster/tables.ts';
import { asRaftId } from '../raft/types.ts';
import type { Node, ShardingConfig } from '../node/node.ts';
import { BUCKET_COUNT } from '../node/node.ts';
import { describeClientError } from '../rpc/pool.ts';
import { PROC_REPLICATION, PROC_REPLICATION_DEMOTE, PROC_REPLICATION_PROGRESS, PROC_REPLICATION_PROMOTE, PROC_REPLICATION_SYNC } from '../rpc/replication.ts';
import { PROC_SHARDING, PROC_SHARDING_BOOTSTRAP, shardingConfigToValue } from '../rpc/sharding.ts';
import { PROC_SYNC_RAFT } from '../rpc/sync-raft.ts';
import type { ConfChangeSingle } from './conf-change.ts';
import { plan, type GovernorSnapshot, type Plan } from './plan.ts';
import { probe } from '../lib/probe.ts';

export class GovernorStepError extends Error {
  override readonly name = 'GovernorStepError';
}

export interface GovernorStatus {
  lastStep: Plan['kind'] | null;
  lastError: string | null;
  steps: number;
}

export class Governor {
  private readonly node: Node;
  private stopped = false;
  readonly status: GovernorStatus = { lastStep: null, lastError: null, steps: 0 };
  /**
   * Replicaset id -> when its failed master switch may be tried again. Until then the planner
   * goes around it: a replicaset that cannot fail over safely (core/replication/synchro.ts)
   * must not hold up joins, grades and other replicasets' failovers.
   */
  private readonly switchBackoffUntilMs = new Map<string, number>();

  constructor(node: Node) {
    this.node = node;
  }

  stop(): void {
    this.stopped = true;
    this.node.changed();
  }

  async run(): Promise<void> {
    const node = this.node;
    while (!this.stopped) {
      if (!node.isLeader()) {
        await node.nextChange(1_000);
        continue;
      }
      const step = plan(this.snapshot());
      if (step.kind === 'idle') {
        await node.nextChange(1_000);
        continue;
      }
      try {
        node.log.verbose('governor step', { step: step.kind });
        await this.execute(step);
        this.status.lastStep = step.kind;
        this.status.lastError = null;
        this.status.steps++;
      } catch (error) {
        const message = error instanceof Error ? error.message : String(error);
        this.status.lastError = message;
        node.log.warn('governor step failed', { step: step.kind, reason: message });
        await node.env.clock.sleep(node.options.tuning.governorRetryMs);
      }
    }
  }

  snapshot(): GovernorSnapshot {
    const node = this.node;
    const raft = node.requireRaft();
    const conf = raft.confState();
    return {
      selfRaftId: raft.id,
      voters: conf.voters,
      learners: conf.learners,
      confChangePending: raft.confChangePending(),
      instances: node.tables.instances(),
      replicasets: node.tables.replicasets(),
      replicationFactor: node.tables.replicationFactor(),
      vshardBootstrapped: node.tables.vshardBootstrapped(),
      masterSwitchBlocked: this.blockedSwitches(),
    };
  }

  private blockedSwitches(): Set<string> {
    const nowMs = this.node.env.clock.nowMs();
    for (const [id, untilMs] of this.switchBackoffUntilMs) if (untilMs <= nowMs) this.switchBackoffUntilMs.delete(id);
    return new Set(this.switchBackoffUntilMs.keys());
  }

  private async execute(step: Plan): Promise<void> {
    switch (step.kind) {
      case 'conf_change':
        return this.confChange(step.changes);
      case 'transfer_leadership':
        return this.transferLeadership(step.toRaftId);
      case 'switch_master':
        try {
          return await this.switchMaster(step.replicasetId, step.fromInstanceId, step.toInstanceId);
        } catch (error) {
          this.switchBackoffUntilMs.set(step.replicasetId, this.node.env.clock.nowMs() + this.node.options.tuning.governorMasterSwitchBackoffMs);
          throw error;
        }
      case 'downgrade':
        await this.rpcAll(step.shardingTargets, PROC_SHARDING, [shardingConfigToValue(this.shardingConfig(step.instance.instanceId))]);
        return this.setGrade(step.instance, step.currentGrade);
      case 'raft_sync': {
        const index = this.node.requireRaft().applied;
        await Promise.all(step.instances.map((i) => this.rpc(i, PROC_SYNC_RAFT, [index, this.timeoutMs()], false)));
        return this.setGrades(step.instances, 'RaftSynced');
      }
      case 'create_replicaset':
        await Promise.all(step.created.map(({ instance }) => this.rpc(instance, PROC_REPLICATION_PROMOTE, [])));
        await this.proposeAll(step.created.map(({ replicaset }) => ({ kind: 'dml', dml: { op: 'insert', space: TABLE_DEFS.replicaset.name, tuple: replicasetToTuple(replicaset) } })));
        return;
      case 'replication':
        return this.replication(step.instances, step.targets);
      case 'sharding_init':
        await this.rpcAll(step.targets, PROC_SHARDING, [shardingConfigToValue(this.shardingConfig())]);
        return this.setGrades(step.instances, 'ShardingInitialized');
      case 'sharding_boot':
        await this.rpc(step.master, PROC_SHARDING_BOOTSTRAP, []);
        await this.propose({ kind: 'dml', dml: { op: 'replace', space: TABLE_DEFS.property.name, tuple: [PROPERTY.vshardBootstrapped, true] } });
        return;
      case 'propose_weight':
        await this.proposeAll(
          step.weights.map(({ replicasetId, weight }) => ({
            kind: 'dml',
            dml: {
              op: 'update',
              space: TABLE_DEFS.replicaset.name,
              key: [replicasetId],
              ops: [
                ['=', 'weight[1]', weight.value],
                ['=', 'weight[3]', weight.state],
              ],
            },
          })),
        );
        return;
      case 'skip_sharding':
      case 'to_online':
        return this.setGrades(step.instances, 'Online');
      case 'update_weights':
        await this.rpcAll(step.targets, PROC_SHARDING, [shardingConfigToValue(this.shardingConfig())]);
        await this.proposeAll(step.replicasetIds.map((id) => ({ kind: 'dml', dml: { op: 'update', space: TABLE_DEFS.replicaset.name, key: [id], ops: [['=', 'weight[3]', 'UpToDate']] } })));
        return;
      case 'idle':
        return;
    }
  }

  // --- steps ---------------------------------------------------------------------------------

  private async confChange(changes: readonly ConfChangeSingle[]): Promise<void> {
    const raft = this.node.requireLeader();
    const error = raft.proposeConfChange(
      changes.map((c) => ({ type: c.kind === 'AddNode' ? 'addNode' : c.kind === 'AddLearnerNode' ? 'addLearnerNode' : 'removeNode', nodeId: asRaftId(c.nodeId) }) as const),
    );
    if (error !== undefined) throw new GovernorStepError(`conf change refused: ${error.kind}`);
    this.node.log.info('raft conf change', { changes: changes.map((c) => `${c.kind}(${c.nodeId})`).join(', ') });
    await this.waitUntil(() => !raft.confChangePending(), 'conf change to be applied');
  }

  private async transferLeadership(to: number): Promise<void> {
    const raft = this.node.requireLeader();
    this.node.log.info('transferring leadership', { to });
    raft.transferLeadership(to);
    const electionMs = (this.node.options.tuning.raft.electionTicks ?? 20) * this.node.options.tuning.raftTickMs;
    await this.waitUntil(() => raft.role !== 'Leader', 'leadership transfer', electionMs * 2);
  }

  private async switchMaster(replicasetId: string, from: string, planned: string): Promise<void> {
    const node = this.node;
    const previous = node.tables.instance(from);
    // Best effort: a master going away may already be gone. One that answers says how far its
    // WAL goes, and the successor catches up to there before it takes writes (replication is
    // asynchronous: without this a graceful switch would drop the writes still in flight).
    let lastLsn: MpValue = null;
    let syncSpaces = false;
    if (previous !== undefined && previous.currentGrade.variant !== 'Offline') {
      const demoted = await this.rpc(previous, PROC_REPLICATION_DEMOTE, []).catch(() => null);
      lastLsn = mapGet(demoted?.[0] ?? null, 'lsn') ?? null;
      syncSpaces = mapGet(demoted?.[0] ?? null, 'sync') === true;
    }
    // Without the old master, the member holding the most of its WAL takes over: it holds every
    // write a quorum acknowledged (core/replication/synchro.ts).
    const to = typeof lastLsn === 'number' ? planned : await this.mostCaughtUp(replicasetId, from, planned);
    const successor = node.tables.instance(to);
    if (successor === undefined) throw new GovernorStepError(`unknown instance ${to}`);
    if (typeof lastLsn === 'number') {
      // A successor that cannot catch up (cut off from the old master) is promoted all the same
      // when every space is asynchronous: a replicaset without a writable master is worse than
      // one that lost its last writes. With synchronous spaces it may lack acknowledged ones:
      // the step fails and is retried (the old master, demoted, keeps them meanwhile).
      await this.rpc(successor, PROC_REPLICATION_SYNC, [from, lastLsn]).catch((error: unknown) => {
        const reason = error instanceof Error ? error.message : String(error);
        if (syncSpaces) throw new GovernorStepError(`${to} did not catch up with ${from}, which has synchronous spaces: ${reason}`);
        node.log.warn('promoting a master that did not catch up with its predecessor', { replicaset_id: replicasetId, from, to, reason });
      });
    }
    await this.rpc(successor, PROC_REPLICATION_PROMOTE, []);
    await this.propose({ kind: 'dml', dml: { op: 'update', space: TABLE_DEFS.replicaset.name, key: [replicasetId], ops: [['=', 'master_id', to]] } });
    probe('governor.master_switched');
    node.log.info('replicaset master switched', { replicaset_id: replicasetId, from, to });
  }

  /**
   * Of the members that may take over from `from`, the one that holds the most of its WAL (the
   * plan's choice on a tie). With synchronous spaces that must be certain: a write acknowledged
   * by a quorum (N / 2 + 1 of the N members, core/replication/synchro.ts) is on at least
   * quorum - 1 of the others, so the choice needs answers from N - quorum + 1 of them, and the
   * one holding the most must be able to take over, and must hold the replicaset's history: have
   * caught up with a master, or been one, since it joined (a write acknowledged while the
   * replicaset was smaller is on fewer members: `caught_up` in core/replication/state-spaces.ts);
   * until then the step fails and is retried (no master beats a master that lost acknowledged
   * writes). Without synchronous spaces the
   * best of those that answered and may take over is promoted, and a silent member is logged;
   * unless that best one does not hold the history: then the rules above apply.
   */
  private async mostCaughtUp(replicasetId: string, from: string, planned: string): Promise<string> {
    const node = this.node;
    const members = node.tables.instances().filter((i) => i.replicasetId === replicasetId && i.targetGrade.variant !== 'Expelled');
    const others = members.filter((i) => i.instanceId !== from);
    const eligible = (i: Instance): boolean => mayRespond(i.targetGrade) && i.currentGrade.variant !== 'Offline';
    const answers = await Promise.all(
      others.map(async (instance) => {
        const reply = await this.rpc(instance, PROC_REPLICATION_PROGRESS, [from]).catch(() => null);
        const progress = reply?.[0] ?? null;
        const lsn = mapGet(progress, 'lsn');
        return { instance, lsn: typeof lsn === 'number' ? lsn : null, sync: mapGet(progress, 'sync') === true, caughtUp: mapGet(progress, 'caught_up') === true };
      }),
    );
    const answered = answers.filter((a): a is { instance: Instance; lsn: number; sync: boolean; caughtUp: boolean } => a.lsn !== null);
    const byProgress = [...answered].sort((a, b) => b.lsn - a.lsn || Number(b.instance.instanceId === planned) - Number(a.instance.instanceId === planned));
    // A member that never caught up since it joined may hold almost nothing, and cannot even
    // say whether it had synchronous spaces (it may not have their definitions yet).
    const strict = answered.some((a) => a.sync) || (byProgress[0] !== undefined && !byProgress[0].caughtUp);
    if (strict) {
      const needed = members.length - (Math.floor(members.length / 2) + 1) + 1;
      if (answered.length < needed) throw new GovernorStepError(`cannot choose a new master of ${replicasetId} safely: ${answered.length} of its members answered, ${needed} needed`);
      const best = byProgress[0]!;
      // It answered, so it runs: a current grade of Offline is only stale (it asks to be Online).
      if (!mayRespond(best.instance.targetGrade)) throw new GovernorStepError(`the member of ${replicasetId} that holds the most of ${from}'s WAL, ${best.instance.instanceId}, cannot take over yet`);
      if (!best.caughtUp) throw new GovernorStepError(`the member of ${replicasetId} that holds the most of ${from}'s WAL, ${best.instance.instanceId}, has not caught up with a master since it joined`);
      return best.instance.instanceId;
    }
    const silent = answers.filter((a) => a.lsn === null).map((a) => a.instance.instanceId);
    const best = byProgress.find((a) => eligible(a.instance))?.instance.instanceId ?? planned;
    if (silent.length > 0) node.log.warn('choosing a new master without hearing from every member', { replicaset_id: replicasetId, from, silent: silent.join(','), chosen: best });
    return best;
  }

  /** Every target learns its replicaset's peers and whether it is the master. */
  private async replication(instances: readonly Instance[], targets: readonly Instance[]): Promise<void> {
    const node = this.node;
    const peersOf = (replicasetId: string): string[] =>
      targets.filter((t) => t.replicasetId === replicasetId).map((t) => node.peerAddress(t.raftId)).filter((a): a is string => a !== undefined);
    await Promise.all(
      targets.map((t) => {
        const masterId = node.tables.replicaset(t.replicasetId)?.masterId;
        return this.rpc(t, PROC_REPLICATION, [t.replicasetId, t.instanceId === masterId, peersOf(t.replicasetId)]);
      }),
    );
    await this.setGrades(instances, 'Replicated');
  }

  /**
   * The vshard configuration over instances that may respond (minus `excluding`). A replicaset
   * with none of them is left out, as Picodata builds it from the instances: its master is gone
   * (expelled, or going Offline with no one to take over), and a router that kept asking it
   * would answer UNREACHABLE_REPLICASET for every bucket no one else has, for good, instead of
   * NO_ROUTE_TO_BUCKET.
   */
  private shardingConfig(excluding?: string): ShardingConfig {
    const tables = this.node.tables;
    const instances = tables.instances().filter((i) => i.instanceId !== excluding && mayRespond(i.targetGrade));
    const replicasets: ShardingConfig['replicasets'][number][] = [];
    for (const r of tables.replicasets()) {
      const replicas = instances.filter((i) => i.replicasetId === r.replicasetId).map((i) => i.instanceId);
      if (replicas.length === 0) continue;
      replicasets.push({ replicasetId: r.replicasetId, uuid: r.replicasetUuid, weight: r.weight.value, master: r.masterId, replicas });
    }
    return { bucketCount: BUCKET_COUNT, replicasets };
  }

  // --- plumbing -------------------------------------------------------------------------------

  private timeoutMs(): number {
    return this.node.options.tuning.syncRpcTimeoutMs;
  }

  private async setGrade(instance: Instance, current: CurrentGrade): Promise<void> {
    this.node.log.info('grade changed', { instance_id: instance.instanceId, current: `${current.variant}(${current.incarnation})` });
    await this.propose({ kind: 'update_instance', instanceId: instance.instanceId, currentGrade: current, ifTargetGrade: instance.targetGrade });
  }

  /** Moves each instance to `variant` at its target incarnation. */
  private async setGrades(instances: readonly Instance[], variant: CurrentGrade['variant']): Promise<void> {
    const ops: Op[] = instances.map((instance) => {
      const current = grade(variant, instance.targetGrade.incarnation);
      this.node.log.info('grade changed', { instance_id: instance.instanceId, current: `${current.variant}(${current.incarnation})` });
      return { kind: 'update_instance', instanceId: instance.instanceId, currentGrade: current, ifTargetGrade: instance.targetGrade };
    });
    await this.proposeAll(ops);
  }

  private async propose(op: Op): Promise<void> {
    await this.maybeStall();
    await this.node.requireLeader().proposeAndWait(op, this.timeoutMs());
  }

  /** BUGGIFY: the governor pauses between doing a step and recording it (elections happen meanwhile). */
  private async maybeStall(): Promise<void> {
    if (this.node.env.buggify('governor.step.stall')) await this.node.env.clock.sleep(this.node.env.random.int(300));
  }

  /** Proposes every op at once (they travel together), then waits for all of them. */
  private async proposeAll(ops: readonly Op[]): Promise<void> {
    await this.maybeStall();
    const raft = this.node.requireLeader();
    const applied = ops.map((op) => raft.propose(op, this.timeoutMs()).applied);
    const results = await Promise.allSettled(applied);
    const failed = results.find((r) => r.status === 'rejected');
    if (failed !== undefined) throw (failed as PromiseRejectedResult).reason;
  }

  /** Calls a fenced RPC `(term, index, timeout_ms, ...args)` (or a plain one) on an instance. */
  private async rpc(instance: Instance, proc: string, args: readonly MpValue[], fenced = true): Promise<MpValue[]> {
    const node = this.node;
    const raft = node.requireLeader();
    const address = node.peerAddress(instance.raftId);
    if (address === undefined) throw new GovernorStepError(`address of peer with id ${instance.raftId} not found`);
    const fullArgs = fenced ? [raft.term, raft.applied, this.timeoutMs(), ...args] : args;
    const result = await node.pool.call(address, proc, fullArgs, this.timeoutMs() + 1_000);
    if (!result.ok) throw new GovernorStepError(`${proc} on ${instance.instanceId} failed: ${describeClientError(result.error)}`);
    return result.value;
  }

  private async rpcAll(targets: readonly Instance[], proc: string, args: readonly MpValue[]): Promise<void> {
    await Promise.all(targets.map((t) => this.rpc(t, proc, args)));
  }

  private async waitUntil(condition: () => boolean, what: string, timeoutMs = this.timeoutMs()): Promise<void> {
    const node = this.node;
    const deadlineMs = node.env.clock.nowMs() + timeoutMs;
    while (!condition()) {
      if (node.env.clock.nowMs() >= deadlineMs) throw new GovernorStepError(`timed out waiting for ${what}`);
      await node.nextChange(Math.max(1, deadlineMs - node.env.clock.nowMs()));
    }
  }
}
