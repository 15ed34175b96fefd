/**
 * Data replication on real processes: two instances with --init-replication-factor 2 form one
 * replicaset; rows written to its master over iproto are read back from the replica, which
 * refuses writes; a synchronous space acknowledges a write only once the replica holds it;
 * SIGTERM of the master hands over to the replica with every row (the governor waits for it to
 * catch up), and the old master, restarted, follows the new one and copies it.
 */

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { MpValue } from '../../core/codec/msgpack.ts';
import { CLUSTER_STATUS_FUNCTION, type ClusterStatus } from '../../runtime-real/cluster-info.ts';
import { join } from 'node:path';
import { ROOT } from '../../scripts/bundle.mjs';
import { Cluster, freePort, picodataBundle, until, type Instance } from './harness.ts';

const SYNC_SCRIPT = join(ROOT, 'test', 'real', 'fixtures', 'sync-app.mjs');

const ROWS = 300;

describe('data replication between 2 real processes', () => {
  const cluster = new Cluster('replication');
  let i1: Instance;
  let i2: Instance;

  beforeAll(async () => {
    await picodataBundle();
    i1 = await cluster.add('i1', { instanceId: 'i1', initReplicationFactor: 2, walMode: 'fsync', httpPort: await freePort(), script: SYNC_SCRIPT });
    i2 = await cluster.add('i2', { instanceId: 'i2', initReplicationFactor: 2, walMode: 'fsync', httpPort: await freePort(), script: SYNC_SCRIPT });
  });
  afterAll(() => cluster.destroy());

  async function masterId(via: Instance): Promise<string> {
    const [status] = await via.call(CLUSTER_STATUS_FUNCTION);
    const { replicasets } = status as unknown as ClusterStatus;
    expect(replicasets).toHaveLength(1);
    return replicasets[0]!.master_id;
  }

  async function count(instance: Instance): Promise<number | undefined> {
    try {
      return (await instance.call('box.space.test:count'))[0] as number;
    } catch {
      return undefined; // no such space yet
    }
  }

  async function tuples(instance: Instance): Promise<MpValue[]> {
    return (await instance.call('box.space.test:select', [[], { iterator: 'ALL' }]))[0] as MpValue[];
  }

  it('a replica reads what its master wrote and refuses writes itself', async () => {
    await Promise.all([i1.start({ peers: [i1.address] }), i2.start({ peers: [i1.address] })]);
    await Promise.all([i1.waitOnline(30_000), i2.waitOnline(30_000)]);
    const master = (await masterId(i1)) === 'i1' ? i1 : i2;
    const replica = master === i1 ? i2 : i1;
    await until('the script created test on the master', () => count(master), 10_000);
    for (let id = 1; id <= ROWS; id++) await master.call('box.space.test:replace', [[id, `value ${id}`]]);
    await master.call('box.space.test:delete', [[7]]);
    const written = await tuples(master);
    expect(written).toHaveLength(ROWS - 1);
    await until('the master\'s rows on the replica', async () => (JSON.stringify(await tuples(replica)) === JSON.stringify(written) ? true : undefined), 15_000);
    await expect(replica.call('box.space.test:insert', [[ROWS + 1, 'x']])).rejects.toThrow("Can't modify data because this instance is in read-only mode.");
    // /metrics on the replica: its cursor into the master's WAL, and no lag once caught up.
    const metrics = await until('the replica reports no lag', async () => {
      const text = await (await fetch(`http://127.0.0.1:${replica.spec.httpPort}/metrics`)).text();
      return text.includes(`picodata_replication_lag_lsn{master="${master.name}"} 0`) ? text : undefined;
    }, 10_000);
    const cursor = /picodata_replication_cursor_lsn\{master="[^"]+"\} (\d+)/.exec(metrics);
    expect(Number(cursor?.[1])).toBeGreaterThanOrEqual(ROWS);
    const masterMetrics = await (await fetch(`http://127.0.0.1:${master.spec.httpPort}/metrics`)).text();
    expect(masterMetrics).not.toContain('picodata_replication_lag_lsn');
  }, 60_000);

  it('a synchronous space: a write is acknowledged once the replica holds it, and times out (216) without it', async () => {
    const master = (await masterId(i1)) === 'i1' ? i1 : i2;
    const replica = master === i1 ? i2 : i1;
    // The replica creates `sync` from the master's definition with the first row it gets.
    await until('the master has the sync space', async () => master.call('box.space.sync:count').then(() => true, () => undefined), 10_000);
    for (let id = 1; id <= 20; id++) {
      await master.call('box.space.sync:insert', [[id]]);
      expect(await replica.call('box.space.sync:get', [id]), `write ${id} acknowledged before the replica held it`).toEqual([[id]]);
    }
    replica.kill();
    await replica.waitExit(5_000);
    const startedMs = Date.now();
    await expect(master.call('box.space.sync:insert', [[21]], 15_000)).rejects.toThrow('Quorum collection for a synchronous transaction is timed out');
    expect(Date.now() - startedMs).toBeGreaterThanOrEqual(4_500);
    await replica.start();
    await replica.waitOnline(30_000, 2);
    await until('the timed-out write reaches the replica', async () => ((await replica.call('box.space.sync:get', [21])).length === 1 ? true : undefined), 15_000);
  }, 90_000);

  it('SIGTERM of the master: the replica takes over with every row, and the old master follows it', async () => {
    const master = (await masterId(i1)) === 'i1' ? i1 : i2;
    const replica = master === i1 ? i2 : i1;
    // The last writes just before the stop: the switch waits for the replica to have them.
    for (let id = ROWS + 1; id <= ROWS + 50; id++) await master.call('box.space.test:replace', [[id, `late ${id}`]]);
    const written = await tuples(master);
    expect(await master.stop('SIGTERM')).toEqual({ code: 0, signal: null });
    await until('the replica is master', async () => ((await masterId(replica)) === replica.name ? true : undefined), 15_000);
    expect(await tuples(replica)).toEqual(written);
    await replica.call('box.space.test:replace', [[ROWS + 100, 'after the switch']]);

    await master.start();
    await master.waitOnline(30_000, 2);
    await until('the old master holds the new master\'s rows', async () => (JSON.stringify(await tuples(master)) === JSON.stringify(await tuples(replica)) ? true : undefined), 15_000);
    expect(master.events('copied the master\'s data').length).toBeGreaterThanOrEqual(1);
    await expect(master.call('box.space.test:insert', [[ROWS + 200, 'x']])).rejects.toThrow('read-only');
  }, 90_000);
});
