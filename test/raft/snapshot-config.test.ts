/**
 * Snapshots and compaction (Raft §7), and membership changes (thesis §4), mirroring
 * etcd-io/raft's snapshot and conf change tests, plus raft-rs test_follower_request_snapshot.
 */
import { describe, expect, it } from 'vitest';
import { type ConfChangeV2, LEAVE_JOINT, encodeConfChange } from '../../core/raft/confchange.ts';
import type { Entry, Snapshot } from '../../core/raft/types.ts';
import { MemoryStorage } from '../../core/raft/storage.ts';
import { Network, TestNode, bytes, confState, entriesWithTerms, id, idx, msg, term } from './harness.ts';

const testingSnapshot: Snapshot = { index: idx(11), term: term(11), confState: confState([1, 2]), data: new Uint8Array(0) };

/** A leader whose log was restored from `testingSnapshot` (etcd: sm.restore(testingSnap)). */
function leaderFromSnapshot(): TestNode {
  const storage = new MemoryStorage();
  storage.applySnapshot(testingSnapshot);
  storage.setHardState({ term: term(11), vote: id(0), commit: idx(11) });
  const node = new TestNode(1, [1, 2], { storage });
  node.raft.becomeCandidate();
  node.raft.becomeLeader();
  node.readMessages();
  return node;
}

const confChangeEntry = (change: ConfChangeV2): Entry =>
  ({ index: idx(0), term: term(0), kind: 'confChange', data: encodeConfChange(change) });
const change = (type: 'addNode' | 'removeNode' | 'addLearnerNode', nodeId: number): ConfChangeV2 =>
  ({ transition: 'auto', changes: [{ type, nodeId: id(nodeId) }], context: new Uint8Array(0) });

describe('TestSlowNodeRestore', () => {
  it('a node that fell behind a compaction catches up through a snapshot', () => {
    const network = new Network([undefined, undefined, undefined]);
    network.campaign(1);
    network.isolate(3);
    for (let i = 0; i <= 100; i++) network.propose(1);
    const leader = network.node(1);
    expect(leader.node.createSnapshot(bytes('sm'))).toMatchObject({ index: 102 });
    leader.node.compact(leader.raft.log.applied);
    network.recover();
    for (let i = 0; i < 10 && !leader.raft.tracker.get(id(3))!.recentActive; i++) network.send(msg('beat', { from: 1, to: 1 }));
    network.propose(1);
    network.propose(1);
    expect(network.raft(3).log.committed).toBe(leader.raft.log.committed);
    expect(network.node(3).storage.snapshot()).toMatchObject({ ok: true, value: { index: 102, data: bytes('sm') } });
  });
});

describe('TestProvideSnap', () => {
  it('the leader sends a snapshot when the follower needs compacted entries', () => {
    const leader = leaderFromSnapshot();
    const progress = leader.raft.tracker.get(id(2))!;
    progress.next = leader.raft.log.firstIndex();
    const out = leader.stepAndDrain(msg('appendResponse', { from: 2, to: 1, term: leader.raft.term, index: idx(progress.next - 1), reject: true }));
    expect(out.map((m) => m.type)).toEqual(['snapshot']);
    expect(progress.state).toBe('snapshot');
  });
  it('no snapshot goes to a follower that was not recently active', () => {
    const leader = leaderFromSnapshot();
    const progress = leader.raft.tracker.get(id(2))!;
    progress.next = idx(1);
    progress.recentActive = false;
    leader.raft.sendAppend(id(2));
    expect(leader.readMessages()).toEqual([]);
  });
});

describe('TestRestoreIgnoreSnapshot', () => {
  it('ignores a stale snapshot, and fast-forwards commit when the log already matches', () => {
    const node = new TestNode(1, [1, 2]);
    node.raft.log.append(entriesWithTerms([1, 1, 1]));
    node.raft.log.commitTo(idx(1));
    const snapshot: Snapshot = { index: idx(1), term: term(1), confState: confState([1, 2]), data: new Uint8Array(0) };
    expect(node.raft.restore(snapshot)).toBe(false);
    expect(node.raft.log.committed).toBe(1);
    expect(node.raft.restore({ ...snapshot, index: idx(2) })).toBe(false);
    expect(node.raft.log.committed).toBe(2);
  });
  it('ignores a snapshot whose configuration does not include this node', () => {
    const node = new TestNode(1, [1, 2]);
    expect(node.raft.restore({ ...testingSnapshot, confState: confState([2, 3]) })).toBe(false);
    expect(node.raft.log.committed).toBe(0);
  });
});

describe('TestSnapshot{Failure, Succeed, Abort}', () => {
  for (const report of ['failure', 'finish'] as const) {
    it(`${report}: leaves snapshot state and waits before probing`, () => {
      const leader = leaderFromSnapshot();
      const progress = leader.raft.tracker.get(id(2))!;
      progress.next = idx(1);
      progress.becomeSnapshot(idx(11));
      leader.node.reportSnapshot(id(2), report);
      expect(progress.pendingSnapshot).toBe(0);
      expect(progress.state).toBe('probe');
      expect(progress.next).toBe(report === 'failure' ? 1 : 12);
      expect(progress.isPaused()).toBe(true);
    });
  }
  it('Abort: an ack at or past the snapshot index ends snapshot state', () => {
    const leader = leaderFromSnapshot();
    const progress = leader.raft.tracker.get(id(2))!;
    progress.next = idx(1);
    progress.becomeSnapshot(idx(11));
    leader.raft.step(msg('appendResponse', { from: 2, to: 1, term: leader.raft.term, index: idx(11) }));
    expect(progress.pendingSnapshot).toBe(0);
    expect(progress.state).toBe('replicate');
    // The leader's empty entry (12) went out at once.
    expect(progress.next).toBe(13);
    expect(progress.inflights.size).toBe(1);
  });
});

describe('compaction', () => {
  it('never compacts past applied', () => {
    const node = new TestNode(1, [1]);
    node.node.campaign();
    node.drain();
    expect(() => node.node.compact(idx(5))).toThrow(/past applied/);
  });
  it('a snapshot carries the application data and the membership at applied', () => {
    const node = new TestNode(1, [1], { learners: [2] });
    node.node.campaign();
    node.drain();
    const snapshot = node.node.createSnapshot(bytes('state-machine'));
    expect(snapshot).toMatchObject({ index: 1, term: 1, data: bytes('state-machine'), confState: { voters: [1], learners: [2] } });
  });
});

describe('test_follower_request_snapshot (raft-rs)', () => {
  it('a follower that asks gets a fresh snapshot even at its own commit index', () => {
    const network = new Network([undefined, undefined, undefined]);
    network.campaign(1);
    for (let i = 0; i < 5; i++) network.propose(1);
    const leader = network.node(1);
    network.send(msg('beat', { from: 1, to: 1 }));
    const follower = network.node(2);
    leader.autoSnapshot = false;
    expect(follower.raft.log.committed).toBe(6);
    // No snapshot at >= 6 exists yet: the leader waits instead of sending a stale one.
    expect(follower.node.requestSnapshot()).toBeUndefined();
    expect(follower.node.requestSnapshot()).toMatchObject({ kind: 'request_snapshot_dropped' });
    let snapshots = 0;
    network.messageHook = (m) => {
      if (m.type === 'snapshot') snapshots++;
      return true;
    };
    network.send(...follower.drain());
    expect(snapshots).toBe(0);
    expect(leader.snapshotsWanted).toBe(1); // the driver is asked to make one
    leader.node.createSnapshot(bytes('fresh'));
    network.send(msg('beat', { from: 1, to: 1 }));
    expect(snapshots).toBe(1);
    expect(follower.raft.pendingRequestSnapshot).toBe(false);
    expect(follower.storage.snapshot()).toMatchObject({ ok: true, value: { index: 6, data: bytes('fresh') } });
    network.propose(1);
    expect(follower.raft.log.committed).toBe(7);
  });
});

describe('snapshot taken before a follower joined', () => {
  it('is not sent to that follower; the driver is asked for a newer one', () => {
    const network = new Network([1, 2, 3, 4].map((n) => new TestNode(n, [1, 2, 3])));
    network.campaign(1);
    network.propose(1);
    const leader = network.node(1);
    leader.node.createSnapshot(bytes('old'));
    leader.node.compact(idx(2));
    leader.autoSnapshot = false;
    const snapshots: Snapshot[] = [];
    network.messageHook = (m) => {
      if (m.type === 'snapshot') snapshots.push(m.snapshot);
      return true;
    };
    network.send(msg('propose', { from: 1, to: 1, entries: [confChangeEntry(change('addLearnerNode', 4))] }));
    network.send(msg('beat', { from: 1, to: 1 }));
    expect(snapshots).toEqual([]);
    expect(leader.snapshotsWanted).toBeGreaterThan(0);
    leader.node.createSnapshot(bytes('new'));
    network.send(msg('beat', { from: 1, to: 1 }));
    expect(snapshots.map((s) => new TextDecoder().decode(s.data))).toEqual(['new']);
    expect(network.raft(4).log.committed).toBe(leader.raft.log.committed);
  });
});

describe('TestStepIgnoreConfig', () => {
  it('a second conf change while one is pending becomes an empty normal entry', () => {
    const leader = new TestNode(1, [1, 2]);
    leader.raft.becomeCandidate();
    leader.raft.becomeLeader();
    leader.raft.step(msg('propose', { from: 1, to: 1, entries: [confChangeEntry(change('addLearnerNode', 3))] }));
    const index = leader.raft.log.lastIndex();
    const pending = leader.raft.pendingConfIndex;
    leader.raft.step(msg('propose', { from: 1, to: 1, entries: [confChangeEntry(change('addLearnerNode', 4))] }));
    expect(leader.raft.log.allEntriesFrom(idx(index + 1))).toEqual([
      { index: 3, term: 1, kind: 'normal', data: new Uint8Array(0) },
    ]);
    expect(leader.raft.pendingConfIndex).toBe(pending);
  });
});

describe('TestNewLeaderPendingConfig', () => {
  for (const [withEntry, wantPending] of [[false, 0], [true, 1]] as const) {
    it(`unapplied tail ${withEntry ? 'present' : 'absent'} -> pendingConfIndex ${wantPending}`, () => {
      const node = new TestNode(1, [1, 2]);
      if (withEntry) node.raft.log.append(entriesWithTerms([0]));
      node.raft.becomeCandidate();
      node.raft.becomeLeader();
      expect(node.raft.pendingConfIndex).toBe(wantPending);
    });
  }
});

describe('TestCommitAfterRemoveNode', () => {
  it('removing a node shrinks the quorum when the change is applied', () => {
    const leader = new TestNode(1, [1, 2], { electionTicks: 5 });
    leader.raft.becomeCandidate();
    leader.raft.becomeLeader();
    leader.drain();
    leader.raft.step(msg('propose', { from: 1, to: 1, entries: [confChangeEntry(change('removeNode', 2))] }));
    leader.drain();
    expect(leader.applied).toHaveLength(0);
    const changeIndex = leader.raft.log.lastIndex();
    leader.raft.step(msg('propose', { from: 1, to: 1, entries: [{ index: idx(0), term: term(0), kind: 'normal', data: bytes('hello') }] }));
    leader.raft.step(msg('appendResponse', { from: 2, to: 1, term: 1, index: changeIndex }));
    // Draining applies [empty, confChange]; applying the removal lets "hello" commit alone.
    leader.drain();
    expect(leader.applied.map((e) => e.kind)).toEqual(['normal', 'confChange', 'normal']);
    expect(leader.appliedData()).toEqual(['hello']);
    expect(leader.node.confState().voters).toEqual([1]);
  });
});

describe('joint consensus (ConfChangeV2)', () => {
  function fourNodes(): Network {
    // Node 4 is not a member yet: it only learns about the group from the leader.
    const network = new Network([1, 2, 3, 4].map((n) => new TestNode(n, [1, 2, 3])));
    network.campaign(1);
    return network;
  }
  it('auto: two changes enter a joint config that the leader leaves by itself', () => {
    const network = fourNodes();
    const swap: ConfChangeV2 = {
      transition: 'auto',
      changes: [{ type: 'addNode', nodeId: id(4) }, { type: 'removeNode', nodeId: id(3) }],
      context: new Uint8Array(0),
    };
    network.send(msg('propose', { from: 1, to: 1, entries: [confChangeEntry(swap)] }));
    const states = network.node(1).confStates;
    expect(states[0]).toMatchObject({ voters: [1, 2, 4], votersOutgoing: [1, 2, 3], autoLeave: true });
    expect(states[1]).toMatchObject({ voters: [1, 2, 4], votersOutgoing: [], autoLeave: false });
    network.send(msg('beat', { from: 1, to: 1 })); // carries the commit of the leave entry
    expect(network.node(4).confStates.at(-1)).toMatchObject({ voters: [1, 2, 4], votersOutgoing: [] });
    network.propose(1, 'after');
    expect(network.node(4).appliedData()).toEqual(['after']);
  });
  it('explicit: stays joint until an empty change is proposed; other changes are refused meanwhile', () => {
    const network = fourNodes();
    const explicit: ConfChangeV2 = { transition: 'explicit', changes: [{ type: 'addNode', nodeId: id(4) }], context: new Uint8Array(0) };
    network.send(msg('propose', { from: 1, to: 1, entries: [confChangeEntry(explicit)] }));
    const leader = network.node(1);
    expect(leader.node.confState()).toMatchObject({ voters: [1, 2, 3, 4], votersOutgoing: [1, 2, 3], autoLeave: false });
    network.send(msg('propose', { from: 1, to: 1, entries: [confChangeEntry(change('removeNode', 2))] }));
    expect(leader.confStates).toHaveLength(1);
    network.send(msg('propose', { from: 1, to: 1, entries: [confChangeEntry(LEAVE_JOINT)] }));
    expect(leader.node.confState()).toMatchObject({ voters: [1, 2, 3, 4], votersOutgoing: [] });
  });
  it('demoting a voter goes through learnersNext', () => {
    const network = fourNodes();
    const demote: ConfChangeV2 = {
      transition: 'implicit', changes: [{ type: 'addLearnerNode', nodeId: id(3) }], context: new Uint8Array(0),
    };
    network.send(msg('propose', { from: 1, to: 1, entries: [confChangeEntry(demote)] }));
    const states = network.node(1).confStates;
    expect(states[0]).toMatchObject({ voters: [1, 2], votersOutgoing: [1, 2, 3], learnersNext: [3] });
    expect(states[1]).toMatchObject({ voters: [1, 2], learners: [3], votersOutgoing: [], learnersNext: [] });
  });
  it('a malformed change is refused at proposal time', () => {
    const node = new TestNode(1, [1]);
    node.node.campaign();
    node.drain();
    const bad = { transition: 'auto', changes: [{ type: 'addNode', nodeId: 0 }], context: new Uint8Array(0) } as unknown as ConfChangeV2;
    expect(node.node.proposeConfChange(bad)).toEqual({ kind: 'conf_change_invalid', reason: 'invalid node id 0' });
    const emptyExplicit: ConfChangeV2 = { transition: 'explicit', changes: [], context: new Uint8Array(0) };
    expect(node.node.proposeConfChange(emptyExplicit)).toMatchObject({ kind: 'conf_change_invalid' });
  });
  it('an invalid committed change is skipped alike on every node', () => {
    const node = new TestNode(1, [1]);
    const result = node.node.applyConfChange(change('removeNode', 1));
    expect(result).toMatchObject({ ok: false, error: { kind: 'conf_change_invalid', reason: 'removed all voters' } });
    expect(node.node.confState().voters).toEqual([1]);
  });
  it('a removed leader steps down', () => {
    const network = new Network([undefined, undefined, undefined]);
    network.campaign(1);
    network.send(msg('propose', { from: 1, to: 1, entries: [confChangeEntry(change('removeNode', 1))] }));
    expect(network.raft(1).state).toBe('Follower');
    network.campaign(2);
    expect(network.raft(2).state).toBe('Leader');
    expect(network.raft(2).tracker.voterIds()).toEqual(new Set([2, 3]));
  });
});
