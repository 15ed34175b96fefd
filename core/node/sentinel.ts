/**
 * The sentinel: failure detection on top of Raft.
 * - On the leader: an instance that should be Online but has not been heard from (any Raft
 *   message) for `autoOfflineTimeoutMs` is asked to go Offline; the governor then moves its roles
 *   away. Instances not yet in the Raft configuration are not judged.
 * - On every instance: finding itself marked Offline while alive and not stopping, it asks for
 *   Online again (a new incarnation), and the governor brings it back.
 */

import { mayRespond } from '../cluster/grade.ts';
import type { Node } from './node.ts';
import { requestTargetGrade } from './target-grade.ts';

export class Sentinel {
  private readonly node: Node;
  private stopped = false;
  /** When each raft id was first seen in the configuration by this leader, for its grace period. */
  private readonly firstSeenMs = new Map<number, number>();
  private leaderTerm = -1;

  constructor(node: Node) {
    this.node = node;
  }

  stop(): void {
    this.stopped = true;
  }

  async run(): Promise<void> {
    const node = this.node;
    const tuning = node.options.tuning;
    while (!this.stopped) {
      await node.env.clock.sleep(tuning.sentinelIntervalMs);
      if (this.stopped || node.raft === null) continue;
      try {
        if (node.isLeader() && tuning.autoOfflineTimeoutMs > 0) await this.judgeOthers();
        if (node.state === 'online') await this.reviveSelf();
      } catch (error) {
        node.log.verbose('sentinel step failed', { reason: error instanceof Error ? error.message : String(error) });
      }
    }
  }

  private async judgeOthers(): Promise<void> {
    const node = this.node;
    const raft = node.requireLeader();
    const nowMs = node.env.clock.nowMs();
    if (raft.term !== this.leaderTerm) {
      this.leaderTerm = raft.term;
      this.firstSeenMs.clear();
    }
    const conf = raft.confState();
    const members = new Set<number>([...conf.voters, ...conf.learners]);
    for (const instance of node.tables.instances()) {
      if (instance.raftId === raft.id || !members.has(instance.raftId) || !mayRespond(instance.targetGrade)) continue;
      if (!this.firstSeenMs.has(instance.raftId)) this.firstSeenMs.set(instance.raftId, nowMs);
      const heardMs = Math.max(raft.lastHeardMs.get(instance.raftId) ?? -Infinity, this.firstSeenMs.get(instance.raftId)!);
      if (nowMs - heardMs < node.options.tuning.autoOfflineTimeoutMs) continue;
      const updated = node.topology().updateInstance({ clusterId: node.clusterId(), instanceId: instance.instanceId, targetGrade: 'Offline' });
      if (!updated.ok) continue;
      node.log.warn('instance is not responding, marking it Offline', { instance_id: instance.instanceId, silent_ms: Math.round(nowMs - heardMs) });
      await raft.proposeAndWait({ kind: 'persist_instance', instance: updated.value }, node.options.tuning.syncRpcTimeoutMs);
    }
  }

  private async reviveSelf(): Promise<void> {
    const node = this.node;
    const self = node.self();
    if (self === undefined || self.targetGrade.variant !== 'Offline') return;
    node.log.info('marked Offline while alive, asking to be Online again');
    await requestTargetGrade(node, 'Online', node.options.tuning.postjoinTimeoutMs);
  }
}
