/**
 * An instance asks the leader for a target grade: Online at every start (postjoin, with its
 * failure domain from the command line), Offline at shutdown, Online again when the sentinel
 * finds it was marked Offline while it is alive.
 */

import type { MpValue } from '../codec/msgpack.ts';
import type { TargetGradeVariant } from '../cluster/grade.ts';
import { describeClientError } from '../rpc/pool.ts';
import { field } from '../rpc/proc-error.ts';
import { PROC_UPDATE_INSTANCE, updateInstanceProc } from '../rpc/update-instance.ts';
import type { Node } from './node.ts';

export type TargetGradeOutcome = { readonly kind: 'ok' } | { readonly kind: 'retry'; readonly reason: string } | { readonly kind: 'refused'; readonly reason: string };

const REFUSALS = [/^missing failure domain names/, /^cannot update expelled instance/, /^unknown instance/, /cluster_id mismatch/];

export async function requestTargetGrade(node: Node, target: TargetGradeVariant, timeoutMs: number): Promise<TargetGradeOutcome> {
  const raft = node.raft;
  const identity = node.identity;
  if (raft === null || identity === null) return { kind: 'retry', reason: 'raft node not started' };
  const domain = target === 'Online' ? { ...node.options.failureDomain } : null;
  const args: MpValue[] = [identity.clusterId, identity.instanceId, target, domain];
  let reply: MpValue;
  try {
    if (raft.role === 'Leader') {
      reply = (await updateInstanceProc.handle(node, args))[0] ?? null;
    } else {
      const leader = node.leaderAddress();
      if (leader === undefined) return { kind: 'retry', reason: 'leader is unknown yet' };
      const result = await node.pool.call(leader, PROC_UPDATE_INSTANCE, args, timeoutMs);
      if (!result.ok) return classify(describeClientError(result.error));
      reply = result.value[0] ?? null;
    }
  } catch (error) {
    return classify(error instanceof Error ? error.message : String(error));
  }
  if (field(reply, 'ErrNotALeader', 'reply') !== undefined) return { kind: 'retry', reason: 'not a leader' };
  return { kind: 'ok' };
}

function classify(reason: string): TargetGradeOutcome {
  return REFUSALS.some((re) => re.test(reason)) ? { kind: 'refused', reason } : { kind: 'retry', reason };
}

