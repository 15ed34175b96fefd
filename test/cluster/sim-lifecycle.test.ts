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
