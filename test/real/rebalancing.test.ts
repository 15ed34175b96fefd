/**
 * Picodata's test_rebalancing on real processes: with replication factor 1 every instance is a
 * replicaset of its own, and the rebalancer spreads the 3000 buckets evenly as instances join
 * (3000, then 1500 each, then 1000 each), counted by `vshard.storage.buckets_count()`. The
 * data written through the router moves with its buckets (LMDB on both sides, TCP between).
 */

import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ROOT } from '../../scripts/bundle.mjs';
import { Cluster, picodataBundle, until, type Instance } from './harness.ts';

const SHARDED_SCRIPT = join(ROOT, 'test', 'real', 'fixtures', 'sharded.mjs');

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

  it('rows written through the router before the others joined are read back through it after', async () => {
    const spec = { initReplicationFactor: 1, script: SHARDED_SCRIPT };
    const j1 = await cluster.add('j1', spec);
    await j1.start({ peers: [j1.address] });
    await j1.waitOnline(20_000);
    await untilBalanced([j1], 3000, 20_000);
    await until('accounts on j1', async () => ((await j1.call('stored'))[0] !== undefined ? true : undefined), 10_000);
    const rows = 300;
    for (let id = 1; id <= rows; id++) {
      const [bucketId] = await j1.call('vshard.router.bucket_id_mpcrc32', [id]);
      const [stored] = await j1.call('vshard.router.callrw', [bucketId!, 'put', [id, bucketId!, `v${id}`]]);
      expect(stored).toBe(true);
    }
    const j2 = await cluster.add('j2', spec);
    const j3 = await cluster.add('j3', spec);
    await Promise.all([j2.start({ peers: [j1.address] }), j3.start({ peers: [j1.address] })]);
    await Promise.all([j2.waitOnline(20_000), j3.waitOnline(20_000)]);
    await untilBalanced([j1, j2, j3], 1000, 120_000);
    const stored = await Promise.all([j1, j2, j3].map(async (i) => Number((await i.call('stored'))[0])));
    expect(stored.reduce((a, b) => a + b, 0)).toBe(rows);
    for (const count of stored) expect(count).toBeGreaterThan(0);
    for (let id = 1; id <= rows; id++) {
      const [bucketId] = await j3.call('vshard.router.bucket_id_mpcrc32', [id]);
      const [tuple] = await j3.call('vshard.router.callro', [bucketId!, 'get', [id]]);
      expect(tuple).toEqual([id, bucketId, `v${id}`]);
    }
  }, 300_000);
});
