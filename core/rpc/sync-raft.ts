/**
 * `.proc_sync_raft(index, timeout_ms)`: waits until this instance applied the Raft log up to
 * `index` (the governor's RaftSync step). Returns the applied index.
 * Errors: `timeout`, `uninitialized yet`.
 */

import type { Node } from '../node/node.ts';
import { ProcError, uint } from './proc-error.ts';
import type { Proc } from './proc.ts';

export const PROC_SYNC_RAFT = '.proc_sync_raft';

export const syncRaftProc: Proc = {
  name: PROC_SYNC_RAFT,
  async handle(node: Node, args) {
    const raft = node.requireRaft();
    const index = uint(args[0] ?? null, 'index');
    try {
      await raft.waitApplied(index, uint(args[1] ?? null, 'timeout_ms'));
    } catch {
      throw new ProcError('timeout', 78);
    }
    return [raft.applied];
  },
};
