import { describe, expect, it } from 'vitest';
import type { MpValue } from '../../core/codec/msgpack.ts';
import { message, ok, simulate, startAll } from './helpers.ts';

const range = (space: string, key: string): MpValue => ({ space, key_min: { kind: 'included', key: [key] }, key_max: { kind: 'included', key: [key] } });
const insert = (tuple: MpValue[]): MpValue => ({ op_kind: 'insert', space: '_picodata_property', tuple });

describe('REFERENCE 2: CaS and compaction (scenario 22)', () => {
  it('refuses bad predicates with the exact texts and detects conflicts by range', async () => {
    await simulate(60, async (cluster) => {
      await startAll(cluster, ['i1']);
      const raft = cluster.node('i1')!.raft!;
      expect(raft.term).toBe(2);
      const cas = (predicate: MpValue, dml: MpValue = insert(['k', 'v'])) => cluster.call('i1', '.proc_cas', ['demo', predicate, dml]);
      expect(message(await cas({ index: raft.applied, term: 3, ranges: [] }))).toBe('operation request from different term 3, current term is 2');
      expect(message(await cas({ index: 2048, term: 2, ranges: [] }))).toBe(
        `compare-and-swap request failed: raft entry at index 2048 does not exist yet, the last is ${raft.status().lastIndex}`,
      );
      const first = (await ok(cluster, 'i1', 'pico.raft_compact_log'))[0] as number;
      expect(first).toBe(raft.applied + 1);
      expect(message(await cas({ index: first - 2, term: 2, ranges: [] }))).toBe(`compare-and-swap request failed: raft index ${first - 2} is compacted at ${first - 1}`);
      for (const space of ['_picodata_space', '_picodata_index']) {
        expect(message(await cas({ index: raft.applied, term: 2, ranges: [range(space, 'x')] }))).toBe(
          `compare-and-swap request failed: space ${space} is prohibited for use in a predicate`,
        );
      }
      const r = (await ok(cluster, 'i1', 'pico.raft_read_index', [3]))[0] as number;
      expect(await ok(cluster, 'i1', '.proc_cas', ['demo', { index: r, term: 2, ranges: [] }, insert(['fruit', 'apple'])])).toEqual([{ index: r + 1, term: 2 }]);
      expect(message(await cas({ index: r, term: 2, ranges: [range('_picodata_property', 'fruit')] }, insert(['fruit', 'orange'])))).toBe(
        `compare-and-swap request failed: comparison failed for index ${r} as it conflicts with ${r + 1}`,
      );
      expect(await ok(cluster, 'i1', '.proc_cas', ['demo', { index: r, term: 2, ranges: [range('_picodata_property', 'flower')] }, insert(['flower', 'tulip'])])).toEqual([
        { index: r + 2, term: 2 },
      ]);
      await ok(cluster, 'i1', 'pico.raft_wait_index', [r + 2, 5]);
      expect(cluster.node('i1')!.tables.property('flower')).toBe('tulip');
    });
  });

  it('raft_compact_log: compact(1) -> 1, compact(2) -> 2, compact(max) -> applied + 1 twice', async () => {
    await simulate(61, async (cluster, world) => {
      await startAll(cluster, ['i1']);
      const raft = cluster.node('i1')!.raft!;
      expect(await ok(cluster, 'i1', 'pico.raft_compact_log', [1])).toEqual([1]);
      expect(await ok(cluster, 'i1', 'pico.raft_compact_log', [2])).toEqual([2]);
      expect(raft.status().firstIndex).toBe(2);
      const applied = raft.applied;
      expect(await ok(cluster, 'i1', 'pico.raft_compact_log', [2 ** 53])).toEqual([applied + 1]);
      expect(await ok(cluster, 'i1', 'pico.raft_compact_log', [2 ** 53])).toEqual([applied + 1]);
      // A restart from the compacted log recovers the same tables.
      world.host('i1').crash('power');
      cluster.start('i1');
      expect(await cluster.waitOnline(['i1'])).toBe(true);
      expect(cluster.node('i1')!.tables.replicasets().map((x) => x.replicasetId)).toEqual(['r1']);
    });
  });
});
