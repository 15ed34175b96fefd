import { describe, expect, it } from 'vitest';
import { SimCluster } from '../../scenarios/lib/cluster.ts';
import { World } from '../../runtime-sim/world.ts';

async function simulate(seed: number, body: (cluster: SimCluster, world: World) => Promise<void>): Promise<World> {
  const world = new World({ seed, logLevel: 'info' });
  const cluster = new SimCluster(world);
  await world.run(() => body(cluster, world), { eventsMax: 5_000_000, virtualMsMax: 600_000 });
  return world;
}

describe('cluster lifecycle in the simulator', () => {
  it('a single instance bootstraps, leads at term 2 and reaches Online', async () => {
    const world = await simulate(1, async (cluster) => {
      cluster.start('i1');
      expect(await cluster.waitOnline(['i1'], 30_000)).toBe(true);
      const status = await cluster.call('i1', 'pico.raft_status');
      expect(status.ok && status.value[0]).toMatchObject({ id: 1, term: 2, leader_id: 1, raft_state: 'Leader' });
      const whoami = await cluster.call('i1', 'pico.whoami');
      expect(whoami.ok && whoami.value[0]).toEqual({ raft_id: 1, cluster_id: 'demo', instance_id: 'i1' });
    });
    expect(world.violations).toEqual([]);
  });
});

describe('joining', () => {
  it('three instances join i1 and all reach Online with three voters', async () => {
    const world = await simulate(2, async (cluster, w) => {
      for (const name of ['i1', 'i2', 'i3']) cluster.start(name);
      const ok = await cluster.waitOnline(['i1', 'i2', 'i3'], 60_000);
      if (!ok) {
        for (const n of ['i1', 'i2', 'i3']) console.log(n, cluster.node(n)?.state, JSON.stringify(cluster.node(n)?.self()), cluster.node(n)?.raft?.status().voters);
        console.log(w.logs.recent().slice(-40).map((l) => `${l.timeMs.toFixed(0)} ${l.host} ${l.level} ${l.message} ${JSON.stringify(l.fields)}`).join('\n'));
      }
      expect(ok).toBe(true);
      const status = await cluster.call('i2', 'pico.raft_status');
      expect(status.ok && status.value[0]).toMatchObject({ leader_id: 1, raft_state: 'Follower' });
      const leader = cluster.node('i1')!.raft!.status();
      expect([...leader.voters].sort()).toEqual([1, 2, 3]);
      const info = await cluster.call('i3', 'pico.instance_info', ['i2']);
      expect(info.ok && info.value[0]).toMatchObject({ instance_id: 'i2', raft_id: cluster.node('i2')!.identity!.raftId, current_grade: { variant: 'Online', incarnation: 1 } });
    });
    expect(world.violations).toEqual([]);
  });
});
