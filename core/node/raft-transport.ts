/**
 * Raft messages between instances travel as `.proc_raft_interact(from_address, [messages])`
 * calls, one call per peer per Ready; each message is a msgpack array (core/cluster/raft-codec.ts)
 * nested in the call's arguments, so it is encoded and decoded once. The reply is ignored; a failed call tells the core the peer
 * is unreachable (and that a snapshot in it failed), which is how Raft learns to probe again.
 */

import { messageToValue } from '../cluster/raft-codec.ts';
import type { RaftTransport } from '../cluster/raft-node.ts';
import type { RaftMessage } from '../raft/messages.ts';
import type { RaftId } from '../raft/types.ts';
import type { Node } from './node.ts';

export const PROC_RAFT_INTERACT = '.proc_raft_interact';

/** Share of BUGGIFY passes at the drop site that actually drop a batch. */
const RARE_DROP_PROBABILITY = 0.1;

export class RaftTransportOverRpc implements RaftTransport {
  private readonly node: Node;
  private readonly inFlight = new Map<number, number>();

  constructor(node: Node) {
    this.node = node;
  }

  send(to: RaftId, messages: readonly RaftMessage[]): void {
    const node = this.node;
    const raft = node.raft;
    const address = node.peerAddress(to);
    if (raft === null) return;
    const hasSnapshot = messages.some((m) => m.type === 'snapshot');
    // Raft retransmits lost appends by itself, but waits for a snapshot until it hears how the
    // send went: one dropped without a report leaves the follower paused for good (join-storm
    // seed 8007: a joiner's snapshot hit the in-flight cap and the whole cluster stalled behind it).
    const drop = (unreachable: boolean): void => {
      if (unreachable) raft.reportUnreachable(to);
      if (hasSnapshot) raft.reportSnapshot(to, false);
    };
    if (address === undefined) {
      drop(true);
      return;
    }
    // BUGGIFY: lose a batch now and then (a connection reset eats what was in flight); Raft must
    // retransmit. Rarer than a plain BUGGIFY pass: a quarter of all traffic lost is a broken
    // network, not a rare event.
    if (node.env.buggify('raft.transport.drop') && node.env.random.float() < RARE_DROP_PROBABILITY) {
      drop(true);
      return;
    }
    const inFlight = this.inFlight.get(to) ?? 0;
    if (inFlight >= node.options.tuning.raftMessagesInFlightMax) {
      drop(false);
      return;
    }
    this.inFlight.set(to, inFlight + 1);
    const timeoutMs = node.options.tuning.raftTickMs * (hasSnapshot ? 100 : 20);
    void node.pool.call(address, PROC_RAFT_INTERACT, [node.options.advertise, messages.map(messageToValue)], timeoutMs).then((result) => {
      this.inFlight.set(to, (this.inFlight.get(to) ?? 1) - 1);
      if (node.raft !== raft) return;
      if (!result.ok) raft.reportUnreachable(to);
      if (hasSnapshot) raft.reportSnapshot(to, result.ok);
    });
  }
}
