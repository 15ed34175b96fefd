/**
 * Leader transfer (thesis §3.10) and learners (non-voting members), mirroring etcd-io/raft's
 * TestLeaderTransfer* and TestLearner* tests.
 */
import { describe, expect, it } from 'vitest';
import type { Raft } from '../../core/raft/raft.ts';
import type { Entry } from '../../core/raft/types.ts';
import { Network, TestNode, bytes, id, idx, msg, term } from './harness.ts';

function expectTransferDone(raft: Raft, state: string, leader: number): void {
  expect(raft.state).toBe(state);
  expect(raft.lead).toBe(leader);
  expect(raft.leadTransferee).toBe(0);
}

function transfer(network: Network, leader: number, transferee: number): void {
  network.send(msg('transferLeader', { from: transferee, to: leader, transferee: id(transferee) }));
}

function elected(): Network {
  const network = new Network([undefined, undefined, undefined]);
  network.campaign(1);
  expect(network.raft(1).state).toBe('Leader');
  return network;
}

describe('TestLeaderTransfer*', () => {
  it('ToUpToDateNode: hands over at once, and back again after more replication', () => {
    const network = elected();
    transfer(network, 1, 2);
    expectTransferDone(network.raft(1), 'Follower', 2);
    network.propose(2);
    transfer(network, 2, 1);
    expectTransferDone(network.raft(1), 'Leader', 1);
  });
  it('ToUpToDateNode from a follower: the request is forwarded to the leader', () => {
    const network = elected();
    network.send(msg('transferLeader', { from: 2, to: 2, transferee: id(2) }));
    expectTransferDone(network.raft(1), 'Follower', 2);
  });
  it('ToSlowFollower: catches the transferee up first', () => {
    const network = elected();
    network.isolate(3);
    network.propose(1);
    network.recover();
    expect(network.raft(1).tracker.get(id(3))!.match).toBe(1);
    transfer(network, 1, 3);
    expectTransferDone(network.raft(1), 'Follower', 3);
  });
  it('AfterSnapshot: catches the transferee up through a snapshot first', () => {
    const network = elected();
    network.isolate(3);
    network.propose(1);
    const leader = network.node(1);
    expect(leader.node.createSnapshot(bytes('state'))).toMatchObject({ index: 2 });
    expect(leader.node.compact(idx(2))).toBeUndefined();
    network.recover();
    expect(leader.raft.tracker.get(id(3))!.match).toBe(1);
    let snapshots = 0;
    network.messageHook = (m) => {
      if (m.type === 'snapshot') snapshots++;
      return true;
    };
    transfer(network, 1, 3);
    expect(snapshots).toBe(1);
    expectTransferDone(network.raft(1), 'Follower', 3);
    expect(network.node(3).storage.snapshot()).toMatchObject({ ok: true, value: { index: 2 } });
  });
  it('Timeout: abandoned after an election timeout', () => {
    const network = elected();
    network.isolate(3);
    const leader = network.raft(1);
    transfer(network, 1, 3);
    expect(leader.leadTransferee).toBe(3);
    for (let i = 0; i < leader.config.heartbeatTicks; i++) leader.tick();
    expect(leader.leadTransferee).toBe(3);
    for (let i = 0; i < leader.config.electionTicks - leader.config.heartbeatTicks; i++) leader.tick();
    expectTransferDone(leader, 'Leader', 1);
  });
  it('IgnoreProposal: proposals are dropped while a transfer runs', () => {
    const network = elected();
    network.isolate(3);
    transfer(network, 1, 3);
    network.propose(1);
    const entry: Entry = { index: idx(0), term: term(0), kind: 'normal', data: bytes('x') };
    expect(network.raft(1).step(msg('propose', { from: 1, to: 1, entries: [entry] })))
      .toEqual({ kind: 'proposal_dropped', reason: 'leader_transfer_in_progress' });
    expect(network.raft(1).tracker.get(id(1))!.match).toBe(1);
  });
  it('ToSelf: a no-op', () => {
    const network = elected();
    transfer(network, 1, 1);
    expectTransferDone(network.raft(1), 'Leader', 1);
  });
  it('ToNonExistingNode: a no-op', () => {
    const network = elected();
    transfer(network, 1, 4);
    expectTransferDone(network.raft(1), 'Leader', 1);
  });
  it('SecondTransferToSameNode: a repeated request does not extend the timeout', () => {
    const network = elected();
    network.isolate(3);
    const leader = network.raft(1);
    transfer(network, 1, 3);
    for (let i = 0; i < leader.config.heartbeatTicks; i++) leader.tick();
    transfer(network, 1, 3);
    for (let i = 0; i < leader.config.electionTicks - leader.config.heartbeatTicks; i++) leader.tick();
    expectTransferDone(leader, 'Leader', 1);
  });
  it('to a learner: refused', () => {
    const leader = new TestNode(1, [1], { learners: [2] });
    leader.raft.becomeCandidate();
    leader.raft.becomeLeader();
    leader.raft.step(msg('transferLeader', { from: 2, to: 1, transferee: id(2) }));
    expect(leader.raft.leadTransferee).toBe(0);
  });
});

describe('TestLearner*', () => {
  it('ElectionTimeout: a learner never campaigns on timeout', () => {
    const learner = new TestNode(2, [1], { learners: [2] });
    for (let i = 0; i < 2 * learner.raft.config.electionTicks; i++) learner.node.tick();
    expect(learner.raft.state).toBe('Follower');
    expect(learner.drain()).toEqual([]);
  });
  it('Promotion: counts in elections once promoted to voter', () => {
    const options = { learners: [2] };
    const n1 = new TestNode(1, [1], options);
    const n2 = new TestNode(2, [1], options);
    const network = new Network([n1, n2]);
    n1.raft.randomizedElectionTicks = n1.raft.config.electionTicks;
    for (let i = 0; i < n1.raft.config.electionTicks; i++) n1.raft.tick();
    network.send(...n1.drain());
    expect(n1.raft.state).toBe('Leader');
    expect(n2.raft.state).toBe('Follower');
    network.send(msg('beat', { from: 1, to: 1 }));
    const promote = { transition: 'auto', changes: [{ type: 'addNode', nodeId: id(2) }], context: new Uint8Array(0) } as const;
    n1.node.applyConfChange(promote);
    n2.node.applyConfChange(promote);
    expect(n2.raft.isLearner).toBe(false);
    n2.raft.randomizedElectionTicks = n2.raft.config.electionTicks;
    for (let i = 0; i < n2.raft.config.electionTicks; i++) n2.raft.tick();
    network.send(msg('beat', { from: 2, to: 2 }));
    expect(n1.raft.state).toBe('Follower');
    expect(n2.raft.state).toBe('Leader');
  });
  it('Campaign: a learner ignores Hup and TimeoutNow', () => {
    const options = { learners: [2] };
    const network = new Network([new TestNode(1, [1], options), new TestNode(2, [1], options)]);
    network.campaign(2);
    expect(network.raft(2).isLearner).toBe(true);
    expect(network.raft(2).state).toBe('Follower');
    network.campaign(1);
    expect(network.raft(1).state).toBe('Leader');
    network.send(msg('timeoutNow', { from: 1, to: 2, term: network.raft(1).term }));
    expect(network.raft(2).state).toBe('Follower');
  });
  it('CanVote: a learner answers vote requests', () => {
    const learner = new TestNode(2, [1], { learners: [2] });
    learner.raft.becomeFollower(term(1), id(0));
    const out = learner.stepAndDrain(msg('vote', { from: 1, to: 2, term: 2, lastTerm: term(11), lastIndex: idx(11) }));
    expect(out).toEqual([expect.objectContaining({ type: 'voteResponse', reject: false })]);
  });
  it('a learner is not part of the commit quorum', () => {
    const leader = new TestNode(1, [1, 2], { learners: [3] });
    leader.raft.becomeCandidate();
    leader.raft.becomeLeader();
    leader.readMessages();
    leader.raft.step(msg('appendResponse', { from: 3, to: 1, term: 1, index: idx(1) }));
    expect(leader.raft.log.committed).toBe(0);
    leader.raft.step(msg('appendResponse', { from: 2, to: 1, term: 1, index: idx(1) }));
    expect(leader.raft.log.committed).toBe(1);
  });
});
