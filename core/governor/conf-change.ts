/**
 * Which instances vote in Raft, sans-IO (Picodata's `raft_conf_change`).
 *
 * Voters needed: 1 instance -> 1, 2 -> 2, 3-4 -> 3, 5+ -> 5 (counting instances not being
 * expelled). Voters and learners whose instance is unknown or already Expelled (current grade:
 * the governor sets it only after moving leadership and mastership away) are removed; a voter
 * that is going Offline or being expelled is
 * demoted when an Online non-voter can take its place; excess voters become learners; missing
 * voters are filled from Online non-voters, preferring the candidate farthest (in failure-domain
 * distance) from the current voters, ties to the lowest raft id; a voter is swapped for a
 * candidate strictly farther from the other voters; everyone else is a learner.
 */

import { distance } from '../cluster/failure-domain.ts';
import type { Instance } from '../cluster/records.ts';
import { probe } from '../lib/probe.ts';

export type ConfChangeKind = 'AddNode' | 'AddLearnerNode' | 'RemoveNode';

export interface ConfChangeSingle {
  readonly kind: ConfChangeKind;
  readonly nodeId: number;
}

export function votersNeeded(instanceCount: number): number {
  if (instanceCount >= 5) return 5;
  if (instanceCount >= 3) return 3;
  return instanceCount;
}

const isGone = (i: Instance): boolean => i.currentGrade.variant === 'Expelled';
const isLeaving = (i: Instance): boolean => i.targetGrade.variant === 'Expelled' || isGone(i);
const isFullyOnline = (i: Instance): boolean => i.currentGrade.variant === 'Online' && i.targetGrade.variant === 'Online';
const isGoingOffline = (i: Instance): boolean =>
  i.currentGrade.variant === 'Offline' || i.targetGrade.variant === 'Offline' || i.targetGrade.variant === 'Expelled';

/**
 * Returns the changes to propose, or an empty list when the configuration is right. The leader
 * (`selfRaftId`) is never demoted or removed here: the governor first transfers leadership away.
 */
export function planConfChange(
  instances: readonly Instance[],
  voters: readonly number[],
  learners: readonly number[],
  selfRaftId = 0,
): ConfChangeSingle[] {
  const byRaftId = new Map(instances.map((i) => [i.raftId, i]));
  const changes: ConfChangeSingle[] = [];
  const voterSet = new Set([...voters].sort((a, b) => a - b));
  const learnerSet = new Set(learners);
  const present = (id: number): Instance | undefined => {
    const i = byRaftId.get(id);
    return i === undefined || isGone(i) ? undefined : i;
  };

  for (const id of [...voterSet]) {
    if (present(id) === undefined && id !== selfRaftId) {
      voterSet.delete(id);
      changes.push({ kind: 'RemoveNode', nodeId: id });
    }
  }
  for (const id of [...learnerSet]) {
    if (present(id) === undefined) {
      learnerSet.delete(id);
      changes.push({ kind: 'RemoveNode', nodeId: id });
    }
  }
  const candidates = (): Instance[] =>
    instances.filter((i) => !isLeaving(i) && isFullyOnline(i) && !voterSet.has(i.raftId)).sort((a, b) => a.raftId - b.raftId);

  // An Offline voter hands its vote to an Online spare, if there is one.
  for (const id of [...voterSet]) {
    const voter = present(id);
    if (voter === undefined || id === selfRaftId || !isGoingOffline(voter)) continue;
    const spare = pickFarthest(candidates(), voterSet, byRaftId, id);
    if (spare === undefined) continue;
    probe('governor.voter_replaced');
    demote(id);
    promote(spare.raftId);
  }

  const needed = votersNeeded(instances.filter((i) => !isLeaving(i)).length);
  // Excess voters step down: leaving and Offline ones first, then the highest raft ids.
  const offline = (id: number): boolean => {
    const i = present(id);
    return i === undefined || isGoingOffline(i);
  };
  const offlineFirst = (a: number, b: number): number => Number(offline(b)) - Number(offline(a)) || b - a;
  for (const id of [...voterSet].sort(offlineFirst)) {
    if (voterSet.size <= needed) break;
    if (id !== selfRaftId) demote(id);
  }
  while (voterSet.size < needed) {
    const next = pickFarthest(candidates(), voterSet, byRaftId);
    if (next === undefined) break;
    promote(next.raftId);
  }
  swapForSpread();

  for (const instance of instances) {
    if (isGone(instance) || voterSet.has(instance.raftId) || learnerSet.has(instance.raftId)) continue;
    learnerSet.add(instance.raftId);
    changes.push({ kind: 'AddLearnerNode', nodeId: instance.raftId });
  }
  return changes;

  function demote(id: number): void {
    voterSet.delete(id);
    learnerSet.add(id);
    changes.push({ kind: 'AddLearnerNode', nodeId: id });
  }

  function promote(id: number): void {
    voterSet.add(id);
    learnerSet.delete(id);
    changes.push({ kind: 'AddNode', nodeId: id });
  }

  /** Replace a voter by a candidate strictly farther from the remaining voters (one swap per plan). */
  function swapForSpread(): void {
    for (const id of [...voterSet].sort((a, b) => a - b)) {
      const voter = present(id);
      if (voter === undefined || id === selfRaftId) continue;
      const others = new Set([...voterSet].filter((v) => v !== id));
      const own = spread(voter, others, byRaftId);
      const better = pickFarthest(candidates(), others, byRaftId);
      if (better !== undefined && spread(better, others, byRaftId) > own) {
        demote(id);
        promote(better.raftId);
        return;
      }
    }
  }
}

function spread(instance: Instance, voters: ReadonlySet<number>, byRaftId: ReadonlyMap<number, Instance>): number {
  let total = 0;
  for (const v of voters) {
    const other = byRaftId.get(v);
    if (other !== undefined && other.raftId !== instance.raftId) total += distance(instance.failureDomain, other.failureDomain);
  }
  return total;
}

/** The candidate with the largest total distance to `voters` (excluding `replacing`), lowest raft id on ties. */
function pickFarthest(
  candidates: readonly Instance[],
  voters: ReadonlySet<number>,
  byRaftId: ReadonlyMap<number, Instance>,
  replacing?: number,
): Instance | undefined {
  const others = new Set([...voters].filter((v) => v !== replacing));
  let best: Instance | undefined;
  let bestSpread = -1;
  for (const c of candidates) {
    const s = spread(c, others, byRaftId);
    if (s > bestSpread) {
      best = c;
      bestSpread = s;
    }
  }
  return best;
}
