import { describe, expect, it } from 'vitest';
import type { Node } from '../../core/node/node.ts';
import { takeProbeHits } from '../../core/lib/probe.ts';
import { readVclock } from '../../core/replication/state-spaces.ts';
import type { SimCluster } from '../../scenarios/lib/cluster.ts';
import type { World } from '../../runtime-sim/world.ts';
import { simulate, startAll } from '../cluster/helpers.ts';

const RF2 = { initReplicationFactor: 2, walMode: 'fsync' as const };

/** `test`'s tuples on `name`, or null when it has no such space. */
function rows(cluster: SimCluster, name: string): string | null {
  const box = cluster.node(name)!.box;
  return box.hasSpace('test') ? JSON.stringify(box.space('test').select([], { iterator: 'ALL' })) : null;
}

function masterOf(cluster: SimCluster, via: string): string | undefined {
  return cluster.node(via)!.tables.replicaset(cluster.node(via)!.self()!.replicasetId)?.masterId;
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
      expect(masterOf(cluster, 'i4')).toBe('i4');
      await createTest(cluster.node('i4')!);
      await write(cluster.node('i4')!, 1, 300, 1000);
      await converged(cluster, world, ['i4', 'i5']);
      takeProbeHits();

      world.host('i4').stop('SIGTERM');
      await world.waitFor(() => !world.host('i4').running && masterOf(cluster, 'i1') === 'i5', 20_000);
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
      await world.waitFor(() => masterOf(cluster, 'i1') === 'i5' && cluster.node('i5')!.box.readOnly === false, 20_000);
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
});
