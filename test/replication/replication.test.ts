import { describe, expect, it } from 'vitest';
import type { Node } from '../../core/node/node.ts';
import { takeProbeHits } from '../../core/lib/probe.ts';
import { readVclock } from '../../core/replication/state-spaces.ts';
import type { SimCluster } from '../../scenarios/lib/cluster.ts';
import type { World } from '../../runtime-sim/world.ts';
import { simulate, startAll } from '../cluster/helpers.ts';
import { BoxError } from '../../core/box/errors.ts';

const RF2 = { initReplicationFactor: 2, walMode: 'fsync' as const };

/** `test`'s tuples on `name`, or null when it has no such space. */
function rows(cluster: SimCluster, name: string): string | null {
  const box = cluster.node(name)!.box;
  return box.hasSpace('test') ? JSON.stringify(box.space('test').select([], { iterator: 'ALL' })) : null;
}

/** The master of `via`'s replicaset, in `via`'s tables. */
function masterOf(cluster: SimCluster, via: string): string | undefined {
  return cluster.node(via)!.tables.replicaset(cluster.node(via)!.self()!.replicasetId)?.masterId;
}

/** The master of replicaset r99, in i1's tables. */
function r99Master(cluster: SimCluster): string | undefined {
  return cluster.node('i1')!.tables.replicaset('r99')?.masterId;
}

async function createTest(node: Node): Promise<void> {
  const box = node.box;
  if (box.hasSpace('test')) return;
  await box.createSpace('test', { format: [{ name: 'id', type: 'unsigned' }, { name: 'value', type: 'any' }] });
  await box.createIndex('test', 'pk', { parts: [['id', 'unsigned']] });
  await box.createIndex('test', 'by_value', { parts: [['value', 'unsigned']], unique: false });
}

/** Replaces ids [from, to) and deletes every seventh, as one transaction per statement. */
async function write(node: Node, from: number, to: number, value: number): Promise<void> {
  const space = node.box.space('test');
  for (let id = from; id < to; id++) await space.replace([id, value + id]);
  for (let id = from; id < to; id += 7) await space.delete([id]);
}

async function converged(cluster: SimCluster, world: World, names: readonly string[]): Promise<void> {
  const same = (): boolean => rows(cluster, names[0]!) !== null && names.every((n) => rows(cluster, n) === rows(cluster, names[0]!));
  await world.waitFor(same, 30_000, 50);
  expect(names.map((n) => rows(cluster, n))).toEqual(names.map(() => rows(cluster, names[0]!)));
}

describe('data replication', () => {
  it('a replica gets its master\'s writes, the space included, and catches up after a crash', async () => {
    await simulate(7101, async (cluster, world) => {
      await startAll(cluster, ['i1', 'i2'], RF2);
      const master = masterOf(cluster, 'i1')!;
      const replica = master === 'i1' ? 'i2' : 'i1';
      expect(cluster.node(replica)!.box.readOnly).toBe(true);
      await createTest(cluster.node(master)!);
      await write(cluster.node(master)!, 1, 200, 1000);
      await converged(cluster, world, [master, replica]);
      // The replica created the space from the master's definition, secondary index included.
      expect(cluster.node(replica)!.box.space('test').indexes().map((i) => i.name)).toEqual(['pk', 'by_value']);
      expect(cluster.node(replica)!.box.readOnly).toBe(true);

      world.host(replica).crash('power');
      await write(cluster.node(master)!, 150, 400, 2000);
      await startAll(cluster, [replica], RF2);
      await converged(cluster, world, [master, replica]);
      // It says it holds the master's transactions up to the master's last one.
      const masterOrigin = cluster.node(master)!.identity!.raftId;
      const replicaVclock = readVclock(cluster.node(replica)!.box, cluster.node(replica)!.identity!.raftId);
      expect(replicaVclock.get(masterOrigin)).toBeGreaterThan(0);
      expect(replicaVclock.get(masterOrigin)).toBeLessThanOrEqual(cluster.node(master)!.box.committedLsn);
    }, RF2);
  });

  it('after a master switch the new master has what was replicated, and the old one copies it back', async () => {
    await simulate(7102, async (cluster, world) => {
      await startAll(cluster, ['i1', 'i2', 'i3'], RF2);
      await startAll(cluster, ['i4', 'i5'], { ...RF2, replicasetId: 'r99' });
      expect(r99Master(cluster)).toBe('i4');
      await createTest(cluster.node('i4')!);
      await write(cluster.node('i4')!, 1, 300, 1000);
      await converged(cluster, world, ['i4', 'i5']);
      takeProbeHits();

      world.host('i4').stop('SIGTERM');
      expect(await world.waitFor(() => !world.host('i4').running && r99Master(cluster) === 'i5', 20_000)).toBe(true);
      await world.waitFor(() => cluster.node('i5')!.box.readOnly === false, 10_000);
      await write(cluster.node('i5')!, 250, 500, 3000);
      const expected = rows(cluster, 'i5');

      await startAll(cluster, ['i4'], { ...RF2, replicasetId: 'r99' });
      await converged(cluster, world, ['i5', 'i4']);
      expect(rows(cluster, 'i4')).toBe(expected);
      expect(cluster.node('i4')!.box.readOnly).toBe(true);
      // i4 had been a writable master: it copied i5 whole rather than keep what it had.
      expect(takeProbeHits()['replication.copy_done']).toBeGreaterThanOrEqual(1);
    }, RF2);
  });

  it('a graceful master switch waits for the successor to catch up: no acknowledged write is lost', async () => {
    await simulate(7104, async (cluster, world) => {
      await startAll(cluster, ['i1', 'i2', 'i3'], RF2);
      await startAll(cluster, ['i4', 'i5'], { ...RF2, replicasetId: 'r99' });
      await createTest(cluster.node('i4')!);
      await write(cluster.node('i4')!, 1, 50, 1000);
      await converged(cluster, world, ['i4', 'i5']);
      // The replica falls behind: its link to the master holds every message for a while.
      const [i4, i5] = [world.host('i4').id, world.host('i5').id];
      const clogUntilMs = world.nowMs + 1_500;
      world.net.clogPair(i4, i5, clogUntilMs);
      world.net.clogPair(i5, i4, clogUntilMs);
      await write(cluster.node('i4')!, 50, 250, 2000);
      const acknowledged = rows(cluster, 'i4');
      expect(rows(cluster, 'i5')).not.toBe(acknowledged);
      world.host('i4').stop('SIGTERM');
      expect(await world.waitFor(() => r99Master(cluster) === 'i5' && cluster.node('i5')!.box.readOnly === false, 20_000)).toBe(true);
      expect(rows(cluster, 'i5')).toBe(acknowledged);
    }, RF2);
  });

  it('a replica that needs rows a checkpoint trimmed copies the master whole', async () => {
    await simulate(7103, async (cluster, world) => {
      await startAll(cluster, ['i1', 'i2'], RF2);
      const master = masterOf(cluster, 'i1')!;
      const replica = master === 'i1' ? 'i2' : 'i1';
      await createTest(cluster.node(master)!);
      await write(cluster.node(master)!, 1, 100, 1000);
      await converged(cluster, world, [master, replica]);
      world.host(replica).stop('SIGTERM');
      await world.waitFor(() => !world.host(replica).running, 10_000);
      await write(cluster.node(master)!, 50, 300, 5000);
      await cluster.node(master)!.box.checkpoint();
      await write(cluster.node(master)!, 280, 320, 7000);
      expect(cluster.node(master)!.box.walOldestLsn()).toBeGreaterThan(1);
      takeProbeHits();
      await startAll(cluster, [replica], RF2);
      await converged(cluster, world, [master, replica]);
      const hits = takeProbeHits();
      expect(hits['replication.resync_requested']).toBeGreaterThanOrEqual(1);
      expect(hits['replication.copy_done']).toBeGreaterThanOrEqual(1);
    }, RF2);
  });

  describe('synchronous spaces', () => {
    async function createSync(node: Node): Promise<void> {
      await node.box.createSpace('sync', { isSync: true, format: [{ name: 'id', type: 'unsigned' }] });
      await node.box.createIndex('sync', 'pk', { parts: [['id', 'unsigned']] });
    }

    function holds(cluster: SimCluster, name: string, id: number): boolean {
      const box = cluster.node(name)!.box;
      return box.hasSpace('sync') && box.space('sync').get([id]) !== null;
    }

    it('a write is acknowledged once the replica holds it; without the replica it times out with ER_SYNC_QUORUM_TIMEOUT', async () => {
      await simulate(7111, async (cluster, world) => {
        await startAll(cluster, ['i1', 'i2'], RF2);
        const master = masterOf(cluster, 'i1')!;
        const replica = master === 'i1' ? 'i2' : 'i1';
        await createSync(cluster.node(master)!);
        for (let id = 1; id <= 20; id++) {
          await cluster.node(master)!.box.space('sync').insert([id]);
          expect(holds(cluster, replica, id), `write ${id} acknowledged before the replica held it`).toBe(true);
        }
        // The replica's copy of the space is synchronous too (for when it becomes master).
        expect(cluster.node(replica)!.box.schema.space('sync').def.flags['is_sync']).toBe(true);

        world.host(replica).crash('power');
        const startedMs = world.nowMs;
        const error = await cluster.node(master)!.box.space('sync').insert([21]).then(() => null, (e: unknown) => e);
        expect(error).toBeInstanceOf(BoxError);
        expect((error as BoxError).code).toBe(216);
        expect((error as BoxError).message).toBe('Quorum collection for a synchronous transaction is timed out');
        expect(world.nowMs - startedMs).toBeGreaterThanOrEqual(5_000);
        // Its outcome is unknown to the client: here it stayed, and reaches the replica later.
        expect(holds(cluster, master, 21)).toBe(true);
        // Asynchronous spaces do not wait.
        await createTest(cluster.node(master)!);
        await cluster.node(master)!.box.space('test').replace([1, 1]);
        await startAll(cluster, [replica], RF2);
        await world.waitFor(() => holds(cluster, replica, 21), 10_000);
        expect(holds(cluster, replica, 21)).toBe(true);
      }, RF2);
    });

    it('the master crashes mid-stream: its successor holds every acknowledged write', async () => {
      await simulate(7112, async (cluster, world) => {
        await startAll(cluster, ['i1', 'i2', 'i3'], RF2);
        await startAll(cluster, ['i4', 'i5'], { ...RF2, replicasetId: 'r99' });
        await createSync(cluster.node('i4')!);
        const acked: number[] = [];
        let next = 1;
        const writer = async (): Promise<void> => {
          while (world.host('i4').running) {
            const id = next++;
            const ok = await cluster.node('i4')!.box.space('sync').insert([id]).then(() => true, () => false);
            if (ok && world.host('i4').running) acked.push(id);
          }
        };
        // The writes in flight at the crash never settle (their process is gone): not awaited.
        for (let k = 0; k < 3; k++) void writer();
        await world.sleep(300);
        world.host('i4').crash('power');
        expect(acked.length).toBeGreaterThan(20);
        expect(await world.waitFor(() => r99Master(cluster) === 'i5', 30_000)).toBe(true);
        expect(acked.filter((id) => !holds(cluster, 'i5', id))).toEqual([]);
      }, RF2);
    });

    it('a member that joined after writes and never caught up is not promoted: the replicaset waits for its master', async () => {
      await simulate(7114, async (cluster, world) => {
        await startAll(cluster, ['i1', 'i2', 'i3'], RF2);
        // r99 has one member at first: its quorum is 1, so these writes are acknowledged by i4 alone.
        await startAll(cluster, ['i4'], { ...RF2, replicasetId: 'r99' });
        await createSync(cluster.node('i4')!);
        for (let id = 1; id <= 30; id++) await cluster.node('i4')!.box.space('sync').insert([id]);
        // i5 joins but never hears from i4; then i4 dies.
        cluster.start('i5', { ...RF2, replicasetId: 'r99' });
        const [i4, i5] = [world.host('i4').id, world.host('i5').id];
        world.net.clogPair(i4, i5, world.nowMs + 600_000);
        world.net.clogPair(i5, i4, world.nowMs + 600_000);
        expect(await cluster.waitOnline(['i5'], 60_000)).toBe(true);
        world.host('i4').crash('power');
        await world.waitFor(() => cluster.node('i1')!.tables.instance('i4')?.currentGrade.variant === 'Offline', 30_000);
        await world.sleep(20_000);
        expect(r99Master(cluster)).toBe('i4');
        // The refused switch does not hold up the rest of the cluster: a newcomer joins meanwhile.
        cluster.start('i6', RF2);
        expect(await cluster.waitOnline(['i6'], 30_000)).toBe(true);
        expect(r99Master(cluster)).toBe('i4');
        // Once i4 is back, i5 catches up with it; nothing acknowledged was lost.
        world.net.heal();
        await startAll(cluster, ['i4'], { ...RF2, replicasetId: 'r99' });
        await world.waitFor(() => holds(cluster, 'i5', 30), 20_000);
        for (let id = 1; id <= 30; id++) expect(holds(cluster, 'i4', id) && holds(cluster, 'i5', id)).toBe(true);
      }, RF2);
    });

    it('with RF 3 the member holding the most of the dead master\'s WAL takes over', async () => {
      const RF3 = { ...RF2, initReplicationFactor: 3 };
      await simulate(7113, async (cluster, world) => {
        await startAll(cluster, ['i1', 'i2', 'i3'], RF3);
        await startAll(cluster, ['i4', 'i5', 'i6'], { ...RF3, replicasetId: 'r99' });
        expect(r99Master(cluster)).toBe('i4');
        await createSync(cluster.node('i4')!);
        await world.waitFor(() => ['i5', 'i6'].every((n) => cluster.node(n)!.box.hasSpace('sync')), 10_000);
        // The plan's choice (the member with the lowest raft id) stops hearing from the master;
        // the quorum is the master and the other one.
        const [lagging, ahead] = cluster.node('i1')!.tables.instances().filter((i) => i.replicasetId === 'r99' && i.instanceId !== 'i4').sort((a, b) => a.raftId - b.raftId).map((i) => i.instanceId) as [string, string];
        const [master, behind] = [world.host('i4').id, world.host(lagging).id];
        world.net.clogPair(master, behind, world.nowMs + 600_000);
        world.net.clogPair(behind, master, world.nowMs + 600_000);
        for (let id = 1; id <= 30; id++) await cluster.node('i4')!.box.space('sync').insert([id]);
        expect(holds(cluster, lagging, 30)).toBe(false);
        world.host('i4').crash('power');
        await world.waitFor(() => r99Master(cluster) !== 'i4', 30_000);
        expect(r99Master(cluster)).toBe(ahead);
        for (let id = 1; id <= 30; id++) expect(holds(cluster, ahead, id)).toBe(true);
        // The other one follows the new master and catches up.
        await world.waitFor(() => holds(cluster, lagging, 30), 20_000);
        expect(holds(cluster, lagging, 30)).toBe(true);
      }, RF3);
    });
  });
});
