/**
 * Graceful shutdown on SIGTERM/SIGINT (REFERENCE 1.7): ask for target Offline (retry every
 * 300 ms), wait until the governor set current Offline (it moves leadership, voting and
 * mastership away first), then exit 0. With no quorum of online voters it gives up with
 * `giving up, there is no quorum`; past the on_shutdown budget (3 s) it logs
 * `on_shutdown triggers failed`. Either way the process exits 0, as Picodata does.
 */

import type { StopSignal } from '../env/env.ts';
import type { Node } from './node.ts';
import { EXIT_OK } from './options.ts';
import { requestTargetGrade } from './target-grade.ts';
import { probe } from '../lib/probe.ts';

/** Grace after the Offline grade is applied, so the last replies get out (Picodata: 100 ms). */
const SHUTDOWN_GRACE_MS = 100;

export async function shutdown(node: Node, signal: StopSignal, stopBackground: () => void): Promise<void> {
  if (node.state === 'stopping' || node.state === 'exited') return;
  const before = node.state;
  node.state = 'stopping';
  node.log.info('shutting down', { signal });
  if (node.raft === null || before !== 'online') {
    stopBackground();
    node.exit(EXIT_OK, `stopped by ${signal}`);
    return;
  }
  const { clock } = node.env;
  const tuning = node.options.tuning;
  const deadlineMs = clock.nowMs() + tuning.shutdownTimeoutMs;
  let requestedAtMs = -Infinity;
  for (;;) {
    const self = node.self();
    if (self !== undefined && self.currentGrade.variant === 'Offline' && self.targetGrade.variant === 'Offline') {
      node.log.info('current grade is Offline, exiting');
      await clock.sleep(SHUTDOWN_GRACE_MS);
      break;
    }
    if (!hasQuorum(node)) {
      probe('shutdown.no_quorum');
      node.log.warn('giving up, there is no quorum');
      break;
    }
    if (clock.nowMs() >= deadlineMs) {
      node.log.error('on_shutdown triggers failed', { reason: 'timed out waiting for the Offline grade' });
      break;
    }
    const remainingMs = Math.max(1, deadlineMs - clock.nowMs());
    // Every applied entry wakes this loop; asking on each wake-up would add a log entry per
    // entry applied. Ask at most once per retry period (a lost request is asked again).
    if (clock.nowMs() - requestedAtMs >= tuning.shutdownRetryMs) {
      requestedAtMs = clock.nowMs();
      void requestTargetGrade(node, 'Offline', Math.min(remainingMs, tuning.syncRpcTimeoutMs));
    }
    await node.nextChange(Math.min(remainingMs, tuning.shutdownRetryMs));
  }
  stopBackground();
  node.exit(EXIT_OK, `stopped by ${signal}`);
}

/** Online voters >= voters / 2 + 1 (what can still commit this instance's Offline grade). */
function hasQuorum(node: Node): boolean {
  const raft = node.raft;
  if (raft === null) return false;
  const voters = raft.confState().voters;
  const online = voters.filter((id) => {
    const instance = node.tables.instanceByRaftId(id);
    return instance !== undefined && instance.currentGrade.variant === 'Online';
  }).length;
  return online >= Math.floor(voters.length / 2) + 1;
}
