/**
 * Invariant checkers for simulated clusters. Safety checks run on every event they observe;
 * end-state checks run once the scenario healed the cluster and let it settle.
 *
 * Safety:
 * - election safety: at most one leader per term;
 * - leader completeness: a new leader's log holds every entry already applied (so committed)
 *   anywhere, identical;
 * - state machine safety: every instance applies the same entry (term and operation) at an index.
 * End state (liveness):
 * - every running instance applied the same index and holds identical clusterwide tables;
 * - running instances are Online at their current incarnation, stopped ones Offline (or Expelled);
 * - Raft voters number votersNeeded(non-expelled instances), are Online, and are spread over the
 *   failure domains as far as the instances allow;
 * - replicasets respect the replication factor and failure domains of auto-placed members, and
 *   their master is a member.
 */

import { decodeOp, formatOp } from '../../core/cluster/ops.ts';
import type { AppliedEntry } from '../../core/cluster/raft-node.ts';
import { intersects } from '../../core/cluster/failure-domain.ts';
import { votersNeeded } from '../../core/governor/conf-change.ts';
import type { InstanceHooks } from '../../core/instance.ts';
import { toHex } from '../../core/lib/bytes.ts';
import type { Node } from '../../core/node/node.ts';
import type { ScenarioContext } from '../../runtime-sim/scenario.ts';
import type { SimCluster } from './cluster.ts';

export class ClusterChecker {
  private readonly ctx: ScenarioContext;
  private readonly leaders = new Map<number, number>();
  private readonly applied = new Map<number, string>();
  private reported = 0;
  /** Violations beyond this many are counted, not listed (one bug tends to repeat). */
  private static readonly REPORTS_MAX = 20;

  constructor(ctx: ScenarioContext) {
    this.ctx = ctx;
  }

  /** Hooks to pass to every instance started in the scenario. */
  hooks(): InstanceHooks {
    return {
      applied: (node, entry) => this.onApplied(node, entry),
      roleChanged: (node, role, term) => {
        if (role !== 'Leader' || node.identity === null) return;
        this.onLeader(node.identity.raftId, term);
        this.checkLeaderCompleteness(node);
      },
    };
  }

  private violation(message: string): void {
    if (this.reported++ < ClusterChecker.REPORTS_MAX) this.ctx.violation(message);
  }

  private onLeader(raftId: number, term: number): void {
    const existing = this.leaders.get(term);
    if (existing !== undefined && existing !== raftId) this.violation(`election safety: raft ids ${existing} and ${raftId} both led term ${term}`);
    this.leaders.set(term, raftId);
  }

  private maxAppliedIndex = 0;

  /** Every entry applied anywhere is committed: the new leader must have it, in its log or its snapshot. */
  private checkLeaderCompleteness(node: Node): void {
    const raft = node.raft!;
    const first = raft.status().firstIndex;
    if (raft.lastIndex < this.maxAppliedIndex) {
      this.violation(`leader completeness: ${node.identity?.instanceId} leads with last index ${raft.lastIndex} < committed ${this.maxAppliedIndex}`);
      return;
    }
    for (const entry of raft.entries(first, this.maxAppliedIndex)) {
      const expected = this.applied.get(entry.index);
      if (expected === undefined) continue;
      const op = entry.kind === 'normal' && entry.data.length > 0 ? formatOp(decodeOp(entry.data)) : '-';
      if (`${entry.term}:${op}` !== expected) {
        this.violation(`leader completeness: ${node.identity?.instanceId} leads with ${entry.term}:${op} at index ${entry.index}, committed was ${expected}`);
        return;
      }
    }
  }

  private onApplied(node: Node, entry: AppliedEntry): void {
    if (entry.index > this.maxAppliedIndex) this.maxAppliedIndex = entry.index;
    const fingerprint = `${entry.term}:${entry.op === null ? '-' : formatOp(entry.op)}`;
    const existing = this.applied.get(entry.index);
    if (existing === undefined) this.applied.set(entry.index, fingerprint);
    else if (existing !== fingerprint) {
      this.violation(`state machine safety: ${node.identity?.instanceId} applied ${fingerprint} at index ${entry.index}, another instance applied ${existing}`);
    }
  }

  /** Waits until every running instance applied the same index; false on timeout. */
  async waitConverged(cluster: SimCluster, timeoutMs: number): Promise<boolean> {
    return cluster.world.waitFor(() => {
      const nodes = runningNodes(cluster);
      if (nodes.length === 0) return true;
      const applied = nodes.map((n) => n.raft?.applied ?? -1);
      return applied.every((a) => a === applied[0]) && nodes.every((n) => n.raft !== null);
    }, timeoutMs, 100);
  }

  /** End-state checks; call after healing and `waitConverged`. */
  checkEndState(cluster: SimCluster, options: { readonly explicitReplicasets?: boolean } = {}): void {
    // A node without Raft (still starting, or stuck before it) has nothing to compare: when
    // waitConverged gave up on it, that was reported there, and the rest is checked without it.
    const nodes = runningNodes(cluster).filter((n) => n.raft !== null);
    if (nodes.length === 0) return;
    const reference = nodes[0]!;
    const tables = toHex(reference.tables.snapshot());
    for (const node of nodes) {
      if (node.raft?.applied !== reference.raft?.applied) continue; // reported by waitConverged
      if (toHex(node.tables.snapshot()) !== tables) this.violation(`tables of ${node.identity?.instanceId} differ from ${reference.identity?.instanceId} at the same applied index`);
    }
    this.checkGrades(cluster, reference);
    this.checkVoters(reference);
    if (options.explicitReplicasets !== true) this.checkReplicasets(reference);
  }

  private checkGrades(cluster: SimCluster, view: Node): void {
    const running = new Set(runningNodes(cluster).map((n) => n.identity?.instanceId));
    for (const instance of view.tables.instances()) {
      const current = instance.currentGrade;
      const target = instance.targetGrade;
      // The governor only ever moves the current grade to the target's incarnation.
      if (current.incarnation > target.incarnation) {
        this.violation(`${instance.instanceId} is ${current.variant}(${current.incarnation}) -> ${target.variant}(${target.incarnation}): current incarnation ahead of the target`);
      }
      if (running.has(instance.instanceId)) {
        if (current.variant !== 'Online' || target.variant !== 'Online' || current.incarnation !== target.incarnation) {
          this.violation(`running ${instance.instanceId} is ${current.variant}(${current.incarnation}) -> ${target.variant}(${target.incarnation}), not Online`);
        }
      } else if (current.variant !== 'Offline' && current.variant !== 'Expelled') {
        this.violation(`stopped ${instance.instanceId} is still ${current.variant}`);
      }
    }
  }

  private checkVoters(view: Node): void {
    const status = view.raft!.status();
    const present = view.tables.instances().filter((i) => i.currentGrade.variant !== 'Expelled' && i.targetGrade.variant !== 'Expelled');
    const online = present.filter((i) => i.currentGrade.variant === 'Online');
    const expected = Math.min(votersNeeded(present.length), online.length);
    if (status.voters.length !== expected && status.voters.length < votersNeeded(present.length)) {
      this.violation(`${status.voters.length} voters, expected ${expected} (${present.length} instances, ${online.length} online)`);
    }
    // An Offline voter may keep its seat only while no Online instance could take it.
    const spare = online.find((i) => !status.voters.includes(i.raftId as never));
    for (const id of status.voters) {
      const i = view.tables.instanceByRaftId(id);
      if (i === undefined) this.violation(`voter ${id} is not an instance`);
      else if (i.currentGrade.variant !== 'Online' && spare !== undefined) this.violation(`voter ${id} is ${i.currentGrade.variant} while ${spare.instanceId} could vote`);
    }
    // Spread: voters cover as many distinct domain values as Online instances offer (up to their count).
    const key = Object.keys(online[0]?.failureDomain ?? {})[0];
    if (key === undefined) return;
    const offered = new Set(online.map((i) => i.failureDomain[key])).size;
    const covered = new Set(status.voters.map((id) => view.tables.instanceByRaftId(id)?.failureDomain[key])).size;
    if (covered < Math.min(offered, status.voters.length)) this.violation(`voters cover ${covered} ${key} values of ${offered} available`);
  }

  private checkReplicasets(view: Node): void {
    const rf = view.tables.replicationFactor();
    const instances = view.tables.instances();
    for (const r of view.tables.replicasets()) {
      const members = instances.filter((i) => i.replicasetId === r.replicasetId);
      if (members.length > rf) this.violation(`replicaset ${r.replicasetId} has ${members.length} members, replication factor ${rf}`);
      for (let a = 0; a < members.length; a++) {
        for (let b = a + 1; b < members.length; b++) {
          if (intersects(members[a]!.failureDomain, members[b]!.failureDomain)) {
            this.violation(`replicaset ${r.replicasetId}: ${members[a]!.instanceId} and ${members[b]!.instanceId} share a failure domain`);
          }
        }
      }
      // A replicaset whose members all left keeps its last master's id; one with live members must not.
      const live = members.filter((m) => m.currentGrade.variant === 'Online');
      if (live.length > 0 && !members.some((m) => m.instanceId === r.masterId)) this.violation(`replicaset ${r.replicasetId}: master ${r.masterId} is not a member`);
    }
  }
}

export function runningNodes(cluster: SimCluster): Node[] {
  const out: Node[] = [];
  for (const host of cluster.world.hosts) {
    if (host.name === 'client' || !host.running) continue;
    const node = cluster.node(host.name);
    if (node !== undefined && node.state !== 'exited') out.push(node);
  }
  return out;
}
