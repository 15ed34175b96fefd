import { describe, expect, it } from 'vitest';
import type { MpValue } from '../../core/codec/msgpack.ts';
import { message, ok, simulate, startAll } from './helpers.ts';


describe('REFERENCE 2: failure domains', () => {
  it('8 failure_domains (rf=2): placement and missing names', async () => {
    await simulate(21, async (cluster) => {
      await startAll(cluster, ['i1'], { initReplicationFactor: 2, failureDomain: { PLANET: 'EARTH' } });
      expect(cluster.node('i1')!.self()!.replicasetId).toBe('r1');
      const arch = await cluster.call('i1', '.proc_raft_join', ['demo', null, null, 'x:1', { os: 'Arch' }]);
      expect(message(arch)).toBe('missing failure domain names: PLANET');
      await startAll(cluster, ['i2'], { failureDomain: { PLANET: 'MARS', OS: 'ARCH' } });
      expect(cluster.node('i2')!.self()!.replicasetId).toBe('r1');
      const venus = await cluster.call('i1', '.proc_raft_join', ['demo', null, null, 'x:1', { planet: 'Venus' }]);
      expect(message(venus)).toBe('missing failure domain names: OS');
      await startAll(cluster, ['i3'], { failureDomain: { PLANET: 'VENUS', OS: 'BSD' } });
      expect(cluster.node('i3')!.self()!.replicasetId).toBe('r2');
    });
  });

  it('9 reconfigure_failure_domains: a restart may add keys, never drop required ones', async () => {
    await simulate(22, async (cluster, world) => {
      await startAll(cluster, ['i1'], { initReplicationFactor: 2, failureDomain: { PLANET: 'EARTH' } });
      await startAll(cluster, ['i2'], { failureDomain: { PLANET: 'MARS' } });
      world.host('i2').stop('SIGTERM');
      await world.waitFor(() => !world.host('i2').running, 10_000);
      cluster.start('i2', { failureDomain: { OWNER: 'BOB' } });
      await world.waitFor(() => !world.host('i2').running, 5_000);
      expect(world.host('i2').history.at(-1)).toEqual({ kind: 'exited', code: 1 });
      await startAll(cluster, ['i2'], { failureDomain: { PLANET: 'EARTH', OWNER: 'BOB' } });
      expect(cluster.node('i2')!.self()!.replicasetId).toBe('r1');
      world.host('i2').stop('SIGTERM');
      await world.waitFor(() => !world.host('i2').running, 10_000);
      cluster.start('i2', { failureDomain: { PLANET: 'MARS' } });
      await world.waitFor(() => !world.host('i2').running, 5_000);
      expect(world.host('i2').history.at(-1)).toEqual({ kind: 'exited', code: 1 });
    });
  });

  it('10 fail_to_join: missing names and a duplicate Online id are refused; nothing is recorded', async () => {
    await simulate(23, async (cluster, world) => {
      await startAll(cluster, ['i1'], { failureDomain: { OWNER: 'TOM' } });
      cluster.start('i2', { failureDomain: {} });
      await world.waitFor(() => !world.host('i2').running, 5_000);
      expect(world.host('i2').history.at(-1)).toEqual({ kind: 'exited', code: 1 });
      cluster.start('i3', { instanceId: 'i1', failureDomain: { OWNER: 'JIM' } });
      await world.waitFor(() => !world.host('i3').running, 5_000);
      expect(world.host('i3').history.at(-1)).toEqual({ kind: 'exited', code: 1 });
      const rows = cluster.node('i1')!.tables.instances().map((i) => [i.instanceId, i.raftId] as MpValue[]);
      expect(rows).toEqual([['i1', 1]]);
      expect(await ok(cluster, 'i1', 'pico.instance_info', ['i2'])).toEqual([null, 'instance with id "i2" not found']);
    });
  });
});
