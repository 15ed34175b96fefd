/**
 * shutdown-all: instances are stopped with SIGTERM one by one in a random order. While a quorum
 * of voters lasts, each stop is graceful: exit 0, Offline recorded by the cluster, no
 * `on_shutdown triggers failed`. The last ones (no quorum left) still exit 0.
 */

import type { Scenario } from '../runtime-sim/scenario.ts';
import { clusterState, clusterWorldOptions, setupCluster, startAllOnline, votersSettled } from './lib/cluster-scenario.ts';

export const shutdownAll: Scenario = {
  name: 'shutdown-all',
  description: 'SIGTERM every instance one by one; graceful while quorum lasts, exit 0 always',
  defaultNodes: 7,
  eventsMax: 100_000_000,
  virtualMsMax: 1_800_000,
  // A healthy cluster: BUGGIFY's dropped batches (a lost TimeoutNow) can legitimately push a
  // leader's handover past the 3 s on_shutdown budget, which is not what this scenario is about.
  worldOptions: (_seed, _nodes, random) => ({ ...clusterWorldOptions(random), buggify: false }),

  async setup(ctx) {
    setupCluster(ctx, { initReplicationFactor: 1 });
  },

  async run(ctx) {
    const state = clusterState(ctx);
    const { cluster, names } = state;
    if (!(await startAllOnline(ctx, state, 120_000))) return;
    // All Online is not yet all voting: stopping a voter while the governor still promotes the
    // others leaves no quorum for the first stop, and that instance exits without Offline (its
    // record stays Online until the sentinel's timeout, holding up the next graceful stops).
    const settled = (await ctx.world.waitFor(() => votersSettled(state), 30_000, 50)) && (await state.checker.waitConverged(cluster, 30_000));
    if (!settled) {
      ctx.violation('the voter configuration did not settle everywhere within 30 s of every instance being Online');
      return;
    }
    const order = ctx.random.shuffle([...names]);
    for (const name of order) {
      const observer = order.find((n) => n !== name && cluster.host(n).running);
      const quorum = observer !== undefined && hasQuorum(state, observer, name);
      ctx.note(`stopping ${name} (quorum without it: ${quorum})`);
      const host = cluster.host(name);
      host.stop('SIGTERM');
      if (!(await ctx.world.waitFor(() => !host.running, 30_000, 50))) {
        ctx.violation(`${name} did not exit within 30 s of SIGTERM`);
        continue;
      }
      const last = host.history.at(-1);
      if (last?.kind !== 'exited' || last.code !== 0) ctx.violation(`${name} ended ${JSON.stringify(last)}, expected exit 0`);
      if (!quorum) continue;
      const failed = ctx.world.logs.recent().some((l) => l.host === name && l.message === 'on_shutdown triggers failed');
      if (failed) ctx.violation(`${name} logged on_shutdown triggers failed although a quorum remained`);
      const recorded = await ctx.world.waitFor(() => cluster.node(observer!)?.tables.instance(name)?.currentGrade.variant === 'Offline', 10_000, 50);
      if (!recorded) ctx.violation(`the cluster did not record ${name} Offline`);
      await ctx.world.sleep(500 + ctx.random.int(2_000));
    }
  },

  async check() {},
};

/** Would the Online voters other than `leaving` still form a majority? */
function hasQuorum(state: ReturnType<typeof clusterState>, observer: string, leaving: string): boolean {
  const node = state.cluster.node(observer);
  if (node?.raft === null || node === undefined) return false;
  const voters = node.raft.status().voters;
  const online = voters.filter((id) => {
    const i = node.tables.instanceByRaftId(id);
    return i !== undefined && i.instanceId !== leaving && i.currentGrade.variant === 'Online' && state.cluster.host(i.instanceId).running;
  });
  return online.length >= Math.floor(voters.length / 2) + 1;
}
