/**
 * `.proc_propose(op, timeout_ms)` on the leader: proposals that start on a follower
 * (`pico.raft_propose_nop()`, `pico.raft_propose_info(text)`) are forwarded here; the reply says
 * where the entry went so the follower can wait until it applies it too.
 * Only `{kind: "nop"}` and `{kind: "info", message}` are accepted.
 * Errors: `not a leader`, `timeout`, `proposal dropped: ...`.
 */

import type { MpValue } from '../codec/msgpack.ts';
import { RaftNodeFailure } from '../cluster/raft-node.ts';
import { field, ProcError, str, uint } from './proc-error.ts';
import type { Proc } from './proc.ts';

export const PROC_PROPOSE = '.proc_propose';

/** Only harmless operations may be proposed by name from a follower. */
export function opFromValue(value: MpValue): { kind: 'nop' } | { kind: 'info'; message: string } {
  const kind = str(field(value, 'kind', 'op'), 'op kind');
  if (kind === 'nop') return { kind: 'nop' };
  if (kind === 'info') return { kind: 'info', message: str(field(value, 'message', 'op'), 'message') };
  throw new ProcError(`cannot propose an operation of kind ${kind}`);
}

export const proposeProc: Proc = {
  name: PROC_PROPOSE,
  async handle(node, args) {
    const raft = node.requireLeader();
    try {
      const { index, term } = await raft.proposeAndWait(opFromValue(args[0] ?? null), uint(args[1] ?? null, 'timeout_ms'));
      return [{ index, term }];
    } catch (error) {
      if (error instanceof RaftNodeFailure) throw new ProcError(error.message, error.error.kind === 'timeout' ? 78 : 102);
      throw error;
    }
  },
};
