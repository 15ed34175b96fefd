import { describe, expect, it } from 'vitest';
import type { MpValue } from '../../core/codec/msgpack.ts';
import { message, ok, promote, raftIdOf, simulate, startAll } from './helpers.ts';

const prop = (op: string, tuple: MpValue[]): MpValue => ({ kind: op, space: '_picodata_property', ...(op === 'delete' ? { key: tuple } : { tuple }) });

describe('REFERENCE 2: raft behaviour through the cluster', () => {
  it('23 catchup_by_snapshot: a returning instance catches up from a snapshot after compaction', async () => {
    await simulate(70, async (cluster, world) => {
      await startAll(cluster, ['i1', 'i2', 'i3']);
      await promote(cluster, 'i1');
      const [tigerIndex] = await ok(cluster, 'i1', 'pico.cas', [prop('insert', ['animal', 'tiger'])]);
      await ok(cluster, 'i3', 'pico.raft_wait_index', [tigerIndex!, 5]);
      expect(cluster.node('i3')!.tables.property('animal')).toBe('tiger');
      expect(cluster.node('i3')!.raft!.status().firstIndex).toBe(1);
      world.host('i3').stop('SIGTERM');
      await world.waitFor(() => !world.host('i3').running, 10_000);
      await ok(cluster, 'i1', 'pico.cas', [prop('delete', ['animal'])]);
      const [ret] = await ok(cluster, 'i1', 'pico.cas', [prop('insert', ['tree', 'birch'])]);
      for (const n of ['i1', 'i2']) {
        await ok(cluster, n, 'pico.raft_wait_index', [ret!, 5]);
        const applied = cluster.node(n)!.raft!.applied;
        expect(await ok(cluster, n, 'pico.raft_compact_log', [Number(ret) + 1])).toEqual([Math.min(Number(ret) + 1, applied + 1)]);
      }
      cluster.start('i3');
      expect(await cluster.waitOnline(['i3'])).toBe(true);
      const i3 = cluster.node('i3')!;
      expect(i3.tables.property('animal')).toBeUndefined();
      expect(i3.tables.property('tree')).toBe('birch');
      expect(i3.raft!.status().firstIndex).toBeGreaterThan(Number(ret));
      world.host('i3').stop('SIGTERM');
      await world.waitFor(() => !world.host('i3').running, 10_000);
      cluster.start('i3');
      expect(await cluster.waitOnline(['i3'])).toBe(true);
    });
  });

  it('21 leader_disruption: a node cut off from incoming raft traffic pre-votes but does not depose the leader', async () => {
    await simulate(71, async (cluster, world) => {
      await startAll(cluster, ['i1', 'i2', 'i3']);
      await promote(cluster, 'i1');
      const [i1, i2, i3] = ['i1', 'i2', 'i3'].map((n) => world.host(n));
      world.net.cutOneWay(i1!.id, i3!.id);
      world.net.cutOneWay(i2!.id, i3!.id);
      await ok(cluster, 'i3', 'pico.raft_tick', [100]);
      await world.waitFor(() => cluster.node('i3')!.raft!.role === 'PreCandidate', 5_000, 10);
      expect((await ok(cluster, 'i3', 'pico.raft_status'))[0]).toMatchObject({ raft_state: 'PreCandidate', leader_id: null });
      const termBefore = cluster.node('i1')!.raft!.term;
      await ok(cluster, 'i1', 'pico.raft_propose_nop');
      world.net.heal();
      await world.waitFor(() => cluster.node('i3')!.raft!.role === 'Follower' && cluster.node('i3')!.raft!.leaderId === raftIdOf(cluster, 'i1'), 10_000, 50);
      expect((await ok(cluster, 'i3', 'pico.raft_status'))[0]).toMatchObject({ raft_state: 'Follower', leader_id: raftIdOf(cluster, 'i1') });
      expect(cluster.node('i1')!.raft!.term).toBe(termBefore);
    });
  });

  it('20 log_rollback: an entry the old leader could not commit is rolled back when it rejoins', async () => {
    await simulate(72, async (cluster, world) => {
      await startAll(cluster, ['i1', 'i2', 'i3']);
      await promote(cluster, 'i1');
      await ok(cluster, 'i1', 'pico.cas', [prop('insert', ['a', 1])]);
      const [h1, h2, h3] = ['i1', 'i2', 'i3'].map((n) => world.host(n)!);
      world.net.partition([[h1.id], [h2.id, h3.id]]);
      const [lost] = await ok(cluster, 'i1', 'pico.cas', [prop('insert', ['lost', true])]);
      const wait = await cluster.call('i1', 'pico.raft_wait_index', [lost!, 1]);
      expect(wait.ok).toBe(false);
      await promote(cluster, 'i2');
      const [kept] = await ok(cluster, 'i2', 'pico.cas', [prop('insert', ['kept', true])]);
      world.net.heal();
      await ok(cluster, 'i1', 'pico.raft_wait_index', [kept!, 10]);
      await world.waitFor(() => cluster.node('i1')!.raft!.role === 'Follower', 10_000, 50);
      expect((await ok(cluster, 'i1', 'pico.raft_status'))[0]).toMatchObject({ raft_state: 'Follower', leader_id: raftIdOf(cluster, 'i2') });
      expect(cluster.node('i1')!.tables.property('lost')).toBeUndefined();
      expect(cluster.node('i1')!.tables.property('kept')).toBe(true);
      expect(message(await cluster.call('i1', 'pico.cas', [prop('insert', ['after', true])]))).toMatch(/^ok /);
    });
  });

  it('follower proposals work and raft_propose_info is logged on every instance', async () => {
    await simulate(73, async (cluster, world) => {
      await startAll(cluster, ['i1', 'i2', 'i3']);
      await promote(cluster, 'i1');
      const [index] = await ok(cluster, 'i2', 'pico.raft_propose_info', ['hello from i2']);
      for (const n of ['i1', 'i2', 'i3']) await ok(cluster, n, 'pico.raft_wait_index', [index!, 5]);
      for (const n of ['i1', 'i2', 'i3']) {
        expect(world.logs.recent().some((l) => l.host === n && l.message === 'raft info' && l.fields['message'] === 'hello from i2')).toBe(true);
      }
      expect((await ok(cluster, 'i3', 'pico.raft_propose_nop'))[0]).toBeGreaterThan(Number(index));
    });
  });

  it('sentinel: a silent instance is marked Offline, its voter seat is taken, and it comes back with a new incarnation', async () => {
    await simulate(74, async (cluster, world) => {
      await startAll(cluster, ['i1', 'i2', 'i3', 'i4']);
      await promote(cluster, 'i1');
      const victim = ['i2', 'i3', 'i4'].find((n) => cluster.node('i1')!.raft!.status().voters.includes(raftIdOf(cluster, n) as never))!;
      const victimRaftId = raftIdOf(cluster, victim);
      world.host(victim).pause();
      const offline = await world.waitFor(() => cluster.node('i1')!.tables.instance(victim)?.currentGrade.variant === 'Offline', 20_000, 100);
      expect(offline).toBe(true);
      await world.waitFor(() => !cluster.node('i1')!.raft!.status().voters.includes(victimRaftId as never), 10_000, 100);
      expect(cluster.node('i1')!.raft!.status().voters).not.toContain(victimRaftId);
      expect(cluster.node('i1')!.raft!.status().voters.length).toBe(3);
      world.host(victim).resume();
      const back = await world.waitFor(() => {
        const i = cluster.node('i1')!.tables.instance(victim);
        return i?.currentGrade.variant === 'Online' && i.currentGrade.incarnation === 2;
      }, 30_000, 100);
      expect(back).toBe(true);
    });
  });
});
