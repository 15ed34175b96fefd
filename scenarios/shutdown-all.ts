/**
 * shutdown-all: instances are stopped with SIGTERM one by one in a random order. While a quorum
 * of voters lasts, each stop is graceful: exit 0, Offline recorded by the cluster, no
 * `on_shutdown triggers failed`. The last ones (no quorum left) still exit 0.
 */

import type { Scenario } from '../runtime-sim/scenario.ts';
import { clusterState, clusterWorldOptions, setupCluster, startAllOnline } from './lib/cluster-scenario.ts';

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
    const order = ctx.random.shuffle([...names]);
    for (const name of order) {
      const observer = order.find((n) => n !== name && cluster.host(n).running);
      const quorum = observer !== undefined && hasQuorum(state, observer, name);
      // An instance stopped earlier without reaching Offline (no quorum then: e.g. stopped while
      // the governor was still promoting voters) stays Online in the records until the
      // sentinel's timeout, and the governor's calls to it hold up this stop's handover: only a
      // stop after clean ones must finish within on_shutdown.
      const lingering = observer === undefined ? [] : order.filter((n) => n !== name && !cluster.host(n).running && cluster.node(observer)?.tables.instance(n)?.currentGrade.variant !== 'Offline');
      ctx.note(`stopping ${name} (quorum without it: ${quorum}${lingering.length > 0 ? `; still recorded Online though stopped: ${lingering.join(', ')}` : ''})`);
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
      if (failed && lingering.length === 0) ctx.violation(`${name} logged on_shutdown triggers failed although a quorum remained`);
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
