/**
 * Admin guide 22.11 section 7: "the --advertise value is announced to the cluster when the
 * instance starts; it can be changed when the instance restarts". A restarted instance's Online
 * request carries its advertise address; the leader writes a changed one to the peer address
 * table through Raft before the grade change, and every instance (and the Raft transport) then
 * reaches it there.
 */

import { describe, expect, it } from 'vitest';
import type { SimCluster } from '../../scenarios/lib/cluster.ts';
import type { World } from '../../runtime-sim/world.ts';
import { TABLE_DEFS } from '../../core/cluster/tables.ts';
import { message, ok, promote, raftIdOf, simulate, startAll } from './helpers.ts';

async function terminate(world: World, name: string): Promise<void> {
  world.host(name).stop('SIGTERM');
  expect(await world.waitFor(() => !world.host(name).running, 10_000, 10)).toBe(true);
  expect(world.host(name).history.at(-1)).toEqual({ kind: 'exited', code: 0 });
}

async function advertised(cluster: SimCluster, on: string, of: string): Promise<unknown> {
  return ((await ok(cluster, on, 'pico.instance_info', [of]))[0] as { advertise_address: unknown }).advertise_address;
}

/** A DML through the leader is applied on `name` too: Raft reaches it at its address. */
async function casReaches(cluster: SimCluster, via: string, name: string, key: string): Promise<void> {
  const [index] = await ok(cluster, via, 'pico.cas', [{ kind: 'insert', space: '_picodata_property', tuple: [key, true] }]);
  await ok(cluster, name, 'pico.raft_wait_index', [index!, 5]);
  expect(cluster.node(name)!.tables.property(key)).toBe(true);
}

/** Counts the peer address writes each instance applies (set before the instances start). */
function countAddressWrites(cluster: SimCluster): Map<string, number> {
  const counts = new Map<string, number>();
  cluster.hooks = {
    applied: (node, entry) => {
      if (entry.op?.kind !== 'dml' || entry.op.dml.space !== TABLE_DEFS.peerAddress.name) return;
      const id = node.identity?.instanceId ?? '?';
      counts.set(id, (counts.get(id) ?? 0) + 1);
    },
  };
  return counts;
}

describe('admin guide 7: --advertise changes at restart', () => {
  it('2 voters: a follower restarted on another port is Online there, everywhere', async () => {
    await simulate(501, async (cluster, world) => {
      await startAll(cluster, ['i1', 'i2']);
      await promote(cluster, 'i1');
      expect([...cluster.node('i1')!.raft!.status().voters].sort()).toEqual([1, 2]);
      await terminate(world, 'i2');
      // With two voters nothing commits without i2: the leader must reach it at the new address
      // before the entry that records that address is committed.
      cluster.start('i2', { port: 3402 });
      expect(await cluster.waitOnline(['i2'])).toBe(true);
      for (const on of ['i1', 'i2']) expect(await advertised(cluster, on, 'i2')).toBe('i2:3402');
      expect(cluster.node('i1')!.tables.peerAddress(raftIdOf(cluster, 'i2'))).toBe('i2:3402');
      expect(cluster.node('i2')!.self()!.currentGrade).toEqual({ variant: 'Online', incarnation: 2 });
      await casReaches(cluster, 'i1', 'i2', 'after-move');
      expect(cluster.node('i1')!.isLeader()).toBe(true);
    });
  });

  it('3 instances: the old leader restarted on another port finds the new leader from its stored peers', async () => {
    await simulate(502, async (cluster, world) => {
      await startAll(cluster, ['i1', 'i2', 'i3']);
      await promote(cluster, 'i1');
      await terminate(world, 'i1');
      cluster.start('i1', { port: 3501 });
      expect(await cluster.waitOnline(['i1', 'i2', 'i3'])).toBe(true);
      for (const on of ['i1', 'i2', 'i3']) expect(await advertised(cluster, on, 'i1')).toBe('i1:3501');
      const leader = cluster.leaderName()!;
      expect(leader).not.toBe('i1');
      await casReaches(cluster, leader, 'i1', 'after-move');
      // The moved instance can lead too: every peer reaches it at the new address.
      await promote(cluster, 'i1');
      await casReaches(cluster, 'i1', 'i2', 'led-by-moved');
      await casReaches(cluster, 'i1', 'i3', 'led-by-moved-2');
    });
  });

  it('2 voters: the leader crashes and comes back on another port; they elect a leader and it is Online', async () => {
    await simulate(507, async (cluster, world) => {
      await startAll(cluster, ['i1', 'i2']);
      await promote(cluster, 'i1');
      world.host('i1').crash('process');
      cluster.start('i1', { port: 3801 });
      // No leader can be elected without both, and each knows the other only from its own log:
      // i2 answers i1's votes at the address i1's Raft messages come from.
      expect(await cluster.waitOnline(['i1', 'i2'])).toBe(true);
      for (const on of ['i1', 'i2']) expect(await advertised(cluster, on, 'i1')).toBe('i1:3801');
      await casReaches(cluster, cluster.leaderName()!, 'i1', 'after-leader-move');
      await casReaches(cluster, cluster.leaderName()!, 'i2', 'after-leader-move-2');
    });
  });

  it('a single instance restarted on another port records the new address', async () => {
    await simulate(503, async (cluster, world) => {
      await startAll(cluster, ['i1']);
      await terminate(world, 'i1');
      cluster.start('i1', { port: 3601 });
      expect(await cluster.waitOnline(['i1'])).toBe(true);
      expect(await advertised(cluster, 'i1', 'i1')).toBe('i1:3601');
      expect(cluster.node('i1')!.self()!.currentGrade).toEqual({ variant: 'Online', incarnation: 2 });
    });
  });

  it('a crash (no Offline first) and a restart on another port: still Online at the new address', async () => {
    await simulate(504, async (cluster, world) => {
      await startAll(cluster, ['i1', 'i2', 'i3']);
      await promote(cluster, 'i1');
      world.host('i3').crash('process');
      cluster.start('i3', { port: 3703 });
      expect(await cluster.waitOnline(['i3'])).toBe(true);
      for (const on of ['i1', 'i2', 'i3']) expect(await advertised(cluster, on, 'i3')).toBe('i3:3703');
      await casReaches(cluster, 'i1', 'i3', 'after-crash-move');
    });
  });

  it('a restart at the same address proposes no address change', async () => {
    await simulate(505, async (cluster, world) => {
      const writes = countAddressWrites(cluster);
      await startAll(cluster, ['i1', 'i2']);
      await promote(cluster, 'i1');
      expect(writes.get('i1')).toBe(2); // boot and join
      await terminate(world, 'i2');
      cluster.start('i2');
      expect(await cluster.waitOnline(['i2'])).toBe(true);
      await casReaches(cluster, 'i1', 'i2', 'same-address');
      expect(writes.get('i1')).toBe(2);
      expect(cluster.node('i2')!.self()!.currentGrade).toEqual({ variant: 'Online', incarnation: 2 });
    });
  });
});

describe('.proc_update_instance: advertise address validation', () => {
  const cases: ReadonlyArray<[unknown, string]> = [
    [42, 'advertise_address must be a string'],
    ['', 'invalid advertise address: empty'],
    ['nowhere', 'invalid advertise address "nowhere": no port'],
    [':3301', 'invalid advertise address ":3301": no host'],
    ['a:b:3301', 'invalid advertise address "a:b:3301": too many colons'],
    ['host:99999', 'invalid advertise address "host:99999": bad port "99999"'],
    ['host:0', 'invalid advertise address "host:0": bad port "0"'],
    ['host:port', 'invalid advertise address "host:port": bad port "port"'],
    ['host:', 'invalid advertise address "host:": bad port ""'],
  ];
  it('an instance finding another address recorded for itself announces --advertise again', async () => {
    await simulate(919, async (cluster, world) => {
      await startAll(cluster, ['i1', 'i2', 'i3']);
      const leader = cluster.leaderName()!;
      const victim = ['i1', 'i2', 'i3'].find((n) => n !== leader)!;
      const raftId = raftIdOf(cluster, victim);
      const own = cluster.node(victim)!.tables.peerAddress(raftId);
      // What a late request of a previous incarnation would leave: an address it no longer has.
      await cluster.node(leader)!.requireLeader().proposeAndWait({ kind: 'dml', dml: { op: 'replace', space: TABLE_DEFS.peerAddress.name, tuple: [raftId, 'gone:3301'] } }, 5_000);
      expect(cluster.node(leader)!.tables.peerAddress(raftId)).toBe('gone:3301');
      const restored = await world.waitFor(() => ['i1', 'i2', 'i3'].every((n) => cluster.node(n)!.tables.peerAddress(raftId) === own), 10_000, 50);
      expect(restored).toBe(true);
      expect(await advertised(cluster, leader, victim)).toBe(own);
    });
  });

  it('refuses a malformed address on any instance, before anything else', async () => {
    await simulate(506, async (cluster) => {
      await startAll(cluster, ['i1', 'i2']);
      await promote(cluster, 'i1');
      for (const on of ['i1', 'i2']) {
        for (const [address, error] of cases) {
          expect(message(await cluster.call(on, '.proc_update_instance', ['demo', 'i2', 'Online', null, address as never]))).toBe(error);
        }
      }
      // Cluster id, unknown and expelled instances keep their own texts.
      expect(message(await cluster.call('i1', '.proc_update_instance', ['other', 'i2', 'Online', null, 'i2:3301']))).toBe(
        'cluster_id mismatch: cluster_id of the instance = "other", cluster_id of the cluster = "demo"',
      );
      expect(message(await cluster.call('i1', '.proc_update_instance', ['demo', 'i9', 'Online', null, 'i9:3301']))).toBe('unknown instance i9');
      // A follower redirects to the leader, as for any other update.
      expect(message(await cluster.call('i2', '.proc_update_instance', ['demo', 'i2', 'Online', null, 'i2:3301']))).toBe(
        `ok ${JSON.stringify([{ ErrNotALeader: { raft_id: 1, address: 'i1:3301' } }])}`,
      );
      // An unchanged address, sent again and again, changes nothing but the grade.
      const before = cluster.node('i1')!.tables.peerAddresses();
      for (let i = 0; i < 3; i++) expect(message(await cluster.call('i1', '.proc_update_instance', ['demo', 'i2', 'Online', null, 'i2:3301']))).toBe('ok [{"Ok":{}}]');
      expect(cluster.node('i1')!.tables.peerAddresses()).toEqual(before);
    });
  });
});
