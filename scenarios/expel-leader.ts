/**
 * expel-leader: the Raft leader is expelled through a follower, again and again. Each expelled
 * instance hands over leadership, exits 0 by itself, refuses to start again; a new leader takes
 * over; raft ids are never reused; the rest stay Online. Network faults run in between.
 */

import type { Scenario } from '../runtime-sim/scenario.ts';
import { checkSettled, clusterState, clusterWorldOptions, setupCluster, startAllOnline, instanceHosts } from './lib/cluster-scenario.ts';
import { Nemesis } from './lib/nemesis.ts';

const EXPEL_BUDGET_MS = 30_000;

export const expelLeader: Scenario = {
  name: 'expel-leader',
  description: 'expel the current leader through a follower, repeatedly',
  defaultNodes: 7,
  eventsMax: 100_000_000,
  virtualMsMax: 1_800_000,
  worldOptions: (_seed, _nodes, random) => clusterWorldOptions(random),

  async setup(ctx) {
    setupCluster(ctx, { initReplicationFactor: 1 });
  },

  async run(ctx) {
    const state = clusterState(ctx);
    const { cluster, names } = state;
    if (!(await startAllOnline(ctx, state, 120_000))) return;
    const nemesis = new Nemesis(ctx, { actions: ['clog_one', 'isolate_one', 'partition_halves', 'heal'], meanIntervalMs: 2_000, crashedMax: 0, restart: () => undefined, victims: () => instanceHosts(state) });
    const expelledRaftIds = new Map<number, string>();
    for (let round = 0; names.filter((n) => cluster.host(n).running).length > 3; round++) {
      const leaderName = cluster.leaderName();
      if (leaderName === undefined) {
        await ctx.world.sleep(500);
        continue;
      }
      const via = names.find((n) => n !== leaderName && cluster.host(n).running)!;
      const leaderRaftId = cluster.node(leaderName)!.identity!.raftId;
      ctx.note(`round ${round}: expelling leader ${leaderName} through ${via}`);
      const result = await cluster.call(via, 'pico.expel', [leaderName], 20_000);
      if (!result.ok) {
        await ctx.world.sleep(1_000); // e.g. no leader known to `via` yet: try again
        continue;
      }
      expelledRaftIds.set(leaderRaftId, leaderName);
      const host = cluster.host(leaderName);
      const exited = await ctx.world.waitFor(() => !host.running, EXPEL_BUDGET_MS, 100);
      if (!exited) ctx.violation(`round ${round}: expelled ${leaderName} still runs after ${EXPEL_BUDGET_MS} ms`);
      else if (JSON.stringify(host.history.at(-1)) !== JSON.stringify({ kind: 'exited', code: 0 })) ctx.violation(`${leaderName} ended ${JSON.stringify(host.history.at(-1))}, expected exit 0`);
      await nemesis.run(3_000);
      ctx.world.net.heal();
    }
    for (const name of names) {
      const node = cluster.node(name);
      const owner = node?.identity === null || node === undefined ? undefined : expelledRaftIds.get(node.identity.raftId);
      if (owner !== undefined && owner !== name) ctx.violation(`raft id ${node!.identity!.raftId} of expelled ${owner} reused by ${name}`);
    }
    // An expelled instance refuses to start again.
    const expelled = names.find((n) => cluster.nodes.get(n)?.identity !== null && expelledRaftIds.has(cluster.nodes.get(n)?.identity?.raftId ?? -1));
    if (expelled !== undefined) {
      cluster.start(expelled);
      await ctx.world.waitFor(() => !cluster.host(expelled).running, 20_000, 100);
      const last = cluster.host(expelled).history.at(-1);
      if (last?.kind !== 'exited' || last.code === 0) ctx.violation(`expelled ${expelled} started again (${JSON.stringify(last)})`);
    }
  },

  async check(ctx) {
    await checkSettled(ctx, clusterState(ctx));
  },
};
