/**
 * Picodata's test_rebalancing on real processes: with replication factor 1 every instance is a
 * replicaset of its own, and the rebalancer spreads the 3000 buckets evenly as instances join
 * (3000, then 1500 each, then 1000 each), counted by `vshard.storage.buckets_count()`.
 */

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Cluster, picodataBundle, until, type Instance } from './harness.ts';

async function bucketsCount(instance: Instance): Promise<number> {
  const [count] = await instance.call('vshard.storage.buckets_count');
  return Number(count);
}

async function untilBalanced(instances: readonly Instance[], each: number, timeoutMs: number): Promise<void> {
  await until(`${each} buckets on each of ${instances.map((i) => i.name).join(', ')}`, async () => {
    const counts = await Promise.all(instances.map(bucketsCount));
    return counts.every((c) => c === each) ? true : undefined;
  }, timeoutMs, 250);
}

describe('rebalancing on real processes (replication factor 1)', () => {
  const cluster = new Cluster('rebalancing');
  beforeAll(() => picodataBundle());
  afterAll(() => cluster.destroy());

  it('1, 2, 3 instances hold 3000, 1500, 1000 buckets each', async () => {
    const i1 = await cluster.add('i1', { initReplicationFactor: 1 });
    await i1.start({ peers: [i1.address] });
    await i1.waitOnline(20_000);
    await untilBalanced([i1], 3000, 20_000);
    const i2 = await cluster.add('i2', { initReplicationFactor: 1 });
    await i2.start({ peers: [i1.address] });
    await i2.waitOnline(20_000);
    const started = Date.now();
    await untilBalanced([i1, i2], 1500, 120_000);
    const i3 = await cluster.add('i3', { initReplicationFactor: 1 });
    await i3.start({ peers: [i1.address] });
    await i3.waitOnline(20_000);
    await untilBalanced([i1, i2, i3], 1000, 120_000);
    // The log says what the rebalancer did, on the instance that runs it.
    expect(cluster.logs()).toMatch(/"msg":"rebalancing"/);
    console.log(`rebalanced 1500 + 1000 buckets in ${Date.now() - started} ms`);
  }, 300_000);
});
