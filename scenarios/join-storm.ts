/**
 * join-storm: many instances (200 by default) start at once with replication factor 2 in three
 * failure domains (DC A, B, C), under network faults and a few crashes while they join. After the
 * faults stop, every instance must reach Online; replicasets respect the replication factor and
 * the failure domains; five voters cover all three domains; tables converge; and no two
 * instances ever apply different entries at one index.
 */

import { DEFAULT_NET_FAULTS } from '../runtime-sim/network.ts';
import type { Scenario, ScenarioContext } from '../runtime-sim/scenario.ts';
import { SimCluster } from './lib/cluster.ts';
import { ClusterChecker } from './lib/cluster-checks.ts';
import { Nemesis } from './lib/nemesis.ts';

const DOMAINS = ['A', 'B', 'C'] as const;

interface State {
  cluster: SimCluster;
  checker: ClusterChecker;
  names: string[];
}

const states = new WeakMap<ScenarioContext, State>();

function state(ctx: ScenarioContext): State {
  const s = states.get(ctx);
  if (s === undefined) throw new Error('join-storm: setup did not run');
  return s;
}

export const joinStorm: Scenario = {
  name: 'join-storm',
  description: 'instances join concurrently (RF 2, three failure domains) under network faults and crashes',
  defaultNodes: 200,
  eventsMax: 400_000_000,
  virtualMsMax: 1_200_000,

  worldOptions(_seed, _nodes, random) {
    return {
      net: { ...DEFAULT_NET_FAULTS, latencyMsMin: 0.05 + random.float(), latencyMsMean: 0.1 + random.float() * 3 },
      buggify: random.chance(0.8),
    };
  },

  async setup(ctx) {
    const cluster = new SimCluster(ctx.world, { initReplicationFactor: 2, peers: ['i1:3301', 'i2:3301', 'i3:3301'] });
    const checker = new ClusterChecker(ctx);
    cluster.hooks = checker.hooks();
    const names = Array.from({ length: ctx.nodes }, (_, i) => `i${i + 1}`);
    states.set(ctx, { cluster, checker, names });
  },

  async run(ctx) {
    const { cluster, names } = state(ctx);
    const spec = (name: string) => ({ failureDomain: { DC: DOMAINS[(Number(name.slice(1)) - 1) % DOMAINS.length]! } });
    for (const name of names) cluster.start(name, spec(name));
    const nemesis = new Nemesis(ctx, {
      actions: ['clog_one', 'isolate_one', 'heal', 'crash_process', 'crash_power', 'restart', 'restart', 'heal'],
      meanIntervalMs: 2_000,
      crashedMax: Math.max(1, Math.floor(names.length / 20)),
      restart: (host) => cluster.start(host.name),
      victims: () => names.map((n) => cluster.host(n)),
    });
    await nemesis.run(15_000);
    ctx.note('liveness phase');
    ctx.world.net.heal();
    for (const name of names) if (!cluster.host(name).running) cluster.start(name);
    const online = await cluster.waitOnline(names, 600_000);
    if (!online) {
      const stuck = names.filter((n) => !cluster.isOnline(n));
      ctx.violation(`${stuck.length} instances never reached Online: ${stuck.slice(0, 10).join(', ')}`);
    }
  },

  async check(ctx) {
    const { cluster, checker } = state(ctx);
    if (!(await checker.waitConverged(cluster, 60_000))) ctx.violation('instances did not converge on one applied index');
    checker.checkEndState(cluster);
    const leader = cluster.node(cluster.leaderName() ?? '');
    const voters = leader?.raft?.status().voters ?? [];
    if (voters.length !== Math.min(5, ctx.nodes)) ctx.violation(`${voters.length} voters, expected ${Math.min(5, ctx.nodes)}`);
  },
};
