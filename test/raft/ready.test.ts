/**
 * The Ready contract and the RawNode API. "Respond only after durability" (etcd's
 * async_storage_writes): every acknowledgement a Ready carries must be backed by state that the
 * same Ready (or an earlier one) asks the driver to persist first.
 */
import { describe, expect, it } from 'vitest';
import type { RaftMessage } from '../../core/raft/messages.ts';
import type { Ready } from '../../core/raft/raw-node.ts';
import type { MemoryStorage } from '../../core/raft/storage.ts';
import { asRaftId } from '../../core/raft/types.ts';
import { Network, TestNode, bytes, idx, msg, newStorage, term } from './harness.ts';

/** Checks that `message` only claims what `storage` (the durable state) already holds. */
export function checkBackedByDurableState(message: RaftMessage, storage: MemoryStorage): void {
  const hardState = storage.hardStateForTest();
  // A durable later term also binds: the node can never vote in the earlier term again.
  if (message.type === 'voteResponse' && !message.reject && hardState.term === message.term) {
    expect(hardState.vote).toBe(message.to);
  }
  if (message.type === 'voteResponse' || message.type === 'vote') {
    expect(hardState.term).toBeGreaterThanOrEqual(message.term);
  }
  if (message.type === 'appendResponse' && !message.reject && message.index > 0) {
    expect(storage.lastIndex()).toBeGreaterThanOrEqual(message.index);
  }
  if (message.type === 'vote' && hardState.term === message.term) {
    expect(hardState.vote).toBe(message.from);
  }
}

/** A driver that persists a Ready, then checks each message against durable state. */
function persistThenCheck(node: TestNode): RaftMessage[] {
  const out: RaftMessage[] = [];
  while (node.node.hasReady()) {
    const ready: Ready = node.node.ready();
    node.handleReady(ready);
    for (const message of ready.messages) checkBackedByDurableState(message, node.storage);
    out.push(...ready.messages);
  }
  return out;
}

describe('async_storage_writes: respond only after durability', () => {
  it('a vote grant travels in the same Ready as the hard state recording it', () => {
    const node = new TestNode(1, [1, 2, 3]);
    node.raft.step(msg('vote', { from: 2, to: 1, term: 5, lastIndex: idx(0), lastTerm: term(0) }));
    const ready = node.node.ready();
    expect(ready.hardState).toMatchObject({ term: 5, vote: 2 });
    expect(ready.mustSync).toBe(true);
    expect(ready.messages).toEqual([expect.objectContaining({ type: 'voteResponse', reject: false })]);
  });
  it('if the driver crashes before persisting, the unsent grant is not binding after restart', () => {
    const storage = newStorage([1, 2, 3]);
    const node = new TestNode(1, [1, 2, 3], { storage });
    node.raft.step(msg('vote', { from: 2, to: 1, term: 5 }));
    node.node.ready(); // crash: nothing persisted, nothing sent
    const restarted = new TestNode(1, [1, 2, 3], { storage });
    const out = restarted.stepAndDrain(msg('vote', { from: 3, to: 1, term: 5 }));
    expect(out).toEqual([expect.objectContaining({ type: 'voteResponse', to: 3, reject: false })]);
  });
  it('if the driver crashed after persisting, the vote binds the restarted node', () => {
    const storage = newStorage([1, 2, 3]);
    const node = new TestNode(1, [1, 2, 3], { storage });
    node.raft.step(msg('vote', { from: 2, to: 1, term: 5 }));
    const ready = node.node.ready();
    storage.setHardState(ready.hardState!); // persisted, then crashed before sending
    const restarted = new TestNode(1, [1, 2, 3], { storage });
    const out = restarted.stepAndDrain(msg('vote', { from: 3, to: 1, term: 5 }));
    expect(out).toEqual([expect.objectContaining({ type: 'voteResponse', to: 3, reject: true })]);
  });
  it('an append ack travels with the entries it acknowledges', () => {
    const node = new TestNode(2, [1, 2]);
    const entries = [{ index: idx(1), term: term(1), kind: 'normal' as const, data: bytes('x') }];
    node.raft.step(msg('append', { from: 1, to: 2, term: 1, entries, commit: idx(0) }));
    const ready = node.node.ready();
    expect(ready.entries).toEqual(entries);
    expect(ready.mustSync).toBe(true);
    expect(ready.messages).toEqual([expect.objectContaining({ type: 'appendResponse', index: 1, reject: false })]);
  });
  it('a whole cluster run never sends an ack ahead of its durable state', () => {
    const nodes = [1, 2, 3].map((n) => new TestNode(n, [1, 2, 3], { preVote: true }));
    const queue: RaftMessage[] = [];
    const deliverAll = (): void => {
      for (let steps = 0; queue.length > 0; steps++) {
        expect(steps).toBeLessThan(10_000);
        const message = queue.shift()!;
        const target = nodes[message.to - 1]!;
        target.raft.step(message);
        queue.push(...persistThenCheck(target));
      }
    };
    for (let round = 0; round < 200; round++) {
      for (const node of nodes) {
        node.node.tick();
        queue.push(...persistThenCheck(node));
      }
      if (round % 7 === 0) {
        const leader = nodes.find((n) => n.raft.state === 'Leader');
        leader?.node.propose(bytes(`p${round}`));
        if (leader) queue.push(...persistThenCheck(leader));
      }
      deliverAll();
    }
    const committed = nodes.map((n) => n.appliedData());
    expect(committed[0]!.length).toBeGreaterThan(20);
    expect(committed[1]).toEqual(committed[0]);
  });
  it('committed entries are never handed out before they were handed out for persisting', () => {
    const node = new TestNode(1, [1]);
    node.node.campaign();
    const persisted = new Set<number>();
    for (let i = 0; i < 5; i++) {
      node.node.propose(bytes(`x${i}`));
      const ready = node.node.ready();
      for (const entry of ready.entries) persisted.add(entry.index);
      for (const entry of ready.committedEntries) expect(persisted.has(entry.index)).toBe(true);
      node.handleReady(ready);
    }
  });
});

describe('maxCommittedSizePerReadyBytes', () => {
  it('splits a large backlog of committed entries over several Readies, in order', () => {
    const node = new TestNode(1, [1], { maxCommittedSizePerReadyBytes: 100 });
    node.node.campaign();
    node.drain();
    for (let i = 0; i < 10; i++) node.node.propose(bytes(`entry-${i}-${'x'.repeat(30)}`));
    const batches: number[] = [];
    while (node.node.hasReady()) {
      const ready = node.node.ready();
      if (ready.committedEntries.length > 0) batches.push(ready.committedEntries.length);
      node.handleReady(ready);
    }
    expect(batches.length).toBeGreaterThan(2);
    expect(batches.reduce((a, b) => a + b, 0)).toBe(10);
    expect(node.appliedData().map((d) => d.split('-')[1])).toEqual(['0', '1', '2', '3', '4', '5', '6', '7', '8', '9']);
  });
});

describe('RawNode API', () => {
  it('ready() twice without advance() is a bug', () => {
    const node = new TestNode(1, [1]);
    node.node.campaign();
    node.node.ready();
    expect(() => node.node.ready()).toThrow(/before advance/);
  });
  it('advance() without ready() is a bug', () => {
    const node = new TestNode(1, [1]);
    expect(() => node.node.advance()).toThrow(/without a ready/);
  });
  it('refuses local message types from the network', () => {
    const node = new TestNode(1, [1, 2]);
    expect(node.node.step(msg('hup', { from: 2, to: 1 }))).toEqual({ kind: 'step_local_message', type: 'hup' });
    expect(node.node.step(msg('beat', { from: 2, to: 1 }))).toEqual({ kind: 'step_local_message', type: 'beat' });
  });
  it('a leader refuses responses from unknown peers', () => {
    const node = new TestNode(1, [1]);
    node.node.campaign();
    node.drain();
    expect(node.node.step(msg('appendResponse', { from: 9, to: 1, term: 1 }))).toEqual({ kind: 'step_peer_not_found', from: 9 });
  });
  it('proposals without a leader are dropped with a typed error', () => {
    const node = new TestNode(1, [1, 2, 3]);
    expect(node.node.propose(bytes('x'))).toEqual({ kind: 'proposal_dropped', reason: 'no_leader' });
    node.node.campaign();
    expect(node.node.propose(bytes('x'))).toEqual({ kind: 'proposal_dropped', reason: 'campaigning' });
  });
  it('followers forward proposals to the leader, unless forwarding is disabled', () => {
    const network = new Network([undefined, undefined, undefined]);
    network.campaign(1);
    network.propose(2, 'forwarded');
    expect(network.node(3).appliedData()).toEqual(['forwarded']);
    const strict = new Network([undefined, undefined, undefined], { disableProposalForwarding: true });
    strict.campaign(1);
    expect(strict.node(2).node.propose(bytes('x'))).toEqual({ kind: 'proposal_dropped', reason: 'forwarding_disabled' });
  });
  it('status() reports what pico.raft_status() needs', () => {
    const network = new Network([undefined, undefined, undefined]);
    network.campaign(1);
    network.propose(1);
    const status = network.node(1).node.status();
    expect(status).toMatchObject({
      id: 1, term: 1, leaderId: 1, raftState: 'Leader', commit: 2, applied: 2, firstIndex: 1, lastIndex: 2,
      voters: [1, 2, 3], learners: [],
    });
    expect(status.progress!.get(asRaftId(2))).toMatchObject({ match: 2, next: 3, state: 'replicate' });
    const follower = network.node(2).node.status();
    expect(follower).toMatchObject({ raftState: 'Follower', leaderId: 1 });
    expect(follower.progress).toBeUndefined();
  });
  it('a restarted node resumes from storage and hard state alone', () => {
    const network = new Network([undefined, undefined, undefined]);
    network.campaign(1);
    for (let i = 0; i < 3; i++) network.propose(1, `v${i}`);
    const old = network.node(2);
    const restarted = new TestNode(2, [1, 2, 3], { storage: old.storage });
    expect(restarted.raft.term).toBe(1);
    expect(restarted.raft.log.lastIndex()).toBe(4);
    expect(restarted.raft.log.committed).toBe(old.storage.hardStateForTest().commit);
    expect(restarted.raft.log.committed).toBe(4);
    restarted.drain();
    expect(restarted.appliedData()).toEqual(['v0', 'v1', 'v2']);
  });
});
