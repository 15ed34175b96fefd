/**
 * voter-failover: voters are killed one by one (power loss). Each time the leader must notice
 * (sentinel), mark the victim Offline and give its vote to an Online instance, so that a quorum
 * of Online voters is restored while enough instances live. Brief network faults between kills.
 */

import { votersNeeded } from '../core/governor/conf-change.ts';
import type { Scenario } from '../runtime-sim/scenario.ts';
import { checkSettled, clusterState, clusterWorldOptions, setupCluster, startAllOnline, instanceHosts } from './lib/cluster-scenario.ts';
import { Nemesis } from './lib/nemesis.ts';

/** Budget to notice a dead voter (auto-offline 5 s) and replace it. */
const RESTORE_BUDGET_MS = 30_000;

export const voterFailover: Scenario = {
  name: 'voter-failover',
  description: 'kill voters one by one; a quorum of Online voters is restored each time',
  defaultNodes: 9,
  eventsMax: 100_000_000,
  virtualMsMax: 1_800_000,
  worldOptions: (_seed, _nodes, random) => clusterWorldOptions(random),

  async setup(ctx) {
    setupCluster(ctx, { initReplicationFactor: 1 });
  },

  async run(ctx) {
    const state = clusterState(ctx);
    const { cluster } = state;
    if (!(await startAllOnline(ctx, state, 120_000))) return;
    const nemesis = new Nemesis(ctx, { actions: ['clog_one', 'isolate_one', 'partition_halves'], meanIntervalMs: 3_000, crashedMax: 0, restart: () => undefined, victims: () => instanceHosts(state) });
    for (let round = 0; ; round++) {
      // Kill only from a stable configuration: no Raft survives losing its joint-consensus half.
      if (!(await ctx.world.waitFor(() => quorumRestored(state), RESTORE_BUDGET_MS, 100))) {
        ctx.violation(`round ${round}: the voter configuration never became stable`);
        return;
      }
      const live = state.names.filter((n) => cluster.host(n).running);
      if (live.length <= 3) break;
      const leader = cluster.node(cluster.leaderName() ?? '');
      if (leader === undefined) break;
      const voters = leader.raft!.status().voters;
      const victim = live.find((n) => voters.includes(cluster.node(n)!.identity!.raftId as never));
      if (victim === undefined) break;
      ctx.note(`round ${round}: killing voter ${victim}`);
      cluster.host(victim).crash('power');
      await nemesis.run(2_000);
      ctx.world.net.heal();
      const restored = await ctx.world.waitFor(() => quorumRestored(state), RESTORE_BUDGET_MS, 100);
      if (!restored) {
        ctx.violation(`round ${round}: no restored quorum of Online voters ${RESTORE_BUDGET_MS} ms after killing ${victim}`);
        return;
      }
    }
  },

  async check(ctx) {
    await checkSettled(ctx, clusterState(ctx));
  },
};

/**
 * Restored: a leader outside joint consensus whose voters include as many running instances as
 * the topology asks for (or every running instance, if fewer), running voters are a majority,
 * and every running voter has left joint consensus too. A configuration takes effect where it
 * is applied (etcd's rule), so a voter that has the leave-joint entry but has not yet learned
 * that it committed still counts the outgoing voters in an election: killing the last outgoing
 * voter then (seed 18019: the sole first voter, right after the leader applied the leave) leaves
 * no election winnable. Raft cannot survive that; the scenario kills from stable states only.
 */
function quorumRestored(state: ReturnType<typeof clusterState>): boolean {
  const { cluster } = state;
  const leaderName = cluster.leaderName();
  if (leaderName === undefined) return false;
  const leader = cluster.node(leaderName)!;
  const status = leader.raft!.status();
  if (status.votersOutgoing.length > 0) return false;
  const present = leader.tables.instances().filter((i) => i.targetGrade.variant !== 'Expelled');
  const running = present.filter((i) => cluster.host(i.instanceId).running);
  const wanted = Math.min(votersNeeded(present.length), running.length);
  const runningVoters = running.filter((i) => status.voters.includes(i.raftId as never));
  const leftJointEverywhere = runningVoters.every((i) => (cluster.node(i.instanceId)?.raft?.status().votersOutgoing.length ?? 0) === 0);
  return leftJointEverywhere && runningVoters.length >= wanted && runningVoters.length >= Math.floor(status.voters.length / 2) + 1;
}
