import { describe, expect, it } from 'vitest';
import { mapGet, type MpValue } from '../../core/codec/msgpack.ts';
import { BUCKET_SPACE } from '../../core/rpc/sharding.ts';
import { storedBucket } from '../../core/vshard/storage.ts';
import type { SimCluster } from '../../scenarios/lib/cluster.ts';
import type { World } from '../../runtime-sim/world.ts';
import { ok, simulate, startAll } from '../cluster/helpers.ts';

/**
 * vshard over replicasets of two: `_bucket` is a synchronous space, so a master switch never
 * loses a change of a bucket's status (a bucket is active on one replicaset whatever fails).
 * The rebalancer stays off so that the buckets stay where the test puts them.
 */
const RF2_NO_REBALANCER = { initReplicationFactor: 2, walMode: 'fsync' as const, tuning: { rebalancerIntervalMs: 0 } };
const NAMES = ['i1', 'i2', 'i3', 'i4'];
const LONG_MS = 3_600_000;

function masterOf(cluster: SimCluster, replicasetId: string): string {
  return cluster.node('i3')!.tables.replicaset(replicasetId)!.masterId;
}

/** The replicasets whose masters hold bucket 1 active, by the masters' own `_bucket`. */
function holdersOfBucket(cluster: SimCluster, bucketId: number, alive: readonly string[]): string[] {
  const ids = new Set(alive.map((n) => cluster.node(n)!.self()!.replicasetId));
  return [...ids].filter((id) => {
    const master = cluster.node(masterOf(cluster, id));
    return master !== undefined && storedBucket(master, bucketId)?.status === 'active';
  });
}

/**
 * Starts the four instances (two replicasets of two) and waits until vshard is bootstrapped: the
 * first replicaset holds every bucket (the rebalancer is off). Names its master (the sender),
 * that master's replica, and the other replicaset's master (the receiver).
 */
async function startSharded(cluster: SimCluster, world: World): Promise<{ holderSet: string; sender: string; senderReplica: string; receiver: string }> {
  await startAll(cluster, NAMES, RF2_NO_REBALANCER);
  await world.waitFor(() => cluster.node('i1')!.tables.vshardBootstrapped() && NAMES.every((n) => cluster.node(n)!.sharding !== null), 10_000);
  const holderSet = cluster.node('i1')!.self()!.replicasetId;
  const sender = masterOf(cluster, holderSet);
  const senderReplica = NAMES.find((n) => n !== sender && cluster.node(n)!.self()!.replicasetId === holderSet)!;
  const receiver = NAMES.find((n) => cluster.node(n)!.self()!.replicasetId !== holderSet && cluster.node(n)!.replication?.isMaster === true)!;
  return { holderSet, sender, senderReplica, receiver };
}

describe('vshard with RF 2', () => {
  it('a master cut off from its replica cannot send a bucket; after it dies the bucket is active on one replicaset', async () => {
    await simulate(7301, async (cluster, world) => {
      const { holderSet, sender, senderReplica, receiver } = await startSharded(cluster, world);
      await world.waitFor(() => storedBucket(cluster.node(senderReplica)!, 1)?.status === 'active', 10_000);

      const [senderId, replicaId] = [world.host(sender).id, world.host(senderReplica).id];
      world.net.clogPair(senderId, replicaId, world.nowMs + LONG_MS);
      world.net.clogPair(replicaId, senderId, world.nowMs + LONG_MS);
      const sent = await cluster.call(sender, 'vshard.storage.bucket_send', [1, cluster.node(receiver)!.self()!.replicasetUuid], 30_000);
      // Without its replica the sender cannot make `sending` durable on a quorum: nothing moves.
      const refusal = sent.ok ? JSON.stringify(sent.value) : JSON.stringify(sent.error);
      expect(sent.ok && sent.value[0] === true, refusal).toBe(false);
      expect(refusal).toContain('Quorum collection for a synchronous transaction is timed out');
      expect(storedBucket(cluster.node(receiver)!, 1)).toBeNull();

      world.host(sender).crash('power');
      await world.waitFor(() => masterOf(cluster, holderSet) === senderReplica, 60_000);
      await world.waitFor(() => cluster.node(senderReplica)!.replication?.isMaster === true, 10_000);
      const alive = NAMES.filter((n) => n !== sender);
      expect(holdersOfBucket(cluster, 1, alive)).toEqual([holderSet]);
      // Routed writes find it on the successor, from every live instance.
      for (const via of alive) {
        const reply: MpValue[] = await ok(cluster, via, 'vshard.router.callrw', [1, 'pico.whoami', [], { timeout: 5 }]);
        expect({ via, at: mapGet(reply[0] ?? null, 'instance_id') }).toEqual({ via, at: senderReplica });
      }
    });
  });

  it('a bucket sent before its sender dies stays with the receiver: the successor holds it sent', async () => {
    await simulate(7302, async (cluster, world) => {
      const { holderSet, sender, senderReplica, receiver } = await startSharded(cluster, world);

      expect(await ok(cluster, sender, 'vshard.storage.bucket_send', [2, cluster.node(receiver)!.self()!.replicasetUuid])).toEqual([true]);
      // The sender dies at once: no time for anything asynchronous to reach its replica.
      world.host(sender).crash('power');
      const successorRow = storedBucket(cluster.node(senderReplica)!, 2);
      expect(successorRow?.status === 'sent' || successorRow === null, JSON.stringify(successorRow)).toBe(true);
      await world.waitFor(() => masterOf(cluster, holderSet) === senderReplica, 60_000);
      const alive = NAMES.filter((n) => n !== sender);
      const receiverSet = cluster.node(receiver)!.self()!.replicasetId;
      expect(holdersOfBucket(cluster, 2, alive)).toEqual([receiverSet]);
      // The successor's recovery collects the sent bucket once the receiver holds it active.
      await world.waitFor(() => storedBucket(cluster.node(senderReplica)!, 2) === null, 60_000);
      expect(cluster.node(senderReplica)!.box.space(BUCKET_SPACE).len()).toBe(2999);
    });
  });
});
