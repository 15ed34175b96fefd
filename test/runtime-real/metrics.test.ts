/**
 * /metrics of every instance of a simulated three-instance cluster (the same renderer the daemon
 * serves): Raft lag on the leader and on followers, and the WAL families following local writes.
 * test/real/daemon.test.ts checks the served endpoint on a real process. Also the iproto request
 * counts around a backend's point-select route.
 */

import { afterAll, describe, expect, it } from 'vitest';
import type { MpValue } from '../../core/codec/msgpack.ts';
import type { IprotoBackend } from '../../core/iproto/backend.ts';
import { DaemonMetrics, IprotoMetrics } from '../../runtime-real/metrics.ts';
import { MemoryBackend, TEST_SPACE_ID } from '../iproto/memory-backend.ts';
import { ok, promote, raftIdOf, simulate, startAll } from '../cluster/helpers.ts';

const prop = (key: string, value: string): MpValue => ({ kind: 'insert', space: '_picodata_property', tuple: [key, value] });

/** The value of the one sample `name{labels}` in `text`; fails when it is missing. */
function sample(text: string, name: string, labels = ''): number {
  const line = text.split('\n').find((l) => l.startsWith(`${name}${labels} `));
  expect(line, `${name}${labels} in\n${text}`).toBeDefined();
  return Number(line!.slice(line!.lastIndexOf(' ') + 1));
}

describe('/metrics of a simulated cluster', () => {
  // Made outside the simulation: it reads the real start time, which the simulation forbids.
  const metrics = new DaemonMetrics();
  afterAll(() => metrics.stop());

  it('reports apply and commit lag on every instance, follower lag on the leader, and WAL counters', async () => {
    await simulate(90, async (cluster) => {
      const names = ['i1', 'i2', 'i3'];
      await startAll(cluster, names);
      await promote(cluster, 'i1');
      const [index] = await ok(cluster, 'i1', 'pico.cas', [prop('metrics', 'yes')]);
      for (const n of names) await ok(cluster, n, 'pico.raft_wait_index', [index!, 5]);

      for (const n of names) {
        const text = metrics.render(cluster.node(n)!, null);
        expect(text).toMatch(/^# TYPE picodata_raft_apply_lag_entries gauge$/m);
        expect(text).toMatch(/^# TYPE picodata_raft_commit_lag_entries gauge$/m);
        expect(sample(text, 'picodata_raft_apply_lag_entries')).toBe(0);
        expect(sample(text, 'picodata_raft_commit_lag_entries')).toBe(0);
        expect(sample(text, 'picodata_raft_commit_index')).toBeGreaterThanOrEqual(Number(index));
        // Only the leader tracks its followers.
        expect(text.includes('picodata_raft_follower_lag_entries{')).toBe(n === 'i1');
      }
      const leaderText = metrics.render(cluster.node('i1')!, null);
      for (const n of ['i2', 'i3']) {
        expect(sample(leaderText, 'picodata_raft_follower_lag_entries', `{raft_id="${raftIdOf(cluster, n)}"}`)).toBe(0);
      }

      // Local writes on a Raft follower (each instance masters its own replicaset here).
      const box = cluster.node('i2')!.box;
      let text = metrics.render(cluster.node('i2')!, null);
      expect(text).toContain('picodata_wal_mode{mode="write"} 1');
      expect(text).toContain('picodata_wal_mode{mode="fsync"} 0');
      expect(text).toMatch(/^# TYPE picodata_wal_rows_written_total counter$/m);
      expect(text).toMatch(/^# TYPE picodata_wal_write_duration_seconds histogram$/m);
      const space = await box.createSpace('metrics_test');
      await space.createIndex('pk');
      text = metrics.render(cluster.node('i2')!, null);
      const rowsBefore = sample(text, 'picodata_wal_rows_written_total');
      const batchesBefore = sample(text, 'picodata_wal_batches_written_total');
      const bytesBefore = sample(text, 'picodata_wal_bytes_written_total');
      const timedBefore = sample(text, 'picodata_wal_write_duration_seconds_count');
      expect(rowsBefore).toBeGreaterThan(0);

      const writes = [];
      for (let k = 1; k <= 7; k++) writes.push(space.insert([k]));
      const inFlight = metrics.render(cluster.node('i2')!, null);
      expect(sample(inFlight, 'picodata_wal_pending_rows')).toBe(7);
      await Promise.all(writes);
      text = metrics.render(cluster.node('i2')!, null);
      expect(sample(text, 'picodata_wal_pending_rows')).toBe(0);
      expect(sample(text, 'picodata_wal_rows_written_total') - rowsBefore).toBe(7);
      expect(sample(text, 'picodata_wal_transactions_written_total')).toBeGreaterThanOrEqual(7);
      // Seven autocommits in one synchronous run share one group commit.
      expect(sample(text, 'picodata_wal_batches_written_total') - batchesBefore).toBe(1);
      expect(sample(text, 'picodata_wal_bytes_written_total')).toBeGreaterThan(bytesBefore);
      expect(sample(text, 'picodata_wal_syncs_total')).toBe(0); // write mode
      expect(sample(text, 'picodata_wal_write_errors_total')).toBe(0);
      const timed = sample(text, 'picodata_wal_write_duration_seconds_count');
      expect(timed - timedBefore).toBe(1);
      expect(sample(text, 'picodata_wal_write_duration_seconds_bucket', '{le="+Inf"}')).toBe(timed);
      expect(sample(text, 'picodata_wal_write_duration_seconds_sum')).toBeGreaterThan(0); // the simulated disk's latency
    });
  }, 60_000);
});

describe('iproto request metrics', () => {
  it('counts a point select once, as a select, whichever route answers it', () => {
    const iproto = new IprotoMetrics();
    const calls: string[] = [];
    // A backend that answers keys 1 (found) and 3 (not found) from its index, leaves other keys
    // to `select`, and fails on 'boom'.
    const backend: IprotoBackend = new MemoryBackend();
    backend.selectPoint = (_spaceId, _indexId, key) => {
      calls.push(`point ${JSON.stringify(key)}`);
      if (key[0] === 'boom') throw new Error('lookup failed');
      if (key[0] === 1) return [1, 'one'];
      return key[0] === 3 ? null : undefined;
    };
    const wrapped = iproto.wrap(backend);
    const session = { id: 1, user: 'guest', peerAddress: 'test' };
    expect(wrapped.selectPoint!(TEST_SPACE_ID, 0, [1], session)).toEqual([1, 'one']);
    expect(wrapped.selectPoint!(TEST_SPACE_ID, 0, [3], session)).toBeNull();
    expect(iproto.count('select')).toBe(2);
    // Not a point lookup: the session then calls select, which counts it.
    expect(wrapped.selectPoint!(TEST_SPACE_ID, 0, [2], session)).toBeUndefined();
    expect(iproto.count('select')).toBe(2);
    wrapped.select({ kind: 'select', spaceId: TEST_SPACE_ID, indexId: 0, limit: 1, offset: 0, iterator: 0, key: [2] }, session);
    expect(iproto.count('select')).toBe(3);
    expect(iproto.errorCount('select')).toBe(0);
    expect(() => wrapped.selectPoint!(TEST_SPACE_ID, 0, ['boom'], session)).toThrow('lookup failed');
    expect(iproto.count('select')).toBe(4);
    expect(iproto.errorCount('select')).toBe(1);
    expect(calls).toEqual(['point [1]', 'point [3]', 'point [2]', 'point ["boom"]']);
  });
});
