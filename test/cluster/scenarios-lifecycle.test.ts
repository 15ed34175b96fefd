import { describe, expect, it } from 'vitest';
import { WAL_STORE } from '../../core/box/box.ts';
import { EXIT_CORRUPT_DATA } from '../../core/node/options.ts';
import type { SimCluster } from '../../scenarios/lib/cluster.ts';
import type { World } from '../../runtime-sim/world.ts';
import { ok, promote, raftIdOf, simulate, startAll } from './helpers.ts';

const grades = (info: unknown): [string, string] => {
  const i = info as { current_grade: { variant: string }; target_grade: { variant: string } };
  return [i.current_grade.variant, i.target_grade.variant];
};

async function terminate(world: World, name: string, timeoutMs = 10_000): Promise<{ kind: string; code?: number }> {
  world.host(name).stop('SIGTERM');
  expect(await world.waitFor(() => !world.host(name).running, timeoutMs, 10)).toBe(true);
  return world.host(name).history.at(-1)!;
}

function logged(world: World, host: string, message: string): boolean {
  return world.logs.recent().some((l) => l.host === host && l.message === message);
}

describe('REFERENCE 2: expel', () => {
  for (const [via, target] of [['i1', 'i3'], ['i1', 'i1'], ['i2', 'i1']] as const) {
    it(`12 expel ${target} via ${via}`, async () => {
      await simulate(30 + target.length + via.charCodeAt(1), async (cluster, world) => {
        await startAll(cluster, ['i1', 'i2', 'i3']);
        const expelledRaftId = raftIdOf(cluster, target);
        expect(await ok(cluster, via, '.proc_expel_redirect', ['demo', target])).toEqual([]);
        const observer = target === 'i3' ? 'i1' : 'i3';
        const settled = await world.waitFor(() => {
          const i = cluster.node(observer)?.tables.instance(target);
          return i?.currentGrade.variant === 'Expelled' && i.targetGrade.variant === 'Expelled';
        }, 3_000, 50);
        expect(settled).toBe(true);
        expect(grades((await ok(cluster, observer, 'pico.instance_info', [target]))[0])).toEqual(['Expelled', 'Expelled']);
        await world.waitFor(() => !(cluster.node(observer)?.raft?.status().voters ?? []).includes(expelledRaftId as never), 3_000);
        expect(cluster.node(observer)!.raft!.status().voters).not.toContain(expelledRaftId);
        // The expelled instance exits by itself, and refuses to start again.
        expect(await world.waitFor(() => !world.host(target).running, 5_000)).toBe(true);
        expect(world.host(target).history.at(-1)).toEqual({ kind: 'exited', code: 0 });
        cluster.start(target);
        await world.waitFor(() => !world.host(target).running, 5_000);
        expect(world.host(target).history.at(-1)).toEqual({ kind: 'exited', code: 1 });
      });
    });
  }

  it('12 raft_id_after_expel: raft ids are never reused', async () => {
    await simulate(34, async (cluster, world) => {
      await startAll(cluster, ['i1', 'i2']);
      await startAll(cluster, ['i3']);
      expect(raftIdOf(cluster, 'i3')).toBe(3);
      await ok(cluster, 'i1', 'pico.expel', ['i3']);
      await world.waitFor(() => !world.host('i3').running, 5_000);
      await startAll(cluster, ['i4']);
      expect(raftIdOf(cluster, 'i4')).toBe(4);
    });
  });
});

describe('REFERENCE 2: shutdown', () => {
  it('13 leader first (2 nodes): rc 0, i2 leads, i1 Offline/Offline', async () => {
    await simulate(40, async (cluster, world) => {
      await startAll(cluster, ['i1', 'i2']);
      await promote(cluster, 'i1');
      expect(await terminate(world, 'i1')).toEqual({ kind: 'exited', code: 0 });
      expect(logged(world, 'i1', 'on_shutdown triggers failed')).toBe(false);
      expect((await ok(cluster, 'i2', 'pico.raft_status'))[0]).toMatchObject({ raft_state: 'Leader' });
      expect(grades((await ok(cluster, 'i2', 'pico.instance_info', ['i1']))[0])).toEqual(['Offline', 'Offline']);
    });
  });

  it('13 follower first (2 nodes) mirrors it', async () => {
    await simulate(41, async (cluster, world) => {
      await startAll(cluster, ['i1', 'i2']);
      await promote(cluster, 'i1');
      expect(await terminate(world, 'i2')).toEqual({ kind: 'exited', code: 0 });
      expect(logged(world, 'i2', 'on_shutdown triggers failed')).toBe(false);
      expect((await ok(cluster, 'i1', 'pico.raft_status'))[0]).toMatchObject({ raft_state: 'Leader' });
      expect(grades((await ok(cluster, 'i1', 'pico.instance_info', ['i2']))[0])).toEqual(['Offline', 'Offline']);
    });
  });

  it('13 threesome: the leader, then another, both exit 0 cleanly', async () => {
    await simulate(42, async (cluster, world) => {
      await startAll(cluster, ['i1', 'i2', 'i3']);
      await promote(cluster, 'i1');
      expect(await terminate(world, 'i1')).toEqual({ kind: 'exited', code: 0 });
      expect(await terminate(world, 'i2')).toEqual({ kind: 'exited', code: 0 });
      for (const n of ['i1', 'i2']) expect(logged(world, n, 'on_shutdown triggers failed')).toBe(false);
    });
  });

  it('13 gl119: with the leader stopped (SIGSTOP), a candidate still exits 0 but says its triggers failed', async () => {
    await simulate(43, async (cluster, world) => {
      await startAll(cluster, ['i1', 'i2']);
      await promote(cluster, 'i1');
      world.host('i1').pause();
      await cluster.call('i2', 'pico.raft_timeout_now');
      await world.waitFor(() => ['Candidate', 'PreCandidate'].includes(cluster.node('i2')!.raft!.role), 5_000, 10);
      expect(await terminate(world, 'i2', 15_000)).toEqual({ kind: 'exited', code: 0 });
      expect(logged(world, 'i2', 'on_shutdown triggers failed')).toBe(true);
      world.host('i1').resume();
    });
  });
});

async function restart(cluster: SimCluster, world: World, name: string): Promise<void> {
  expect(await terminate(world, name)).toEqual({ kind: 'exited', code: 0 });
  cluster.start(name);
}

describe('REFERENCE 2: restart, failover', () => {
  it('14 restart: incarnations count up; a follower restart keeps the leader', async () => {
    await simulate(50, async (cluster, world) => {
      await startAll(cluster, ['i1', 'i2']);
      await promote(cluster, 'i1');
      const inc = async (): Promise<unknown> => ((await ok(cluster, 'i1', 'pico.instance_info', ['i2']))[0] as { current_grade: unknown }).current_grade;
      expect(await inc()).toEqual({ variant: 'Online', incarnation: 1 });
      await restart(cluster, world, 'i2');
      expect(await cluster.waitOnline(['i2'])).toBe(true);
      expect(await inc()).toEqual({ variant: 'Online', incarnation: 2 });
      await restart(cluster, world, 'i2');
      expect(await cluster.waitOnline(['i2'])).toBe(true);
      expect(await inc()).toEqual({ variant: 'Online', incarnation: 3 });
      expect(cluster.node('i1')!.isLeader()).toBe(true);
    });
  });

  it('14 restart both: no leader until both are up; then Online incarnation 2 and CaS works on both', async () => {
    await simulate(51, async (cluster, world) => {
      await startAll(cluster, ['i1', 'i2']);
      world.host('i1').crash('process');
      world.host('i2').crash('process');
      cluster.start('i1');
      await world.sleep(3_000);
      expect((await ok(cluster, 'i1', 'pico.raft_status'))[0]).toMatchObject({ leader_id: null });
      cluster.start('i2');
      await world.sleep(500);
      await promote(cluster, 'i2');
      expect(await cluster.waitOnline(['i1', 'i2'])).toBe(true);
      expect(cluster.node('i2')!.self()!.currentGrade).toEqual({ variant: 'Online', incarnation: 2 });
      const index = await ok(cluster, 'i2', 'pico.cas', [{ kind: 'insert', space: '_picodata_property', tuple: ['check', true] }]);
      await ok(cluster, 'i1', 'pico.raft_wait_index', [index[0]!, 5]);
      for (const n of ['i1', 'i2']) expect(cluster.node(n)!.tables.property('check')).toBe(true);
    });
  });

  it('15 failover: ticking a follower 20 times makes it the leader', async () => {
    await simulate(52, async (cluster, world) => {
      await startAll(cluster, ['i1', 'i2']);
      await promote(cluster, 'i1');
      for (let attempt = 0; attempt < 20 && !cluster.node('i2')!.isLeader(); attempt++) {
        await ok(cluster, 'i2', 'pico.raft_tick', [20]);
        await world.waitFor(() => cluster.node("i2")!.isLeader(), 50, 10);
      }
      expect((await ok(cluster, 'i2', 'pico.raft_status'))[0]).toMatchObject({ raft_state: 'Leader' });
      expect((await ok(cluster, 'i1', 'pico.raft_status'))[0]).toMatchObject({ raft_state: 'Follower', leader_id: raftIdOf(cluster, 'i2') });
    });
  });
});

describe('a corrupt WAL record in the box', () => {
  it('refuses to start (exit 78, with the hint), and starts past it with forceRecovery', async () => {
    await simulate(5150, async (cluster, world) => {
      await startAll(cluster, ['i1'], { walMode: 'fsync' });
      const node = cluster.node('i1')!;
      await node.box.createSpace('kv');
      await node.box.createIndex('kv', 'pk', { parts: [[0, 'unsigned']] });
      for (let i = 1; i <= 3; i++) await node.box.space('kv').replace([i, `v${i}`]);
      const host = world.host('i1');
      host.crash('process');
      await world.waitFor(() => !host.running, 5_000);
      // Bit rot in the newest WAL record, found when the instance starts again.
      const wal = await host.disk.forProcess({ alive: true, fail: (e: unknown) => { throw e; } }).open(WAL_STORE);
      const [key, value] = [...wal.range({ reverse: true })][0]!;
      const rotten = value.slice();
      rotten[rotten.length - 1]! ^= 0x10;
      await wal.write([{ kind: 'put', key, value: rotten }], 'fsync');
      cluster.start('i1');
      expect(await world.waitFor(() => !host.running, 10_000)).toBe(true);
      expect(host.history.at(-1)).toEqual({ kind: 'exited', code: EXIT_CORRUPT_DATA });
      const refusal = world.logs.recent().find((l) => l.host === 'i1' && l.message === 'data directory is corrupt, refusing to start');
      expect(refusal?.fields['hint']).toMatch(/--force-recovery/);
      cluster.start('i1', { walMode: 'fsync', forceRecovery: true });
      expect(await cluster.waitOnline(['i1'], 30_000)).toBe(true);
      const kv = cluster.node('i1')!.box.space('kv');
      expect(kv.get([1])).toEqual([1, 'v1']);
      expect(kv.get([2])).toEqual([2, 'v2']);
    });
  });
});
