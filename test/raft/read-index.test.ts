/**
 * ReadIndex (thesis §6.4), mirroring etcd-io/raft's TestReadOnlyOption*, TestReadOnlyForNewLeader
 * and friends.
 */
import { describe, expect, it } from 'vitest';
import { Network, TestNode, bytes, id, idx, msg, term } from './harness.ts';

function readIndex(network: Network, nodeId: number, context: string): void {
  network.send(msg('readIndex', { from: nodeId, to: nodeId, context: bytes(context) }));
}

for (const option of ['safe', 'leaseBased'] as const) {
  describe(`TestReadOnlyOption${option === 'safe' ? 'Safe' : 'Lease'}`, () => {
    it('every node gets the leader commit index at the time of the request', () => {
      const network = new Network([undefined, undefined, undefined], { readOnlyOption: option, checkQuorum: true });
      const b = network.raft(2);
      // Let node 2's lease lapse so it would grant node 1's vote.
      b.randomizedElectionTicks = b.config.electionTicks + 1;
      for (let i = 0; i < b.config.electionTicks; i++) b.tick();
      network.campaign(1);
      expect(network.raft(1).state).toBe('Leader');
      const cases = [[1, 11], [2, 21], [3, 31], [1, 41], [2, 51], [3, 61]] as const;
      cases.forEach(([nodeId, wantIndex], i) => {
        for (let p = 0; p < 10; p++) network.propose(1);
        const node = network.node(nodeId);
        node.readStates = [];
        readIndex(network, nodeId, `ctx${i}`);
        expect(node.readStates).toHaveLength(1);
        expect(node.readStates[0]!.index).toBe(wantIndex);
        expect(node.readStates[0]!.context).toEqual(bytes(`ctx${i}`));
      });
    });
  });
}

describe('TestReadOnlyOptionSafe: needs a heartbeat quorum', () => {
  it('no answer while the followers do not acknowledge the heartbeat', () => {
    const network = new Network([undefined, undefined, undefined]);
    network.campaign(1);
    network.ignore('heartbeatResponse');
    readIndex(network, 1, 'ctx');
    expect(network.node(1).readStates).toEqual([]);
    network.recover();
    network.send(msg('beat', { from: 1, to: 1 })); // heartbeats carry the pending context
    expect(network.node(1).readStates).toHaveLength(1);
  });
  it('lease-based reads require check-quorum (a config error)', () => {
    expect(() => new TestNode(1, [1], { readOnlyOption: 'leaseBased', checkQuorum: false })).toThrow(/checkQuorum/);
  });
});

describe('TestReadOnlyForNewLeader', () => {
  it('a new leader defers reads until it commits an entry of its own term', () => {
    const peers = [1, 2, 3];
    const nodes = [
      { id: 1, committed: 1 },
      { id: 2, committed: 2 },
      { id: 3, committed: 2 },
    ].map((c) => {
      const node = new TestNode(c.id, peers);
      node.storage.append([
        { index: idx(1), term: term(1), kind: 'normal', data: new Uint8Array(0) },
        { index: idx(2), term: term(1), kind: 'normal', data: new Uint8Array(0) },
      ]);
      node.storage.setHardState({ term: term(1), vote: id(0), commit: idx(c.committed) });
      return new TestNode(c.id, peers, { storage: node.storage, appliedIndex: idx(c.committed) });
    });
    const network = new Network(nodes);
    network.ignore('append'); // the new leader can't commit in its term
    network.campaign(1);
    const leader = network.node(1);
    expect(leader.raft.state).toBe('Leader');
    readIndex(network, 1, 'ctx');
    expect(leader.readStates).toEqual([]);
    network.recover();
    for (let i = 0; i < leader.raft.config.heartbeatTicks; i++) leader.raft.tick();
    network.propose(1, '');
    expect(leader.raft.log.committed).toBe(4);
    expect(leader.raft.log.termOrZero(idx(4))).toBe(leader.raft.term);
    expect(leader.readStates.map((r) => r.index)).toEqual([4]);
    readIndex(network, 1, 'ctx');
    expect(leader.readStates.map((r) => r.index)).toEqual([4, 4]);
  });
});

describe('TestReadOnlyDuplicateRequest', () => {
  it('requests with the same context coalesce into one read state', () => {
    const network = new Network([undefined, undefined, undefined]);
    network.campaign(1);
    network.ignore('heartbeatResponse');
    readIndex(network, 1, 'same');
    readIndex(network, 1, 'same');
    expect(network.raft(1).readOnly.pendingCount).toBe(1);
    network.recover();
    network.send(msg('beat', { from: 1, to: 1 }));
    expect(network.node(1).readStates).toHaveLength(1);
  });
  it('answering a later request answers every earlier one', () => {
    const network = new Network([undefined, undefined, undefined]);
    network.campaign(1);
    network.ignore('heartbeatResponse');
    readIndex(network, 1, 'a');
    readIndex(network, 1, 'b');
    network.recover();
    network.send(msg('heartbeatResponse', { from: 2, to: 1, term: 1, context: bytes('b') }));
    expect(network.node(1).readStates.map((r) => new TextDecoder().decode(r.context))).toEqual(['a', 'b']);
  });
});

describe('ReadIndex without a leader', () => {
  it('a follower that knows no leader drops the request', () => {
    const node = new TestNode(1, [1, 2, 3]);
    expect(node.node.readIndex(bytes('x'))).toEqual({ kind: 'proposal_dropped', reason: 'no_leader' });
  });
  it('a single-node leader answers at once', () => {
    const node = new TestNode(1, [1]);
    node.node.campaign();
    node.drain();
    expect(node.node.readIndex(bytes('x'))).toBeUndefined();
    node.drain();
    expect(node.readStates.map((r) => r.index)).toEqual([1]);
  });
});
