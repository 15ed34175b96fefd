import { describe, expect, it } from 'vitest';
import type { MpValue } from '../../core/codec/msgpack.ts';
import { ok, raftIdOf, simulate, startAll, message } from './helpers.ts';

const INTERACT = '.proc_raft_interact';
const PEER_ADDRESS = '.proc_peer_address';

describe('.proc_raft_interact sender addresses', () => {
  it('a message of an older term does not redirect a peer; the recorded address clears an announced one', async () => {
    await simulate(611, async (cluster, world) => {
      await startAll(cluster, ['i1', 'i2', 'i3']);
      await world.waitFor(() => cluster.leaderName() !== undefined, 5_000);
      const leader = cluster.leaderName()!;
      const follower = ['i1', 'i2', 'i3'].find((n) => n !== leader)!;
      const node = cluster.node(follower)!;
      const leaderId = raftIdOf(cluster, leader);
      const recorded = node.tables.peerAddress(leaderId)!;
      const term = node.raft!.term;
      const voteResponse = (t: number): MpValue[] => ['voteResponse', leaderId, raftIdOf(cluster, follower), t, true];

      // A late message from an earlier term (a dead incarnation) keeps the recorded address.
      await ok(cluster, follower, INTERACT, ['stale:1', [voteResponse(term - 1)]]);
      expect(node.peerAddress(leaderId)).toBe(recorded);

      // A current-term message from another address: the peer restarted there.
      await ok(cluster, follower, INTERACT, ['moved:3301', [voteResponse(term)]]);
      expect(node.peerAddress(leaderId)).toBe('moved:3301');
      // Its next message from the recorded address: back where the table says.
      await ok(cluster, follower, INTERACT, [recorded, [voteResponse(term)]]);
      expect(node.peerAddress(leaderId)).toBe(recorded);

      // A from address that is no address is refused before anything is stepped.
      expect(message(await cluster.call(follower, INTERACT, ['', [voteResponse(term)]]))).toContain('invalid from address: empty');
      expect(message(await cluster.call(follower, INTERACT, ['nohost', [voteResponse(term)]]))).toContain('invalid from address "nohost": no port');
    });
  });
});

describe('.proc_peer_address', () => {
  it('points a peer at the address an instance says it moved to, until its recorded one is back', async () => {
    await simulate(612, async (cluster, world) => {
      await startAll(cluster, ['i1', 'i2', 'i3']);
      await world.waitFor(() => cluster.leaderName() !== undefined, 5_000);
      const node = cluster.node('i1')!;
      const movedId = raftIdOf(cluster, 'i2');
      const recorded = node.tables.peerAddress(movedId)!;

      await ok(cluster, 'i1', PEER_ADDRESS, [movedId, 'i2:3302']);
      expect(node.peerAddress(movedId)).toBe('i2:3302');
      await ok(cluster, 'i1', PEER_ADDRESS, [movedId, recorded]);
      expect(node.peerAddress(movedId)).toBe(recorded);

      // About itself, an instance trusts its own --advertise.
      const ownId = raftIdOf(cluster, 'i1');
      await ok(cluster, 'i1', PEER_ADDRESS, [ownId, 'elsewhere:1']);
      expect(node.peerAddress(ownId)).toBe(node.tables.peerAddress(ownId));

      expect(message(await cluster.call('i1', PEER_ADDRESS, [0, 'i2:3302']))).toContain('raft_id must not be 0');
      expect(message(await cluster.call('i1', PEER_ADDRESS, [movedId, 'nohost']))).toContain('invalid peer address "nohost": no port');
      expect(node.peerAddress(movedId)).toBe(recorded);
    });
  });
});
