import { describe, expect, it } from 'vitest';
import { mapGet, type MpValue } from '../../core/codec/msgpack.ts';
import type { Node } from '../../core/node/node.ts';
import { BUCKET_SPACE, ensureBucketSpace } from '../../core/rpc/sharding.ts';
import { bucketPin } from '../../core/vshard/bucket-pin.ts';
import { DEFAULT_TUNING } from '../../core/node/options.ts';
import { chunkBucketData, sendBucket } from '../../core/vshard/bucket-transfer.ts';
import { recoverBuckets } from '../../core/vshard/bucket-recovery.ts';
import { bucketIdMpcrc32 } from '../../core/vshard/hash.ts';
import type { InstanceSpec, SimCluster } from '../../scenarios/lib/cluster.ts';
import type { World } from '../../runtime-sim/world.ts';
import { ok, simulate, startAll } from '../cluster/helpers.ts';

const ACCOUNTS = 'accounts';

/**
 * A sharded space on every instance once it is writable (a master): `{id, bucket_id, balance}`,
 * index `bucket_id`.
 */
function withAccounts(cluster: SimCluster): void {
  cluster.hooks = {
    ...cluster.hooks,
    opened: (node) => {
      void (async () => {
        while (node.box.readOnly && node.state !== 'exited') await node.env.clock.sleep(50);
        if (node.box.hasSpace(ACCOUNTS) || node.state === 'exited') return;
        await node.box.createSpace(ACCOUNTS, { format: [{ name: 'id', type: 'unsigned' }, { name: 'bucket_id', type: 'unsigned' }, { name: 'balance', type: 'unsigned' }] });
        await node.box.createIndex(ACCOUNTS, 'pk', { parts: [['id', 'unsigned']] });
        await node.box.createIndex(ACCOUNTS, 'bucket_id', { parts: [['bucket_id', 'unsigned']], unique: false });
      })();
    },
  };
}

function statusCounts(node: Node): Record<string, number> {
  const counts: Record<string, number> = {};
  if (!node.box.hasSpace(BUCKET_SPACE)) return counts;
  for (const row of node.box.space(BUCKET_SPACE).select([])) counts[String(row[1])] = (counts[String(row[1])] ?? 0) + 1;
  return counts;
}

function activeCount(cluster: SimCluster, name: string): number {
  return statusCounts(cluster.node(name)!).active ?? 0;
}

async function waitBalanced(cluster: SimCluster, world: World, names: readonly string[], each: number, timeoutMs: number): Promise<void> {
  const done = await world.waitFor(() => names.every((n) => activeCount(cluster, n) === each && Object.keys(statusCounts(cluster.node(n)!)).length === 1), timeoutMs, 200);
  if (!done) throw new Error(`not balanced: ${names.map((n) => `${n}=${JSON.stringify(statusCounts(cluster.node(n)!))}`).join(' ')}`);
}

const RF1: InstanceSpec = { initReplicationFactor: 1 };

describe('transfer chunks', () => {
  it('split the tuples of every space in order, at most the limit per chunk, one empty chunk for no data', () => {
    expect(chunkBucketData([], 3)).toEqual([[]]);
    const data: MpValue[] = [['a', [[1], [2]]], ['b', [[3], [4], [5], [6]]]];
    expect(chunkBucketData(data, 3)).toEqual([[['a', [[1], [2]]], ['b', [[3]]]], [['b', [[4], [5], [6]]]]]);
    expect(chunkBucketData(data, 10)).toEqual([data]);
    expect(chunkBucketData(data, 1).flatMap((chunk) => chunk.flatMap((entry) => (entry as [string, MpValue[]])[1]))).toEqual([[1], [2], [3], [4], [5], [6]]);
  });
});

describe('vshard rebalancer', () => {
  it('spreads 3000 buckets over 1, 2, then 3 replicasets of one instance (Picodata test_rebalancing)', async () => {
    await simulate(611, async (cluster, world) => {
      await startAll(cluster, ['i1'], RF1);
      await world.waitFor(() => cluster.node('i1')!.tables.vshardBootstrapped(), 10_000);
      await waitBalanced(cluster, world, ['i1'], 3000, 10_000);
      await startAll(cluster, ['i2'], RF1);
      await waitBalanced(cluster, world, ['i1', 'i2'], 1500, 300_000);
      await startAll(cluster, ['i3'], RF1);
      await waitBalanced(cluster, world, ['i1', 'i2', 'i3'], 1000, 300_000);
      expect(await ok(cluster, 'i3', 'vshard.storage.buckets_count')).toEqual([1000]);
      const infos = await Promise.all(['i1', 'i2', 'i3'].map(async (n) => (await ok(cluster, n, 'vshard.storage.info'))[0] as { bucket: Record<string, number>; is_master: boolean; is_rebalancer: boolean }));
      for (const info of infos) {
        expect(info.bucket).toEqual({ active: 1000, pinned: 0, sending: 0, receiving: 0, sent: 0, garbage: 0, total: 1000 });
        expect(info.is_master).toBe(true);
      }
      expect(infos.filter((info) => info.is_rebalancer)).toHaveLength(1);
    });
  });

  it('leaves pinned buckets where they are, and balances the rest around them', async () => {
    await simulate(616, async (cluster, world) => {
      await startAll(cluster, ['i1'], RF1);
      await world.waitFor(() => cluster.node('i1')!.tables.vshardBootstrapped(), 10_000);
      const i1 = cluster.node('i1')!;
      // 2000 pinned: more than an even share, so i1 keeps exactly those and i2 gets the rest.
      for (let id = 1; id <= 2000; id++) expect(await bucketPin(i1, [id])).toEqual([true]);
      expect(await bucketPin(i1, [1])).toEqual([true]); // already pinned: nothing to do
      await startAll(cluster, ['i2'], RF1);
      await world.waitFor(() => activeCount(cluster, 'i2') === 1000 && Object.keys(statusCounts(i1)).length === 1, 300_000, 200);
      expect(statusCounts(i1)).toEqual({ pinned: 2000 });
      expect(statusCounts(cluster.node('i2')!)).toEqual({ active: 1000 });
      const i2Uuid = cluster.node('i2')!.self()!.replicasetUuid;
      const refused = await ok(cluster, 'i1', 'vshard.storage.bucket_send', [5, i2Uuid]);
      expect(refused[0]).toBeNull();
      expect(mapGet(refused[1] ?? null, 'code')).toBe(24); // BUCKET_IS_PINNED
      // Unpinned, a bucket is an ordinary one again.
      expect(await ok(cluster, 'i1', 'vshard.storage.bucket_unpin', [5])).toEqual([true]);
      expect(await ok(cluster, 'i1', 'vshard.storage.bucket_send', [5, i2Uuid])).toEqual([true]);
      // A bucket that is not here cannot be pinned here.
      const absent = await ok(cluster, 'i1', 'vshard.storage.bucket_pin', [2500]);
      expect(mapGet(absent[1] ?? null, 'code')).toBe(1); // WRONG_BUCKET
    });
  });

  it('stops, saying why, when an expelled replicaset took its buckets along', async () => {
    await simulate(615, async (cluster, world) => {
      await startAll(cluster, ['i1', 'i2'], RF1);
      await world.waitFor(() => cluster.node('i1')!.tables.vshardBootstrapped(), 10_000);
      await waitBalanced(cluster, world, ['i1', 'i2'], 1500, 300_000);
      const rebalancer = ['i1', 'i2'].find((n) => world.logs.recent().some((l) => l.host === n && l.message === 'rebalancing'))!;
      const victim = rebalancer === 'i1' ? 'i2' : 'i1';
      await ok(cluster, rebalancer, 'pico.expel', [victim]);
      const said = await world.waitFor(() => world.logs.recent().some((l) => l.host === rebalancer && l.message === 'rebalancing impossible'), 20_000, 100);
      expect(said).toBe(true);
      const lines = world.logs.recent().filter((l) => l.message === 'rebalancing impossible');
      expect(lines).toHaveLength(1);
      expect(lines[0]!.fields['reason']).toBe('replicasets hold 1500 buckets of 3000');
      // Nothing moves any more: the 1500 left stay where they are.
      await world.sleep(5_000);
      expect(activeCount(cluster, rebalancer)).toBe(1500);
      expect(world.logs.recent().filter((l) => l.message === 'rebalancing impossible')).toHaveLength(1);
    });
  });

  it('moves the tuples of a bucket with it, and routed reads find every one afterwards', async () => {
    await simulate(612, async (cluster, world) => {
      withAccounts(cluster);
      await startAll(cluster, ['i1'], RF1);
      await world.waitFor(() => cluster.node('i1')!.tables.vshardBootstrapped() && cluster.node('i1')!.box.hasSpace(ACCOUNTS), 10_000);
      const accounts = 400;
      for (let id = 1; id <= accounts; id++) await cluster.node('i1')!.box.space(ACCOUNTS).insert([id, bucketIdMpcrc32(id, 3000), id * 10]);
      await startAll(cluster, ['i2', 'i3'], RF1);
      await waitBalanced(cluster, world, ['i1', 'i2', 'i3'], 1000, 300_000);
      const names = ['i1', 'i2', 'i3'];
      let total = 0;
      for (const name of names) {
        const node = cluster.node(name)!;
        for (const tuple of node.box.space(ACCOUNTS).select([])) {
          total++;
          // Each tuple lives where its bucket is active, and only there.
          expect(node.box.space(BUCKET_SPACE).get([tuple[1] as number])?.[1]).toBe('active');
        }
      }
      expect(total).toBe(accounts);
      // Every instance holds some: the data really moved.
      for (const name of names) expect(cluster.node(name)!.box.space(ACCOUNTS).len()).toBeGreaterThan(0);
      for (const id of [1, 77, 400]) {
        const bucketId = bucketIdMpcrc32(id, 3000);
        const holder = names.find((n) => cluster.node(n)!.box.space(BUCKET_SPACE).get([bucketId])?.[1] === 'active')!;
        expect(cluster.node(holder)!.box.space(ACCOUNTS).get([id])).toEqual([id, bucketId, id * 10]);
      }
    });
  });
});

/** Hand-made halves of transfers, settled by one recovery pass (the rebalancer stays off). */
describe('vshard bucket recovery', () => {
  const STILL: InstanceSpec = { initReplicationFactor: 1, tuning: { rebalancerIntervalMs: 0, vshardRecoveryIntervalMs: 0 } };

  async function twoMasters(cluster: SimCluster, world: World): Promise<{ source: Node; dest: Node; sourceUuid: string; destUuid: string }> {
    withAccounts(cluster);
    await startAll(cluster, ['i1', 'i2'], STILL);
    await world.waitFor(() => cluster.node('i1')!.tables.vshardBootstrapped() && ['i1', 'i2'].every((n) => cluster.node(n)!.sharding?.replicasets.length === 2 && cluster.node(n)!.box.hasSpace(ACCOUNTS)), 10_000);
    const holder = ['i1', 'i2'].find((n) => cluster.node(n)!.box.hasSpace(BUCKET_SPACE) && cluster.node(n)!.box.space(BUCKET_SPACE).len() === 3000)!;
    const other = holder === 'i1' ? 'i2' : 'i1';
    const source = cluster.node(holder)!;
    const dest = cluster.node(other)!;
    await ensureBucketSpace(dest.box);
    return { source, dest, sourceUuid: source.self()!.replicasetUuid, destUuid: dest.self()!.replicasetUuid };
  }

  async function put(node: Node, space: string, tuple: MpValue[]): Promise<void> {
    await node.box.space(space).replace(tuple);
  }

  it('a send the receiver never got goes back to active; one it took is marked sent and collected', async () => {
    await simulate(613, async (cluster, world) => {
      const { source, dest, destUuid, sourceUuid } = await twoMasters(cluster, world);
      // Bucket 5: sending, the receiver has nothing -> active again.
      await put(source, BUCKET_SPACE, [5, 'sending', destUuid, 't5']);
      // Bucket 6: sending, the receiver holds it receiving with that transfer -> active here, copy dropped there.
      await put(source, BUCKET_SPACE, [6, 'sending', destUuid, 't6']);
      await put(dest, BUCKET_SPACE, [6, 'receiving', sourceUuid, 't6']);
      await put(dest, ACCOUNTS, [1006, 6, 1]);
      // Bucket 7: sent, the receiver still receiving with that transfer -> the receiver activates it, then it is collected here.
      await put(source, ACCOUNTS, [1007, 7, 1]);
      await put(source, BUCKET_SPACE, [7, 'sent', destUuid, 't7']);
      await put(dest, BUCKET_SPACE, [7, 'receiving', sourceUuid, 't7']);
      await put(dest, ACCOUNTS, [1007, 7, 1]);
      // Bucket 8: receiving from a sender that has it active (a stale copy of another attempt) -> dropped.
      await put(dest, BUCKET_SPACE, [8, 'receiving', sourceUuid, 'old']);
      await put(dest, ACCOUNTS, [1008, 8, 1]);

      await recoverBuckets(source);
      expect(source.box.space(BUCKET_SPACE).get([5])?.slice(0, 2)).toEqual([5, 'active']);
      expect(source.box.space(BUCKET_SPACE).get([6])?.slice(0, 2)).toEqual([6, 'active']);
      // 7 waits: the receiver still has that transfer receiving.
      expect(source.box.space(BUCKET_SPACE).get([7])?.[1]).toBe('sent');

      await recoverBuckets(dest);
      expect(dest.box.space(BUCKET_SPACE).get([6])).toBeNull();
      expect(dest.box.space(ACCOUNTS).get([1006])).toBeNull();
      expect(dest.box.space(BUCKET_SPACE).get([7])?.[1]).toBe('active');
      expect(dest.box.space(ACCOUNTS).get([1007])).toEqual([1007, 7, 1]);
      expect(dest.box.space(BUCKET_SPACE).get([8])).toBeNull();
      expect(dest.box.space(ACCOUNTS).get([1008])).toBeNull();

      await recoverBuckets(source);
      expect(source.box.space(BUCKET_SPACE).get([7])).toBeNull();
      expect(source.box.space(ACCOUNTS).get([1007])).toBeNull();
    }, STILL);
  });

  it('a bucket with more tuples than a chunk arrives whole, over several calls', async () => {
    await simulate(617, async (cluster, world) => {
      const { source, dest, destUuid } = await twoMasters(cluster, world);
      const tuples = DEFAULT_TUNING.vshardTransferChunkTuplesMax * 2 + 500;
      for (let id = 1; id <= tuples; id++) await put(source, ACCOUNTS, [id, 11, id]);
      expect(await sendBucket(source, 11, destUuid)).toEqual([true]);
      expect(dest.box.space(ACCOUNTS).len()).toBe(tuples);
      expect(dest.box.space(ACCOUNTS).get([tuples])).toEqual([tuples, 11, tuples]);
      expect(dest.box.space(BUCKET_SPACE).get([11])?.[1]).toBe('active');
    }, STILL);
  });

  it('bucket_send moves a bucket and its tuples; the router follows it', async () => {
    await simulate(614, async (cluster, world) => {
      const { source, dest, destUuid } = await twoMasters(cluster, world);
      await put(source, ACCOUNTS, [1, 9, 100]);
      const sourceName = source.identity!.instanceId;
      const destName = dest.identity!.instanceId;
      expect(await ok(cluster, sourceName, 'vshard.storage.bucket_send', [9, destUuid])).toEqual([true]);
      expect(dest.box.space(BUCKET_SPACE).get([9])?.[1]).toBe('active');
      expect(dest.box.space(ACCOUNTS).get([1])).toEqual([1, 9, 100]);
      expect(source.box.space(BUCKET_SPACE).get([9])?.[1]).toBe('sent');
      // Sending it again from where it no longer is: refused, nothing changes.
      const again = await ok(cluster, sourceName, 'vshard.storage.bucket_send', [9, destUuid]);
      expect(again[0]).toBeNull();
      // A router that knew the old place follows the destination.
      const routed = await ok(cluster, sourceName, 'vshard.router.callrw', [9, 'pico.whoami', []]);
      expect((routed[0] as { instance_id?: string }).instance_id ?? (routed[0] as Map<string, string>).get?.('instance_id')).toBe(destName);
      await recoverBuckets(source);
      expect(source.box.space(BUCKET_SPACE).get([9])).toBeNull();
      expect(source.box.space(ACCOUNTS).get([1])).toBeNull();
    }, STILL);
  });
});
