import { describe, expect, it } from 'vitest';
import { mapGet, type MpValue } from '../../core/codec/msgpack.ts';
import type { Node } from '../../core/node/node.ts';
import { BUCKET_SPACE, ensureBucketSpace } from '../../core/rpc/sharding.ts';
import type { InstanceSpec, SimCluster } from '../../scenarios/lib/cluster.ts';
import type { World } from '../../runtime-sim/world.ts';
import { ok, simulate, startAll } from '../cluster/helpers.ts';
import { storedBucket } from '../../core/vshard/storage.ts';

/** Two replicasets of one instance each; every bucket lands on the first weighted one. */
async function twoReplicasets(cluster: SimCluster, world: World): Promise<{ holder: string; other: string }> {
  await startAll(cluster, ['i1', 'i2']);
  await world.waitFor(() => cluster.node('i1')!.tables.vshardBootstrapped() && ['i1', 'i2'].every((n) => cluster.node(n)!.sharding !== null), 10_000);
  const holder = bucketHolder(cluster, ['i1', 'i2']);
  return { holder, other: holder === 'i1' ? 'i2' : 'i1' };
}

/** The one of `names` the sharding bootstrap put all 3000 buckets on. */
function bucketHolder(cluster: SimCluster, names: readonly string[]): string {
  const holder = names.find((n) => cluster.node(n)!.box.hasSpace(BUCKET_SPACE) && cluster.node(n)!.box.space(BUCKET_SPACE).len() === 3000);
  expect(holder).toBeDefined();
  return holder!;
}

function instanceIdOf(values: MpValue[]): MpValue {
  return mapGet(values[0] ?? null, 'instance_id');
}

function errorOf(values: MpValue[]): { code: MpValue; type: MpValue; message: MpValue } {
  expect(values[0]).toBeNull();
  const error = values[1] ?? null;
  return { code: mapGet(error, 'code'), type: mapGet(error, 'type'), message: mapGet(error, 'message') };
}

/** Writes a `_bucket` row directly, as a rebalancer would (on a read-only replica too). */
async function setBucket(node: Node, tuple: MpValue[]): Promise<void> {
  const box = node.box;
  const readOnly = box.readOnly;
  box.readOnly = false;
  try {
    await ensureBucketSpace(box);
    await box.space(BUCKET_SPACE).replace(tuple);
  } finally {
    box.readOnly = readOnly;
  }
}

function replicasetUuidOf(cluster: SimCluster, instance: string): string {
  return cluster.node(instance)!.self()!.replicasetUuid;
}

/**
 * These tests set bucket states by hand to test routing over them: the rebalancer and bucket
 * recovery, which would move and settle those buckets, stay off (core/vshard/rebalancer.ts has
 * its own tests).
 */
const BUCKETS_LEFT_ALONE: InstanceSpec = { tuning: { rebalancerIntervalMs: 0, vshardRecoveryIntervalMs: 0 } };

describe('vshard router', () => {
  it('routes callro/callrw/call from any instance to the master holding the bucket', async () => {
    await simulate(501, async (cluster, world) => {
      const { holder, other } = await twoReplicasets(cluster, world);
      for (const via of [holder, other]) {
        expect(instanceIdOf(await ok(cluster, via, 'vshard.router.callro', [1, 'pico.whoami', []]))).toBe(holder);
        expect(instanceIdOf(await ok(cluster, via, 'vshard.router.callrw', [3000, 'pico.whoami', []]))).toBe(holder);
        expect(instanceIdOf(await ok(cluster, via, 'vshard.router.call', [17, 'write', 'pico.whoami', []]))).toBe(holder);
        expect(instanceIdOf(await ok(cluster, via, 'vshard.router.call', [17, { mode: 'read' }, 'pico.whoami', [], { timeout: 1 }]))).toBe(holder);
      }
      // Arguments reach the function: pico.instance_info of a given instance.
      const info = await ok(cluster, other, 'vshard.router.callro', [5, 'pico.instance_info', [other]]);
      expect(mapGet(info[0] ?? null, 'instance_id')).toBe(other);
    }, BUCKETS_LEFT_ALONE);
  });

  it('returns nil, err for a failing function and raises for a bad bucket id', async () => {
    await simulate(502, async (cluster, world) => {
      const { other } = await twoReplicasets(cluster, world);
      const missing = errorOf(await ok(cluster, other, 'vshard.router.callrw', [1, 'no_such_function', []]));
      expect(missing.type).toBe('ClientError');
      expect(missing.code).toBe(33); // ER_NO_SUCH_PROC
      const outOfRange = await cluster.call(other, 'vshard.router.callro', [3001, 'pico.whoami', []]);
      expect(outOfRange.ok).toBe(false);
      expect(JSON.stringify(outOfRange)).toContain('Bucket is unreachable: bucket id is out of range');
      const badMode = await cluster.call(other, 'vshard.router.call', [1, 'sideways', 'pico.whoami', []]);
      expect(JSON.stringify(badMode)).toContain("mode must be 'read' or 'write'");
      // The instance's own RPCs are not routable: the storage would run them as the cluster.
      for (const [fn, args] of [
        ['vshard.router.callrw', [1, '.proc_sync_raft', [1, 100]]],
        ['vshard.storage.call', [1, 'write', '.proc_sync_raft', [1, 100]]],
      ] as const) {
        const refused = await cluster.call(other, fn, args as unknown as MpValue[]);
        expect(refused.ok).toBe(false);
        expect(JSON.stringify(refused)).toContain("Execute access to function '.proc_sync_raft' is denied for user 'guest'");
      }
    }, BUCKETS_LEFT_ALONE);
  });

  it('follows WRONG_BUCKET to the destination and reports a bucket nobody has', async () => {
    await simulate(503, async (cluster, world) => {
      const { holder, other } = await twoReplicasets(cluster, world);
      // The router on `other` learns that bucket 7 is on `holder`.
      expect(instanceIdOf(await ok(cluster, other, 'vshard.router.callrw', [7, 'pico.whoami', []]))).toBe(holder);
      // Bucket 7 "moves": sent on the holder (destination: the other replicaset), active there.
      await setBucket(cluster.node(other)!, [7, 'active', null]);
      await setBucket(cluster.node(holder)!, [7, 'sent', replicasetUuidOf(cluster, other)]);
      expect(instanceIdOf(await ok(cluster, other, 'vshard.router.callrw', [7, 'pico.whoami', []]))).toBe(other);
      expect(instanceIdOf(await ok(cluster, holder, 'vshard.router.callro', [7, 'pico.whoami', []]))).toBe(other);
      // A bucket in transfer refuses writes until the deadline, reads still go through.
      await setBucket(cluster.node(holder)!, [8, 'sending', replicasetUuidOf(cluster, other)]);
      expect(instanceIdOf(await ok(cluster, other, 'vshard.router.callro', [8, 'pico.whoami', []]))).toBe(holder);
      const started = world.nowMs;
      const transfer = errorOf(await ok(cluster, other, 'vshard.router.callrw', [8, 'pico.whoami', [], { timeout: 0.2 }]));
      expect(transfer.type).toBe('ShardingError');
      expect(transfer.code).toBe(7); // TRANSFER_IS_IN_PROGRESS
      expect(world.nowMs - started).toBeGreaterThanOrEqual(150);
      // Bucket 9 is nowhere.
      await cluster.node(holder)!.box.space(BUCKET_SPACE).delete([9]);
      const lost = errorOf(await ok(cluster, other, 'vshard.router.callro', [9, 'pico.whoami', []]));
      expect(lost.type).toBe('ShardingError');
      expect(lost.code).toBe(9); // NO_ROUTE_TO_BUCKET
      expect(lost.message).toBe('Bucket 9 cannot be found. Is rebalancing in progress?');
    }, BUCKETS_LEFT_ALONE);
  });

  it('finds a bucket on a reachable master without waiting for an unreachable one', async () => {
    await simulate(506, async (cluster, world) => {
      await startAll(cluster, ['i1', 'i2', 'i3']);
      await world.waitFor(() => ['i1', 'i2', 'i3'].every((n) => cluster.node(n)!.sharding !== null) && cluster.node('i1')!.tables.vshardBootstrapped(), 10_000);
      const holder = ['i1', 'i2', 'i3'].find((n) => cluster.node(n)!.box.hasSpace(BUCKET_SPACE))!;
      const [via, cut] = ['i1', 'i2', 'i3'].filter((n) => n !== holder) as [string, string];
      world.net.partition([[world.host(cut).id], [world.host(via).id, world.host(holder).id]]);
      const started = world.nowMs;
      const result = await ok(cluster, via, 'vshard.router.callro', [42, 'pico.whoami', [], { timeout: 2 }]);
      expect(instanceIdOf(result)).toBe(holder);
      // One round trip to the holder, not the whole 2 s budget the unreachable master could take.
      expect(world.nowMs - started).toBeLessThan(200);
      // A bucket nobody reachable has: the call ends at its deadline, naming the unreachable one.
      await cluster.node(holder)!.box.space(BUCKET_SPACE).delete([43]);
      const lookupStarted = world.nowMs;
      const lost = errorOf(await ok(cluster, via, 'vshard.router.callro', [43, 'pico.whoami', [], { timeout: 0.3 }]));
      expect(lost.code).toBe(8); // UNREACHABLE_REPLICASET
      expect(world.nowMs - lookupStarted).toBeLessThan(1_000);
      world.net.heal();
    }, BUCKETS_LEFT_ALONE);
  });

  it('a replicaset whose last member is expelled leaves the configuration: its buckets get NO_ROUTE_TO_BUCKET', async () => {
    await simulate(507, async (cluster, world) => {
      const { holder, other } = await twoReplicasets(cluster, world);
      const gone = cluster.node(holder)!.self()!.replicasetId;
      await ok(cluster, other, 'pico.expel', [holder]);
      await world.waitFor(() => !(cluster.node(other)!.sharding?.replicasets ?? []).some((r) => r.replicasetId === gone), 10_000);
      // No master to ask is left for those buckets: not UNREACHABLE_REPLICASET (8) for ever.
      const lost = errorOf(await ok(cluster, other, 'vshard.router.callrw', [1, 'pico.whoami', [], { timeout: 0.3 }]));
      expect(lost.code).toBe(9); // NO_ROUTE_TO_BUCKET
      expect(cluster.node(other)!.sharding!.replicasets.map((r) => r.replicasetId)).toEqual([cluster.node(other)!.self()!.replicasetId]);
    }, BUCKETS_LEFT_ALONE);
  });

  it('after both members of the holder\'s replicaset are expelled, a newcomer routes like everyone else', async () => {
    // The real-cluster soak's seed 606, cycle 18, in virtual time: RF 2, the holder's partner
    // expelled, then the holder, then a new instance joins (a replicaset of its own).
    await simulate(508, async (cluster, world) => {
      const names = ['i1', 'i2', 'i3', 'i4'];
      await startAll(cluster, names, { initReplicationFactor: 2 });
      await world.waitFor(() => cluster.node('i1')!.tables.vshardBootstrapped() && names.every((n) => cluster.node(n)!.sharding !== null), 10_000);
      const holder = bucketHolder(cluster, names);
      const gone = cluster.node(holder)!.self()!.replicasetId;
      const partner = names.find((n) => n !== holder && cluster.node(n)!.self()!.replicasetId === gone)!;
      const survivors = names.filter((n) => n !== holder && n !== partner);
      for (const expelled of [partner, holder]) {
        await ok(cluster, survivors[0]!, 'pico.expel', [expelled]);
        await world.waitFor(() => cluster.node(expelled) === undefined, 10_000);
      }
      await startAll(cluster, ['i5'], { initReplicationFactor: 2, peers: [cluster.address(survivors[0]!)] });
      for (const via of [...survivors, 'i5']) {
        await world.waitFor(() => !(cluster.node(via)!.sharding?.replicasets ?? []).some((r) => r.replicasetId === gone), 10_000);
        const lost = errorOf(await ok(cluster, via, 'vshard.router.callrw', [1, 'pico.whoami', [], { timeout: 0.3 }]));
        expect({ via, code: lost.code, message: lost.message }).toEqual({ via, code: 9, message: expect.any(String) });
      }
    }, BUCKETS_LEFT_ALONE);
  });

  it('storage refuses writes on a replica that is not the master', async () => {
    await simulate(504, async (cluster, world) => {
      await startAll(cluster, ['i1', 'i2'], { initReplicationFactor: 2 });
      await world.waitFor(() => cluster.node('i1')!.tables.vshardBootstrapped(), 10_000);
      const master = cluster.node('i1')!.tables.replicaset('r1')!.masterId;
      const replica = master === 'i1' ? 'i2' : 'i1';
      await world.waitFor(() => cluster.node(replica)!.replication?.isMaster === false, 10_000);
      // The replica holds the master's _bucket (replicated): bucket 1 is active there too, so
      // what refuses the write is the master check.
      await world.waitFor(() => storedBucket(cluster.node(replica)!, 1)?.status === 'active', 10_000);
      const refused = await ok(cluster, replica, 'vshard.storage.call', [1, 'write', 'pico.whoami', []]);
      expect(refused[0]).toBeNull();
      expect(mapGet(refused[1] ?? null, 'code')).toBe(2); // NON_MASTER
      expect(mapGet(refused[1] ?? null, 'master_uuid')).toBe(cluster.node(master)!.self()!.instanceUuid);
      const read = await ok(cluster, replica, 'vshard.storage.call', [1, 'read', 'pico.whoami', []]);
      expect(read[0]).toBe(true);
      expect(instanceIdOf(read.slice(1))).toBe(replica);
      // Writes routed by any router land on the master.
      expect(instanceIdOf(await ok(cluster, replica, 'vshard.router.callrw', [1, 'pico.whoami', []]))).toBe(master);
    }, BUCKETS_LEFT_ALONE);
  });

  it('bucket ids of keys and the bucket count', async () => {
    await simulate(505, async (cluster) => {
      await startAll(cluster, ['i1']);
      expect(await ok(cluster, 'i1', 'vshard.router.bucket_count')).toEqual([3000]);
      expect(await ok(cluster, 'i1', 'vshard.router.bucket_id_strcrc32', ['hello'])).toEqual([2516]);
      expect(await ok(cluster, 'i1', 'vshard.router.bucket_id', [1])).toEqual([477]);
      expect(await ok(cluster, 'i1', 'vshard.router.bucket_id_mpcrc32', [1])).toEqual([1614]);
    }, BUCKETS_LEFT_ALONE);
  });
});
