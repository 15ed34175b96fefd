/**
 * An instance asks the leader for a target grade: Online at every start (postjoin, with its
 * failure domain and advertise address from the command line), Offline at shutdown, Online again
 * when the sentinel finds it was marked Offline while it is alive.
 *
 * Asking for Online without knowing the leader, an instance asks the peers it knows (the stored
 * peer address table, then `--peer`) and follows their ErrNotALeader answers: one restarted on a
 * new address hears nothing from the leader, which still sends to the old one, until the leader
 * learns the new address from this very request.
 */

import type { MpValue } from '../codec/msgpack.ts';
import type { TargetGradeVariant } from '../cluster/grade.ts';
import { describeClientError } from '../rpc/pool.ts';
import { field } from '../rpc/proc-error.ts';
import { PROC_UPDATE_INSTANCE, updateInstanceProc } from '../rpc/update-instance.ts';
import type { Node } from './node.ts';
import { probe } from '../lib/probe.ts';

export type TargetGradeOutcome = { readonly kind: 'ok' } | { readonly kind: 'retry'; readonly reason: string } | { readonly kind: 'refused'; readonly reason: string };

const REFUSALS = [/^missing failure domain names/, /^cannot update expelled instance/, /^unknown instance/, /cluster_id mismatch/, /^invalid advertise address/];

/** Peers asked for the leader in one request while this instance knows none. */
export const LEADER_CANDIDATES_MAX = 8;
/** ErrNotALeader answers followed from one peer. */
export const LEADER_REDIRECTS_MAX = 3;

/**
 * Asks the leader for `target`; with `target` null, only announces `--advertise` again (the
 * sentinel does when the recorded address differs from it, e.g. after an older request's address
 * was applied last).
 */
export async function requestTargetGrade(node: Node, target: TargetGradeVariant | null, timeoutMs: number): Promise<TargetGradeOutcome> {
  const raft = node.raft;
  const identity = node.identity;
  if (raft === null || identity === null) return { kind: 'retry', reason: 'raft node not started' };
  const online = target === 'Online' || target === null;
  const domain = target === 'Online' ? { ...node.options.failureDomain } : null;
  const args: MpValue[] = [identity.clusterId, identity.instanceId, target, domain, online ? node.options.advertise : null];
  try {
    if (raft.role === 'Leader') return answer((await updateInstanceProc.handle(node, args))[0] ?? null).outcome;
    const leader = node.leaderAddress();
    const addresses = leader !== undefined ? [leader] : online ? leaderCandidates(node) : [];
    if (leader === undefined && addresses.length > 0) probe('target_grade.leader_searched');
    if (addresses.length === 0) return { kind: 'retry', reason: 'leader is unknown yet' };
    const deadlineMs = node.env.clock.nowMs() + timeoutMs;
    let outcome: TargetGradeOutcome = { kind: 'retry', reason: 'leader is unknown yet' };
    for (const address of addresses) {
      const remainingMs = deadlineMs - node.env.clock.nowMs();
      if (remainingMs <= 0) break;
      outcome = await askFollowingRedirects(node, address, args, remainingMs);
      if (outcome.kind !== 'retry') return outcome;
    }
    return outcome;
  } catch (error) {
    return classify(error instanceof Error ? error.message : String(error));
  }
}

/** Calls `.proc_update_instance` at `address`, then at the leaders the answers name. */
async function askFollowingRedirects(node: Node, address: string, args: readonly MpValue[], timeoutMs: number): Promise<TargetGradeOutcome> {
  const deadlineMs = node.env.clock.nowMs() + timeoutMs;
  let to = address;
  for (let redirects = 0; ; redirects++) {
    const result = await node.pool.call(to, PROC_UPDATE_INSTANCE, args, Math.max(1, deadlineMs - node.env.clock.nowMs()));
    if (!result.ok) return classify(describeClientError(result.error));
    const { outcome, leader } = answer(result.value[0] ?? null);
    // A peer that has not noticed this instance restarted may still name it as the leader.
    if (leader === undefined || leader === to || ownAddresses(node).has(leader)) return outcome;
    if (redirects >= LEADER_REDIRECTS_MAX || node.env.clock.nowMs() >= deadlineMs) return outcome;
    to = leader;
  }
}

/** `{"Ok": {}}`, or `{"ErrNotALeader": {raft_id, address} | nil}` naming where to ask next. */
function answer(reply: MpValue): { outcome: TargetGradeOutcome; leader?: string } {
  const notALeader = field(reply, 'ErrNotALeader', 'reply');
  if (notALeader === undefined) return { outcome: { kind: 'ok' } };
  const leader = notALeader === null ? undefined : field(notALeader, 'address', 'leader');
  const outcome: TargetGradeOutcome = { kind: 'retry', reason: 'not a leader' };
  return typeof leader === 'string' ? { outcome, leader } : { outcome };
}

/** Where to look for the leader: the other members' stored addresses, then `--peer`. */
export function leaderCandidates(node: Node): string[] {
  const selfRaftId = node.identity?.raftId;
  const own = ownAddresses(node);
  const members = node.tables
    .instances()
    .filter((i) => i.raftId !== selfRaftId && i.currentGrade.variant !== 'Expelled')
    .map((i) => node.peerAddress(i.raftId));
  const out: string[] = [];
  for (const address of [...members, ...node.options.peers]) {
    if (address === undefined || own.has(address) || out.includes(address)) continue;
    out.push(address);
    if (out.length >= LEADER_CANDIDATES_MAX) break;
  }
  return out;
}

/** The addresses this instance is reached at: --advertise, --listen and the one recorded for it. */
export function ownAddresses(node: Node): Set<string> {
  const self = node.identity === null ? undefined : node.tables.peerAddress(node.identity.raftId);
  return new Set([node.options.advertise, node.options.listen, ...(self === undefined ? [] : [self])]);
}

function classify(reason: string): TargetGradeOutcome {
  return REFUSALS.some((re) => re.test(reason)) ? { kind: 'refused', reason } : { kind: 'retry', reason };
}
