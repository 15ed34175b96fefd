import { describe, expect, it } from 'vitest';
import type { RaftMessage } from '../../core/raft/messages.ts';
import type { RaftId } from '../../core/raft/types.ts';
import type { Node } from '../../core/node/node.ts';
import { RaftTransportOverRpc } from '../../core/node/raft-transport.ts';

/**
 * The transport must tell Raft about every batch it does not deliver that held a snapshot: Raft
 * waits for that report before it sends the follower anything again (join-storm seed 8007).
 */

type Report = ['unreachable', number] | ['snapshot', number, boolean];

function fakeNode(options: { addressKnown: boolean; inFlightMax: number }) {
  const reports: Report[] = [];
  const calls: Array<(result: { ok: boolean }) => void> = [];
  const raft = {
    reportUnreachable: (id: number) => reports.push(['unreachable', id]),
    reportSnapshot: (id: number, ok: boolean) => reports.push(['snapshot', id, ok]),
  };
  const node = {
    raft,
    peerAddress: () => (options.addressKnown ? 'i2:3301' : undefined),
    env: { buggify: () => false, random: { float: () => 1 } },
    options: { advertise: 'i1:3301', tuning: { raftMessagesInFlightMax: options.inFlightMax, raftTickMs: 100 } },
    pool: { call: () => new Promise<{ ok: boolean }>((resolve) => calls.push(resolve)) },
  };
  return { node: node as unknown as Node, reports, calls };
}

const to = 2 as RaftId;
const heartbeat = { type: 'heartbeat', from: 1, to: 2, term: 2, commit: 0 } as unknown as RaftMessage;
const snapshot = { type: 'snapshot', from: 1, to: 2, term: 2, snapshot: { index: 7, term: 2, confState: { voters: [1], learners: [], votersOutgoing: [], learnersNext: [], autoLeave: false }, data: new Uint8Array() } } as unknown as RaftMessage;

describe('RaftTransportOverRpc', () => {
  it('reports a snapshot failed when the batch is dropped at the in-flight cap', () => {
    const { node, reports, calls } = fakeNode({ addressKnown: true, inFlightMax: 1 });
    const transport = new RaftTransportOverRpc(node);
    transport.send(to, [heartbeat]);
    expect(calls).toHaveLength(1);
    transport.send(to, [heartbeat]); // dropped: appends are retransmitted by Raft, no report
    expect(reports).toEqual([]);
    transport.send(to, [snapshot]);
    expect(calls).toHaveLength(1);
    expect(reports).toEqual([['snapshot', 2, false]]);
  });

  it('reports a snapshot failed when the peer has no address', () => {
    const { node, reports, calls } = fakeNode({ addressKnown: false, inFlightMax: 8 });
    new RaftTransportOverRpc(node).send(to, [snapshot]);
    expect(calls).toHaveLength(0);
    expect(reports).toEqual([['unreachable', 2], ['snapshot', 2, false]]);
  });

  it('reports how a sent snapshot went once the call settles', async () => {
    const { node, reports, calls } = fakeNode({ addressKnown: true, inFlightMax: 8 });
    const transport = new RaftTransportOverRpc(node);
    transport.send(to, [snapshot]);
    transport.send(to, [snapshot]);
    calls[0]!({ ok: true });
    calls[1]!({ ok: false });
    await Promise.resolve();
    await Promise.resolve();
    expect(reports).toEqual([['snapshot', 2, true], ['unreachable', 2], ['snapshot', 2, false]]);
  });
});
