/**
 * `.proc_raft_interact(from_address, [messages])`: Raft messages from a peer, stepped in order.
 * The sender's address is remembered so answers can reach a peer the tables do not list yet, or
 * one restarted on another address before the entry recording it commits (two voters, one of
 * them moved, elect no leader otherwise: each would answer the other at its old address).
 * Errors: `uninitialized yet` (no Raft node here), malformed messages.
 */

import { decodeMessageValue } from '../cluster/raft-codec.ts';
import type { Node } from '../node/node.ts';
import { ProcError, str } from './proc-error.ts';
import type { Proc } from './proc.ts';

export const raftInteractProc: Proc = {
  name: '.proc_raft_interact',
  handle(node: Node, args) {
    const raft = node.requireRaft();
    const from = str(args[0] ?? null, 'from_address');
    const messages = args[1];
    if (!Array.isArray(messages)) throw new ProcError('messages must be an array');
    for (const raw of messages) {
      const message = decodeMessageValue(raw);
      if (message.to !== raft.id) continue; // meant for an earlier incarnation of this address
      const known = node.tables.peerAddress(message.from);
      if (known === undefined) node.addresses.set(message.from, from);
      else if (known !== from) node.announceAddress(message.from, from); // restarted elsewhere
      raft.step(message);
    }
    return [];
  },
};
