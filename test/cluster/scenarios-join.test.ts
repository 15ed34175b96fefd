import { describe, expect, it } from 'vitest';
import { message, ok, promote, raftIdOf, simulate, startAll } from './helpers.ts';

describe('REFERENCE 2: join, discovery, ids', () => {
  it('1 request_follower: a follower answers a join with ErrNotALeader naming the leader', async () => {
    await simulate(11, async (cluster) => {
      await startAll(cluster, ['i1', 'i2']);
      const reply = await ok(cluster, 'i2', '.proc_raft_join', ['demo', 'fake-0', null, 'nowhere/fake-0', {}]);
      expect(reply).toEqual([{ ErrNotALeader: { raft_id: 1, address: 'i1:3301' } }]);
    });
  });

  it('2 discovery: initialized instances answer with the leader; late joiners find it through any peer', async () => {
    await simulate(12, async (cluster) => {
      await startAll(cluster, ['i1', 'i2', 'i3']);
      await promote(cluster, 'i1');
      await promote(cluster, 'i2');
      const reply = await ok(cluster, 'i1', '.proc_discover', [{ tmp_id: 'unused', peers: ['test:3301'] }, 'i1:3301']);
      expect(reply).toEqual([{ Done: { NonLeader: { leader: 'i2:3301' } } }]);
      cluster.start('i4', { peers: ['i1:3301'] });
      expect(await cluster.waitOnline(['i4'])).toBe(true);
      expect((await ok(cluster, 'i4', 'pico.raft_status'))[0]).toMatchObject({ leader_id: raftIdOf(cluster, 'i2'), raft_state: 'Follower' });
      expect(await ok(cluster, 'i3', '.proc_discover', [{ tmp_id: 'unused', peers: ['test:3301'] }, 'i3:3301'])).toEqual([{ Done: { NonLeader: { leader: 'i2:3301' } } }]);
      cluster.start('i5', { peers: ['i3:3301'] });
      expect(await cluster.waitOnline(['i5'])).toBe(true);
      expect((await ok(cluster, 'i5', 'pico.raft_status'))[0]).toMatchObject({ leader_id: raftIdOf(cluster, 'i2'), raft_state: 'Follower' });
    });
  });

  it('--peer :0: an instance whose only peer never answers stays in discovery, uninitialized', async () => {
    await simulate(14, async (cluster, world) => {
      cluster.start('i1', { peers: [':0'] });
      await world.sleep(20_000);
      expect(world.host('i1').running).toBe(true);
      expect(cluster.node('i1')?.state).toBe('discovery');
      expect(cluster.node('i1')?.raft).toBeNull();
      expect(message(await cluster.call('i1', 'pico.raft_status'))).toMatch(/uninitialized yet/);
    });
  });

  it('3 parallel: with the first leader terminated, a joiner listing all peers finds the new leader', async () => {
    await simulate(13, async (cluster, world) => {
      await startAll(cluster, ['i1', 'i2', 'i3']);
      world.host('i1').stop('SIGTERM');
      await world.waitFor(() => !world.host('i1').running, 10_000);
      await promote(cluster, 'i2');
      cluster.start('i4', { peers: ['i1:3301', 'i2:3301', 'i3:3301'] });
      expect(await cluster.waitOnline(['i4'])).toBe(true);
      expect((await ok(cluster, 'i4', 'pico.raft_status'))[0]).toMatchObject({ leader_id: raftIdOf(cluster, 'i2'), raft_state: 'Follower' });
    });
  });

  it('5 init_replication_factor: only the bootstrap instance decides it', async () => {
    await simulate(15, async (cluster) => {
      await startAll(cluster, ['i1'], { initReplicationFactor: 2 });
      cluster.start('i2', { initReplicationFactor: 3 });
      cluster.start('i3', { initReplicationFactor: 4 });
      expect(await cluster.waitOnline(['i2', 'i3'])).toBe(true);
      for (const n of ['i1', 'i2', 'i3']) expect(cluster.node(n)!.tables.replicationFactor()).toBe(2);
      expect(cluster.node('i3')!.tables.replicasets().map((r) => r.replicasetId).sort()).toEqual(['r1', 'r2']);
    });
  });

  it('6 cluster_id_mismatch: the exact text, from leader and follower alike', async () => {
    await simulate(16, async (cluster) => {
      await startAll(cluster, ['i1', 'i2']);
      for (const name of ['i1', 'i2']) {
        const r = await cluster.call(name, '.proc_raft_join', ['wrong-cluster-id', null, null, 'x:1', {}]);
        expect(r.ok ? '' : (r.error as { message: string }).message).toBe(
          'cannot join the instance to the cluster: cluster_id mismatch: cluster_id of the instance = "wrong-cluster-id", cluster_id of the cluster = "demo"',
        );
      }
    });
  });

  it('7 no explicit ids: i1 leads, i2 follows', async () => {
    await simulate(17, async (cluster) => {
      await startAll(cluster, ['i1'], { autoInstanceId: true });
      await startAll(cluster, ['i2'], { autoInstanceId: true });
      expect((await ok(cluster, 'i1', 'pico.whoami'))[0]).toMatchObject({ instance_id: 'i1', raft_id: 1 });
      expect((await ok(cluster, 'i2', 'pico.whoami'))[0]).toMatchObject({ instance_id: 'i2', raft_id: 2 });
      expect((await ok(cluster, 'i1', 'pico.raft_status'))[0]).toMatchObject({ raft_state: 'Leader' });
      expect((await ok(cluster, 'i2', 'pico.raft_status'))[0]).toMatchObject({ raft_state: 'Follower' });
    });
  });

  it('before initialization the API answers "uninitialized yet"', async () => {
    await simulate(18, async (cluster, world) => {
      cluster.start('i2', { peers: ['i1:3301'] }); // i1 never starts: i2 stays in discovery
      await world.sleep(3_000);
      expect(cluster.node('i2')!.state).toBe('discovery');
      for (const fn of ['pico.whoami', 'pico.raft_status', 'pico.instance_info', 'pico.raft_propose_nop']) {
        expect(await ok(cluster, 'i2', fn)).toEqual([null, 'uninitialized yet']);
      }
    });
  });
});

describe('joining after a wipe', () => {
  it('the old leader restarted with a wiped data directory does not try to join itself', async () => {
    await simulate(
      4242,
      async (cluster, world) => {
        const names = ['i1', 'i2', 'i3', 'i4', 'i5'];
        await startAll(cluster, names);
        await world.waitFor(() => cluster.leaderName() !== undefined, 5_000);
        const leader = cluster.leaderName()!;
        // A --peer that is down as well (a quorum remains): the joiner must not wait on it forever.
        const dead = names.find((n) => n !== leader)!;
        world.host(dead).crash('power');
        const host = world.host(leader);
        host.crash('power');
        host.disk.wipe();
        // At once: the others still name it as the leader, so discovery does too.
        cluster.start(leader);
        // It either joins again or is refused for good (its old record is still Online): it must not hang.
        const settled = await world.waitFor(() => !host.running || cluster.isOnline(leader), 30_000, 100);
        const mine = world.logs.recent().filter((l) => l.host === leader);
        expect(settled, mine.slice(-10).map((l) => `${l.message} ${JSON.stringify(l.fields)}`).join('\n')).toBe(true);
        expect(mine.filter((l) => l.message === 'joining' && l.fields['leader'] === `${leader}:3301`)).toEqual([]);
      },
      { peers: ['i1:3301', 'i2:3301', 'i3:3301', 'i4:3301', 'i5:3301'] },
    );
  });

  it('a joiner whose first --peer is down and whose leader restarts mid-join still joins', async () => {
    await simulate(
      4243,
      async (cluster, world) => {
        const names = ['i1', 'i2', 'i3', 'i4', 'i5'];
        await startAll(cluster, names);
        const leader = cluster.leaderName()!;
        const dead = names.find((n) => n !== leader)!;
        const alive = names.find((n) => n !== leader && n !== dead)!;
        world.host(dead).crash('power');
        await world.sleep(3_000);
        cluster.start('i6', { peers: [`${dead}:3301`, `${alive}:3301`] });
        expect(await world.waitFor(() => cluster.node('i6')?.state === 'joining', 30_000, 1)).toBe(true);
        // The leader restarts: for a moment it answers that it knows no leader.
        world.host(leader).crash('process');
        cluster.start(leader);
        const joined = await world.waitFor(() => cluster.isOnline('i6'), 60_000, 100);
        const mine = world.logs.recent().filter((l) => l.host === 'i6').slice(-8);
        expect(joined, mine.map((l) => `${l.message} ${JSON.stringify(l.fields)}`).join('\n')).toBe(true);
      },
      { peers: ['i1:3301', 'i2:3301', 'i3:3301', 'i4:3301', 'i5:3301'] },
    );
  });
});
