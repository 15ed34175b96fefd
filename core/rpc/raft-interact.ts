/**
 * `.proc_raft_interact(from_address, [messages])`: Raft messages from a peer, stepped in order.
 * The sender's address is remembered so answers can reach a peer the tables do not list yet, or
 * one restarted on another address before the entry recording it commits (two voters, one of
 * them moved, elect no leader otherwise: each would answer the other at its old address).
 * Errors: `uninitialized yet` (no Raft node here), `invalid from address ...`, malformed messages.
 *
 * Like every `.proc_*`, it trusts its caller: cluster RPC is not authenticated yet (guest and
 * admin may call it), so a client that can reach the port can speak Raft. Access control for
 * instance-to-instance calls (a service user) comes with the access-control capability.
 */

import { addressError } from '../cluster/address.ts';
import { decodeMessageValue } from '../cluster/raft-codec.ts';
import type { Node } from '../node/node.ts';
import { ProcError, str } from './proc-error.ts';
import type { Proc } from './proc.ts';

export const raftInteractProc: Proc = {
  name: '.proc_raft_interact',
  handle(node: Node, args) {
    const raft = node.requireRaft();
    const from = str(args[0] ?? null, 'from_address');
    const fromError = addressError(from, 'from');
    if (fromError !== undefined) throw new ProcError(fromError);
    const messages = args[1];
    if (!Array.isArray(messages)) throw new ProcError('messages must be an array');
    for (const raw of messages) {
      const message = decodeMessageValue(raw);
      if (message.to !== raft.id) continue; // meant for an earlier incarnation of this address
      const known = node.tables.peerAddress(message.from);
      if (known === undefined) node.addresses.set(message.from, from);
      // Restarted elsewhere: only a message of the current term or a newer one says so (a late
      // one from the previous incarnation must not send answers back to its dead address).
      else if (known === from || message.term >= raft.term) node.peerSaysItIsAt(message.from, from);
      raft.step(message);
    }
    return [];
  },
};
