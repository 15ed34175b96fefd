import { describe, expect, it } from 'vitest';
import type { MpValue } from '../../core/codec/msgpack.ts';
import type { IprotoBackend } from '../../core/iproto/backend.ts';
import { BUCKET_SPACE } from '../../core/rpc/sharding.ts';
import type { SimCluster } from '../../scenarios/lib/cluster.ts';
import { ok, promote, raftIdOf, simulate, startAll } from './helpers.ts';

/** Picodata's test trick: the next CALL of `proc` on an instance is answered by `once` instead. */
function interceptOnce(cluster: SimCluster, proc: string, once: () => Promise<MpValue[]>): { fired: boolean } {
  const handle = { fired: false };
  let armed = true;
  cluster.hooks = {
    ...cluster.hooks,
    wrapBackend: (backend: IprotoBackend): IprotoBackend => ({
      ...backend,
      schemaVersion: () => backend.schemaVersion(),
      credentials: (u) => backend.credentials(u),
      select: (r, s) => backend.select(r, s),
      insert: (r, s) => backend.insert(r, s),
      update: (r, s) => backend.update(r, s),
      delete: (r, s) => backend.delete(r, s),
      upsert: (r, s) => backend.upsert(r, s),
      eval: (r, s) => backend.eval(r, s),
      call: (r, s) => {
        if (armed && r.functionName === proc) {
          armed = false;
          handle.fired = true;
          return once();
        }
        return backend.call(r, s);
      },
    }),
  };
  return handle;
}

describe('REFERENCE 2: replication and roles', () => {
  it('4 replication (rf=2): two members of r1 with each other as replication peers, grades Online(1)', async () => {
    await simulate(80, async (cluster) => {
      await startAll(cluster, ['i1', 'i2'], { initReplicationFactor: 2 });
      for (const name of ['i1', 'i2']) {
        const node = cluster.node(name)!;
        const record = node.tables.instance(name)!;
        expect(record).toMatchObject({ replicasetId: 'r1', currentGrade: { variant: 'Online', incarnation: 1 }, targetGrade: { variant: 'Online', incarnation: 1 }, failureDomain: {} });
        expect(record.raftId).toBe(raftIdOf(cluster, name));
        expect([...(node.replication?.peers ?? [])].sort()).toEqual(['guest:@i1:3301', 'guest:@i2:3301']);
      }
      const masterId = cluster.node('i1')!.tables.replicaset('r1')!.masterId;
      expect(cluster.node(masterId)!.box.readOnly).toBe(false);
      expect(cluster.node(masterId === 'i1' ? 'i2' : 'i1')!.box.readOnly).toBe(true);
    });
  });

  it('11 not_a_leader at postjoin: the update is retried at the new leader', async () => {
    await simulate(81, async (cluster) => {
      await startAll(cluster, ['i1', 'i2']);
      await promote(cluster, 'i1');
      const intercepted = interceptOnce(cluster, '.proc_update_instance', async () => {
        await promote(cluster, 'i2');
        return [{ ErrNotALeader: { raft_id: raftIdOf(cluster, 'i2'), address: 'i2:3301' } }];
      });
      cluster.world.host('i1').crash('process');
      cluster.start('i1'); // now serving with the interceptor
      expect(await cluster.waitOnline(['i1', 'i2'])).toBe(true);
      await promote(cluster, 'i1');
      cluster.start('i3');
      expect(await cluster.waitOnline(['i1', 'i2', 'i3'])).toBe(true);
      expect(intercepted.fired).toBe(true);
      expect((await ok(cluster, 'i1', 'pico.raft_status'))[0]).toMatchObject({ raft_state: 'Follower' });
      expect((await ok(cluster, 'i2', 'pico.raft_status'))[0]).toMatchObject({ raft_state: 'Leader' });
      expect((await ok(cluster, 'i3', 'pico.raft_status'))[0]).toMatchObject({ raft_state: 'Follower' });
    });
  });

  it('11 not_a_leader at start_join: the join is retried at the new leader', async () => {
    await simulate(82, async (cluster) => {
      await startAll(cluster, ['i1', 'i2']);
      await promote(cluster, 'i1');
      const intercepted = interceptOnce(cluster, '.proc_raft_join', async () => {
        await promote(cluster, 'i2');
        return [{ ErrNotALeader: { raft_id: raftIdOf(cluster, 'i2'), address: 'i2:3301' } }];
      });
      cluster.world.host('i1').crash('process');
      cluster.start('i1'); // now serving with the interceptor
      expect(await cluster.waitOnline(['i1', 'i2'])).toBe(true);
      await promote(cluster, 'i1');
      cluster.start('i3');
      expect(await cluster.waitOnline(['i1', 'i2', 'i3'])).toBe(true);
      expect(intercepted.fired).toBe(true);
      expect((await ok(cluster, 'i2', 'pico.raft_status'))[0]).toMatchObject({ raft_state: 'Leader' });
    });
  });

  it('17 bucket_discovery_respects_rf: buckets are placed only once a replicaset is full', async () => {
    await simulate(83, async (cluster, world) => {
      await startAll(cluster, ['i1'], { initReplicationFactor: 2 });
      await world.sleep(500);
      expect(cluster.node('i1')!.tables.vshardBootstrapped()).toBe(false);
      expect(cluster.node('i1')!.box.hasSpace(BUCKET_SPACE)).toBe(false);
      await startAll(cluster, ['i2'], { replicasetId: 'r2' });
      await world.sleep(500);
      expect(cluster.node('i1')!.tables.vshardBootstrapped()).toBe(false);
      await startAll(cluster, ['i3'], { replicasetId: 'r1' });
      await world.waitFor(() => cluster.node('i3')!.tables.vshardBootstrapped(), 10_000);
      expect(cluster.node('i3')!.tables.vshardBootstrapped()).toBe(true);
      const master = cluster.node('i3')!.tables.replicaset('r1')!.masterId;
      expect(cluster.node(master)!.box.space(BUCKET_SPACE).select([], {}).length).toBe(3000);
    });
  });

  it('19 master_auto_switchover: the master moves to a live member and back', async () => {
    await simulate(84, async (cluster, world) => {
      await startAll(cluster, ['i1', 'i2', 'i3']);
      await startAll(cluster, ['i4', 'i5'], { replicasetId: 'r99' });
      const master = (): string | undefined => cluster.node('i1')!.tables.replicaset('r99')?.masterId;
      expect(master()).toBe('i4');
      expect(cluster.node('i4')!.box.readOnly).toBe(false);
      expect(cluster.node('i5')!.box.readOnly).toBe(true);
      const terminate = async (n: string): Promise<void> => {
        world.host(n).stop('SIGTERM');
        await world.waitFor(() => !world.host(n).running, 10_000);
      };
      await terminate('i4');
      await world.waitFor(() => master() === 'i5', 10_000);
      expect(master()).toBe('i5');
      expect(cluster.node('i5')!.box.readOnly).toBe(false);
      await terminate('i5');
      await world.sleep(1_000);
      expect(master()).toBe('i5'); // nobody to take over
      await startAll(cluster, ['i5']);
      expect(master()).toBe('i5');
      await world.waitFor(() => cluster.node('i5')!.box.readOnly === false, 10_000);
      expect(cluster.node('i5')!.box.readOnly).toBe(false);
      await terminate('i5');
      await startAll(cluster, ['i4']);
      await world.waitFor(() => master() === 'i4', 10_000);
      expect(master()).toBe('i4');
      await startAll(cluster, ['i5']);
      expect(master()).toBe('i4');
      await world.waitFor(() => cluster.node('i5')!.box.readOnly && !cluster.node('i4')!.box.readOnly, 10_000);
      expect(cluster.node('i5')!.box.readOnly).toBe(true);
    });
  });
});
