/**
 * Leader election scenarios (Raft §5.2, thesis §9.6 pre-vote, §6.2 check-quorum), mirroring
 * etcd-io/raft's tests of the same names.
 */
import { describe, expect, it } from 'vitest';
import {
  Network,
  TestNode,
  type NetworkPeer,
  entriesWithTerms,
  id,
  idx,
  logTerms,
  msg,
  newStorage,
  nodeWithLog,
  nodeWithVote,
  term,
} from './harness.ts';

describe('TestLeaderElection (+PreVote)', () => {
  for (const preVote of [false, true]) {
    const candidateState = preVote ? 'PreCandidate' : 'Candidate';
    const candidateTerm = preVote ? 0 : 1;
    const cases: { name: string; peers: NetworkPeer[]; state: string; term: number }[] = [
      { name: '3 live of 3', peers: [undefined, undefined, undefined], state: 'Leader', term: 1 },
      { name: '2 live of 3', peers: [undefined, undefined, 'blackhole'], state: 'Leader', term: 1 },
      { name: '1 live of 3', peers: [undefined, 'blackhole', 'blackhole'], state: candidateState, term: candidateTerm },
      { name: '2 live of 4', peers: [undefined, 'blackhole', 'blackhole', undefined], state: candidateState, term: candidateTerm },
      { name: '3 live of 5', peers: [undefined, 'blackhole', 'blackhole', undefined, undefined], state: 'Leader', term: 1 },
    ];
    for (const c of cases) {
      it(`preVote=${preVote}: ${c.name} -> ${c.state} at term ${c.term}`, () => {
        const network = new Network(c.peers, { preVote });
        network.campaign(1);
        expect(network.raft(1).state).toBe(c.state);
        expect(network.raft(1).term).toBe(c.term);
      });
    }
    it(`preVote=${preVote}: a node whose log is behind cannot win`, () => {
      // Nodes 2 and 3 have an entry at term 1; node 1 has none, so they refuse it (§5.4.1).
      const peers = [1, 2, 3];
      const network = new Network([
        new TestNode(1, peers, { preVote }),
        nodeWithLog(2, peers, [1], { preVote }),
        nodeWithLog(3, peers, [1], { preVote }),
      ]);
      network.campaign(1);
      expect(network.raft(1).state).toBe('Follower');
    });
  }
});

describe('TestDuelingCandidates', () => {
  it('a healed stale candidate deposes the leader but cannot win', () => {
    const network = new Network([undefined, undefined, undefined]);
    network.cut(1, 3);
    network.campaign(1);
    network.campaign(3);
    // 1 wins with 2's vote; 3 stays a candidate at term 1.
    expect(network.raft(1).state).toBe('Leader');
    expect(network.raft(3).state).toBe('Candidate');
    network.recover();
    // 3 campaigns at term 2; its log (empty) is behind, so nobody grants, but everyone moves to term 2.
    network.campaign(3);
    const expected = [
      { node: 1, state: 'Follower', lastIndex: 1 },
      { node: 2, state: 'Follower', lastIndex: 1 },
      { node: 3, state: 'Follower', lastIndex: 0 },
    ];
    for (const e of expected) {
      expect(network.raft(e.node).state).toBe(e.state);
      expect(network.raft(e.node).term).toBe(2);
      expect(network.raft(e.node).log.lastIndex()).toBe(e.lastIndex);
    }
  });
});

describe('TestDuelingPreCandidates', () => {
  it('with pre-vote the stale node cannot disrupt: the leader keeps term 1', () => {
    const network = new Network([undefined, undefined, undefined], { preVote: true });
    network.cut(1, 3);
    network.campaign(1);
    network.campaign(3);
    expect(network.raft(1).state).toBe('Leader');
    expect(network.raft(3).state).toBe('Follower');
    network.recover();
    // 3's pre-vote is refused (its log is behind) and no one bumps the term.
    network.campaign(3);
    expect(network.raft(1).state).toBe('Leader');
    expect(network.raft(2).state).toBe('Follower');
    expect(network.raft(3).state).toBe('Follower');
    for (const n of [1, 2, 3]) expect(network.raft(n).term).toBe(1);
    // No heartbeat has reached 3 since the cut healed.
    expect(network.raft(3).log.lastIndex()).toBe(0);
  });
});

describe('TestLeaderElectionInOneRoundRPC (§5.2)', () => {
  const cases: { size: number; votes: Record<number, boolean>; state: string }[] = [
    { size: 1, votes: {}, state: 'Leader' },
    { size: 3, votes: { 2: true, 3: true }, state: 'Leader' },
    { size: 3, votes: { 2: true }, state: 'Leader' },
    { size: 5, votes: { 2: true, 3: true, 4: true, 5: true }, state: 'Leader' },
    { size: 5, votes: { 2: true, 3: true, 4: true }, state: 'Leader' },
    { size: 5, votes: { 2: true, 3: true }, state: 'Leader' },
    { size: 3, votes: { 2: false, 3: false }, state: 'Follower' },
    { size: 5, votes: { 2: false, 3: false, 4: false, 5: false }, state: 'Follower' },
    { size: 5, votes: { 2: true, 3: false, 4: false, 5: false }, state: 'Follower' },
    { size: 3, votes: {}, state: 'Candidate' },
    { size: 5, votes: { 2: true }, state: 'Candidate' },
    { size: 5, votes: { 2: false, 3: false }, state: 'Candidate' },
    { size: 5, votes: {}, state: 'Candidate' },
  ];
  for (const c of cases) {
    it(`${c.size} nodes, votes ${JSON.stringify(c.votes)} -> ${c.state}`, () => {
      const peers = Array.from({ length: c.size }, (_, i) => i + 1);
      const node = new TestNode(1, peers);
      node.stepAndDrain(msg('hup', { from: 1, to: 1 }));
      for (const [voter, granted] of Object.entries(c.votes)) {
        node.stepAndDrain(msg('voteResponse', { from: Number(voter), to: 1, term: 1, reject: !granted }));
      }
      expect(node.raft.state).toBe(c.state);
      expect(node.raft.term).toBe(1);
    });
  }
});

describe('TestFollowerVote (§5.2: at most one vote per term, first come first served)', () => {
  const cases = [
    { vote: 0, candidate: 2, reject: false },
    { vote: 0, candidate: 3, reject: false },
    { vote: 2, candidate: 2, reject: false },
    { vote: 3, candidate: 3, reject: false },
    { vote: 2, candidate: 3, reject: true },
    { vote: 3, candidate: 2, reject: true },
  ];
  for (const c of cases) {
    it(`voted ${c.vote}, request from ${c.candidate} -> reject=${c.reject}`, () => {
      const node = nodeWithVote(1, [1, 2, 3], c.vote, 1);
      const out = node.stepAndDrain(msg('vote', { from: c.candidate, to: 1, term: 1 }));
      expect(out).toEqual([expect.objectContaining({ type: 'voteResponse', from: 1, to: c.candidate, term: 1, reject: c.reject })]);
      // The vote is durable before the response exists.
      if (!c.reject) expect(node.storage.hardStateForTest().vote).toBe(c.candidate);
    });
  }
});

describe('TestVoter (§5.4.1: refuse a candidate whose log is less up to date)', () => {
  const cases = [
    // Same log shape.
    { ours: [1], lastTerm: 1, lastIndex: 1, reject: false },
    { ours: [1], lastTerm: 1, lastIndex: 2, reject: false },
    { ours: [1, 1], lastTerm: 1, lastIndex: 1, reject: true },
    // Candidate has a higher last term.
    { ours: [1], lastTerm: 2, lastIndex: 1, reject: false },
    { ours: [1, 1], lastTerm: 2, lastIndex: 1, reject: false },
    { ours: [1, 2], lastTerm: 1, lastIndex: 2, reject: true },
    // Candidate has a lower last term.
    { ours: [2], lastTerm: 1, lastIndex: 1, reject: true },
    { ours: [2], lastTerm: 1, lastIndex: 2, reject: true },
    { ours: [1, 2], lastTerm: 1, lastIndex: 1, reject: true },
  ];
  for (const c of cases) {
    it(`our log ${JSON.stringify(c.ours)}, candidate last (${c.lastIndex}, t${c.lastTerm}) -> reject=${c.reject}`, () => {
      const storage = newStorage([1, 2]);
      storage.append(entriesWithTerms(c.ours));
      const node = new TestNode(1, [1, 2], { storage });
      const out = node.stepAndDrain(msg('vote', { from: 2, to: 1, term: 3, lastTerm: term(c.lastTerm), lastIndex: idx(c.lastIndex) }));
      expect(out).toHaveLength(1);
      expect(out[0]).toMatchObject({ type: 'voteResponse', reject: c.reject });
    });
  }
});

describe('TestLeaderStepdownWhenQuorumActive / TestLeaderStepdownWhenQuorumLost (thesis §6.2)', () => {
  it('stays leader while a quorum keeps answering', () => {
    const node = new TestNode(1, [1, 2, 3], { checkQuorum: true });
    node.raft.becomeCandidate();
    node.raft.becomeLeader();
    for (let i = 0; i < node.raft.config.electionTicks + 1; i++) {
      node.stepAndDrain(msg('heartbeatResponse', { from: 2, to: 1, term: node.raft.term }));
      node.node.tick();
    }
    expect(node.raft.state).toBe('Leader');
  });
  it('steps down after an election timeout without responses', () => {
    const node = new TestNode(1, [1, 2, 3], { checkQuorum: true });
    node.raft.becomeCandidate();
    node.raft.becomeLeader();
    for (let i = 0; i < node.raft.config.electionTicks + 1; i++) node.node.tick();
    expect(node.raft.state).toBe('Follower');
  });
});

/** Elects node 1, then lets node 3's election timer run out while it is partitioned. */
function tickUntilTimeout(network: Network, nodeId: number): void {
  const raft = network.raft(nodeId);
  raft.randomizedElectionTicks = raft.config.electionTicks + 1;
  for (let i = 0; i < raft.randomizedElectionTicks; i++) raft.tick();
  network.send(...network.filter(network.node(nodeId).drain()));
}

describe('TestLeaderSupersedingWithCheckQuorum', () => {
  it('votes are ignored inside the leader lease; the candidate wins once the lease expires', () => {
    const network = new Network([undefined, undefined, undefined], { checkQuorum: true });
    const [a, b, c] = [network.raft(1), network.raft(2), network.raft(3)];
    b.randomizedElectionTicks = b.config.electionTicks + 1;
    for (let i = 0; i < b.config.electionTicks; i++) b.tick();
    network.campaign(1);
    expect(a.state).toBe('Leader');
    expect(c.state).toBe('Follower');
    network.campaign(3);
    // 2 has heard from the leader recently and ignores 3's request.
    expect(c.state).toBe('Candidate');
    // Let 2's lease expire; 3 can now win.
    for (let i = 0; i < b.config.electionTicks; i++) b.tick();
    network.send(...network.filter(network.node(2).drain()));
    network.campaign(3);
    expect(c.state).toBe('Leader');
  });
});

describe('TestFreeStuckCandidateWithCheckQuorum', () => {
  it('a candidate stuck at a higher term is freed when the leader learns that term', () => {
    const network = new Network([undefined, undefined, undefined], { checkQuorum: true });
    const [a, b, c] = [network.raft(1), network.raft(2), network.raft(3)];
    b.randomizedElectionTicks = b.config.electionTicks + 1;
    for (let i = 0; i < b.config.electionTicks; i++) b.tick();
    network.campaign(1);
    network.isolate(1);
    network.campaign(3);
    expect(b.state).toBe('Follower');
    expect(c.state).toBe('Candidate');
    expect(c.term).toBe(b.term + 1);
    // Again: 3 keeps bumping its term while 2 stays loyal (lease).
    network.campaign(3);
    expect(c.term).toBe(b.term + 2);
    network.recover();
    // The leader's heartbeat reaches 3; 3 answers with its higher term, which deposes 1 ...
    network.send(msg('beat', { from: 1, to: 1 }));
    expect(a.state).toBe('Follower');
    expect(c.term).toBe(a.term);
    // ... and a new election can now complete.
    network.campaign(3);
    expect(c.state).toBe('Leader');
  });
});

describe('TestDisruptiveFollower (+PreVote)', () => {
  for (const preVote of [false, true]) {
    it(`preVote=${preVote}: an isolated follower ${preVote ? 'cannot' : 'does'} depose the leader`, () => {
      const network = new Network([undefined, undefined, undefined], { checkQuorum: true, preVote });
      const [a, , c] = [network.raft(1), network.raft(2), network.raft(3)];
      network.campaign(1);
      expect(a.state).toBe('Leader');
      // Node 3's heartbeats are lost; its election timer fires.
      network.cut(1, 3);
      tickUntilTimeout(network, 3);
      expect(c.state).toBe(preVote ? 'PreCandidate' : 'Candidate');
      network.recover();
      // The leader's heartbeat at term 1 meets node 3.
      network.send(msg('heartbeat', { from: 1, to: 3, term: a.term }));
      if (preVote) {
        expect(a.state).toBe('Leader');
        expect(a.term).toBe(1);
      } else {
        // 3's answer carries term 2 and deposes 1 (this is what pre-vote prevents).
        expect(a.state).toBe('Follower');
        expect(a.term).toBe(2);
      }
    });
  }
});

describe('TestPreVoteWithSplitVote', () => {
  it('after a split vote at term 2 the election still completes at term 3', () => {
    const network = new Network([undefined, undefined, undefined], { preVote: true });
    network.campaign(1);
    // The leader goes away; 2 and 3 time out together, grant each other's pre-votes, and then
    // each votes for itself at term 2: a split vote.
    network.isolate(1);
    network.send(msg('hup', { from: 2, to: 2 }), msg('hup', { from: 3, to: 3 }));
    expect(network.raft(2).term).toBe(2);
    expect(network.raft(3).term).toBe(2);
    expect(network.raft(2).state).toBe('Candidate');
    expect(network.raft(3).state).toBe('Candidate');
    // 2 times out first; a candidate at term 2 grants the pre-vote for term 3.
    network.campaign(2);
    expect(network.raft(2).term).toBe(3);
    expect(network.raft(3).term).toBe(3);
    expect(network.raft(2).state).toBe('Leader');
    expect(network.raft(3).state).toBe('Follower');
  });
});

describe('TestNodeWithSmallerTermCanCompleteElection / TestPreVoteMigrationCanCompleteElection', () => {
  it('a partitioned pre-candidate at a smaller term does not block the election', () => {
    const network = new Network([undefined, undefined, undefined], { preVote: true });
    network.cut(1, 3);
    network.cut(2, 3);
    network.campaign(1);
    expect(network.raft(1).state).toBe('Leader');
    expect(network.raft(3).state).toBe('Follower');
    network.campaign(3);
    expect(network.raft(3).state).toBe('PreCandidate');
    network.campaign(2);
    expect(network.raft(2).state).toBe('Leader');
    expect(network.raft(2).term).toBe(2);
    // Heal: 3 is behind (term 1, stale log) and gets no pre-votes, but elections still work.
    network.recover();
    network.isolate(2);
    network.campaign(3);
    expect(network.raft(3).state).not.toBe('Leader');
    network.campaign(1);
    expect(network.raft(1).state).toBe('Leader');
    expect(network.raft(1).term).toBe(3);
  });
  it('TestPreVoteMigrationCanCompleteElection: a node restarted with pre-vote (rolling upgrade) does not block elections', () => {
    const peers = [1, 2, 3];
    // n3 runs without pre-vote at first, as in a cluster half-way through a rolling restart.
    const n3Storage = newStorage(peers);
    const network = new Network([
      new TestNode(1, peers, { preVote: true }),
      new TestNode(2, peers, { preVote: true }),
      new TestNode(3, peers, { preVote: false, storage: n3Storage }),
    ]);
    network.campaign(1);
    network.isolate(3);
    network.propose(1, 'some data');
    network.campaign(3);
    network.campaign(3);
    expect(network.raft(1).state).toBe('Leader');
    expect(network.raft(3).state).toBe('Candidate');
    expect(network.raft(3).term).toBe(3); // bumped its term twice, alone
    // n3 restarts with pre-vote enabled; its term and vote survive in storage.
    network.peers.set(id(3), new TestNode(3, peers, { preVote: true, storage: n3Storage }));
    expect(network.raft(3).term).toBe(3);
    network.recover();
    // The leader goes down; both remaining nodes time out.
    network.isolate(1);
    network.campaign(3);
    network.campaign(2);
    expect(network.raft(3).state).not.toBe('Leader'); // its log is behind: no pre-votes
    network.campaign(3);
    network.campaign(2);
    expect(network.raft(2).state).toBe('Leader');
  });
  it('a lagging node gets no pre-votes (its log is behind)', () => {
    const peers = [1, 2, 3];
    const network = new Network([
      nodeWithLog(1, peers, [1, 1, 2], { preVote: true }),
      nodeWithLog(2, peers, [1, 1, 2], { preVote: true }),
      nodeWithLog(3, peers, [1], { preVote: true }),
    ]);
    network.campaign(3);
    expect(network.raft(3).state).toBe('Follower');
    for (const n of peers) expect(network.raft(n).term).toBe(2);
    network.campaign(1);
    expect(network.raft(1).state).toBe('Leader');
    expect(logTerms(network.node(3))).toEqual([1, 1, 2, 3]);
  });
});

describe('test_election_with_priority_log (raft-rs)', () => {
  // [node 1 has the longer log, priorities p1 p2 p3, campaigner, expected state]
  const cases: [boolean, number, number, number, number, string][] = [
    [false, 3, 1, 1, 1, 'Leader'],
    [false, 2, 2, 2, 1, 'Leader'],
    [false, 1, 3, 3, 1, 'Follower'],
    [true, 1, 3, 3, 1, 'Leader'],
    [false, 1, 3, 3, 3, 'Leader'],
    [false, 2, 1, 3, 2, 'Follower'],
  ];
  for (const [longer, p1, p2, p3, campaigner, state] of cases) {
    it(`longer=${longer} priorities ${p1},${p2},${p3}: node ${campaigner} -> ${state}`, () => {
      const peers = [1, 2, 3];
      const priorities = [p1, p2, p3];
      const nodes = peers.map((n) =>
        nodeWithLog(n, peers, n === 1 && longer ? [1, 1] : [1], { priority: priorities[n - 1]! }));
      const network = new Network(nodes);
      network.campaign(campaigner);
      expect(network.raft(campaigner).state).toBe(state);
    });
  }
});

describe('randomized election timeout', () => {
  it('is drawn from [electionTicks, 2 * electionTicks)', () => {
    const node = new TestNode(1, [1, 2, 3], { electionTicks: 10 });
    const seen = new Set<number>();
    for (let i = 0; i < 200; i++) {
      node.raft.becomeFollower(term(node.raft.term + 1), id(0));
      seen.add(node.raft.randomizedElectionTicks);
    }
    for (const ticks of seen) expect(ticks >= 10 && ticks < 20).toBe(true);
    expect(seen.size).toBeGreaterThan(5);
  });
  it('a follower campaigns only once its randomized timeout has passed', () => {
    const node = new TestNode(1, [1, 2, 3]);
    const timeout = node.raft.randomizedElectionTicks;
    for (let i = 0; i < timeout - 1; i++) node.node.tick();
    expect(node.raft.state).toBe('Follower');
    node.node.tick();
    expect(node.raft.state).toBe('Candidate');
  });
});
