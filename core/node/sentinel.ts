/**
 * The sentinel: failure detection on top of Raft.
 * - On the leader: an instance that should be Online but has not been heard from (any Raft
 *   message) for `autoOfflineTimeoutMs` is asked to go Offline; the governor then moves its roles
 *   away. Instances not yet in the Raft configuration are not judged.
 * - On every instance: finding itself marked Offline while alive and not stopping, it asks for
 *   Online again (a new incarnation), and the governor brings it back; finding another address
 *   than its `--advertise` recorded for itself, it announces that again, and while it hears no
 *   leader that could record it, it tells its peers directly (`.proc_peer_address`).
 * - An instance that has not heard from a leader for long asks its peers about itself: Raft
 *   cannot tell a node it was removed from the configuration, so one expelled while it lagged
 *   would otherwise wait (or campaign) forever instead of exiting.
 */

import { mayRespond } from '../cluster/grade.ts';
import { isMpMap } from '../codec/msgpack.ts';
import { PROC_PEER_ADDRESS } from '../rpc/peer-address.ts';
import { field } from '../rpc/proc-error.ts';
import type { Node } from './node.ts';
import { EXIT_OK } from './options.ts';
import { requestTargetGrade } from './target-grade.ts';
import { probe } from '../lib/probe.ts';

/** Peers an instance without a leader asks about itself per window. */
const PEERS_ASKED_MAX = 5;

export class Sentinel {
  private readonly node: Node;
  private stopped = false;
  /** When each raft id was first seen in the configuration by this leader, for its grace period. */
  private readonly firstSeenMs = new Map<number, number>();
  private leaderTerm = -1;
  /** When this instance last heard from a leader (monotonic ms); 0 = not yet judged. */
  private leaderSeenMs = 0;

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
        if (node.state === 'online') await this.reannounceAddress();
        await this.tellPeersOwnAddress();
        await this.askWhetherExpelled();
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
      probe('sentinel.marked_offline');
      node.log.warn('instance is not responding, marking it Offline', { instance_id: instance.instanceId, silent_ms: Math.round(nowMs - heardMs) });
      await raft.proposeAndWait(updated.value, node.options.tuning.syncRpcTimeoutMs);
    }
  }

  private async askWhetherExpelled(): Promise<void> {
    const node = this.node;
    const raft = node.raft;
    const nowMs = node.env.clock.nowMs();
    if (raft === null || raft.role === 'Leader' || this.leaderSeenMs === 0) {
      this.leaderSeenMs = nowMs;
      return;
    }
    // A learner never campaigns, so it may keep naming a leader that stopped talking to it
    // (after removing it): judge by when the leader was last heard from, not by its id.
    const heardMs = this.leaderHeardMs();
    if (heardMs !== undefined && heardMs > this.leaderSeenMs) this.leaderSeenMs = heardMs;
    if (nowMs - this.leaderSeenMs < 5 * this.electionTimeoutMs() || node.identity === null) return;
    this.leaderSeenMs = nowMs; // ask at most once per window
    const self = node.identity;
    // Ask members this instance still believes in (expelled ones are gone), a few at a time.
    const peers = this.memberAddresses(self.raftId);
    for (let i = peers.length - 1; i > 0; i--) {
      const j = node.env.random.int(i + 1);
      [peers[i], peers[j]] = [peers[j]!, peers[i]!];
    }
    for (const address of peers.slice(0, PEERS_ASKED_MAX)) {
      const result = await node.pool.call(address, 'pico.instance_info', [self.instanceId], 2_000);
      // A peer that does not know this instance (a wiped one rejoining) has nothing to tell.
      if (!result.ok || !isMpMap(result.value[0] ?? null)) continue;
      const current = field(field(result.value[0] ?? null, 'current_grade', 'instance') ?? null, 'variant', 'grade');
      const raftId = field(result.value[0] ?? null, 'raft_id', 'instance');
      if (current === 'Expelled' && raftId === self.raftId) {
        node.log.info('this instance has been expelled from the cluster (learned from a peer)');
        this.stop();
        // Its own log may never hold the record: remember it, so it refuses to start again.
        await node.raftStore.saveIdentity({ ...self, expelled: true }).catch(() => undefined);
        node.exit(EXIT_OK, 'expelled');
        return;
      }
    }
  }

  /**
   * The table must hold the address this instance listens at: a restart's announcement can be
   * overtaken by a late request of the previous incarnation carrying the old one.
   */
  private async reannounceAddress(): Promise<void> {
    const node = this.node;
    const self = node.self();
    if (self === undefined || self.targetGrade.variant !== 'Online') return;
    // Behind on the log, the table may not show an announcement already committed.
    if (node.raft === null || node.raft.applied < node.raft.commit) return;
    const recorded = node.tables.peerAddress(self.raftId);
    if (recorded === undefined || recorded === node.options.advertise) return;
    probe('sentinel.reannounced_address');
    node.log.warn('the recorded address is not --advertise, announcing it again', { recorded, advertise: node.options.advertise });
    await requestTargetGrade(node, null, node.options.tuning.syncRpcTimeoutMs);
  }

  /**
   * Moved (another address recorded for itself) and no leader heard within an election timeout
   * to record the new one: the peers learn it from this instance directly, so that answers and
   * campaigns reach it (see core/rpc/peer-address.ts).
   */
  private async tellPeersOwnAddress(): Promise<void> {
    const node = this.node;
    const raft = node.raft;
    const self = node.identity;
    if (raft === null || self === null) return;
    const recorded = node.tables.peerAddress(self.raftId);
    if (recorded === undefined || recorded === node.options.advertise) return;
    const heardMs = this.leaderHeardMs();
    if (raft.role === 'Leader' || (heardMs !== undefined && node.env.clock.nowMs() - heardMs < this.electionTimeoutMs())) return;
    probe('sentinel.told_peers_address');
    // Where the tables say the members are, and where --peer says: peers that moved too are
    // found only there (two voters restarted on new ports with the leader down).
    const addresses = new Set<string>([...node.options.peers, ...this.memberAddresses(self.raftId)]);
    addresses.delete(node.options.advertise);
    await Promise.all([...addresses].map((address) => node.pool.call(address, PROC_PEER_ADDRESS, [self.raftId, node.options.advertise], node.options.tuning.syncRpcTimeoutMs)));
  }

  /** When the leader this instance names was last heard from; undefined without one. */
  private leaderHeardMs(): number | undefined {
    const raft = this.node.raft;
    return raft === null || raft.leaderId === 0 ? undefined : raft.lastHeardMs.get(raft.leaderId);
  }

  private electionTimeoutMs(): number {
    const tuning = this.node.options.tuning;
    return (tuning.raft.electionTicks ?? 20) * tuning.raftTickMs;
  }

  /** Addresses of the members other than `selfRaftId` that are not expelled. */
  private memberAddresses(selfRaftId: number): string[] {
    const node = this.node;
    const members = node.tables.instances().filter((i) => i.raftId !== selfRaftId && i.currentGrade.variant !== 'Expelled');
    return members.map((i) => node.peerAddress(i.raftId)).filter((a): a is string => a !== undefined);
  }

  private async reviveSelf(): Promise<void> {
    const node = this.node;
    const self = node.self();
    if (self === undefined || self.targetGrade.variant !== 'Offline') return;
    probe('sentinel.revived_self');
    node.log.info('marked Offline while alive, asking to be Online again');
    await requestTargetGrade(node, 'Online', node.options.tuning.postjoinTimeoutMs);
  }
}
