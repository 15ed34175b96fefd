/**
 * The rebalancer's arithmetic (REFERENCE 5.4), sans IO: from every replicaset's weight and bucket
 * counts, how many buckets each should hold (its etalon) and which replicaset sends how many to
 * which. The loop that gathers the counts and applies the routes is core/vshard/rebalancer.ts.
 *
 * Etalon: every replicaset gets ceil(weight * N / Σweight); the surplus this rounding creates is
 * taken back one bucket at a time from the replicasets whose share was not whole, in replicaset
 * order. A replicaset whose pinned buckets exceed its etalon keeps exactly its pinned ones and
 * leaves the calculation (with its weight and those buckets), and the rest is computed again.
 */

import { assert } from '../lib/assert.ts';

/** A replicaset as the rebalancer sees it: buckets it holds `active` and `pinned`. */
export interface ReplicasetBuckets {
  readonly replicasetId: string;
  readonly weight: number;
  readonly active: number;
  readonly pinned: number;
}

/** The largest disbalance (% of the etalon) that is left alone: vshard's default. */
export const DISBALANCE_THRESHOLD_PCT_DEFAULT = 1;

export type RebalancePlan =
  | { readonly kind: 'balanced'; readonly etalon: ReadonlyMap<string, number>; readonly maxDisbalancePct: number }
  | { readonly kind: 'routes'; readonly etalon: ReadonlyMap<string, number>; readonly maxDisbalancePct: number; readonly routes: readonly BucketRoute[] }
  | { readonly kind: 'impossible'; readonly reason: string };

/** `count` buckets to move from one replicaset to another. */
export interface BucketRoute {
  readonly from: string;
  readonly to: string;
  readonly count: number;
}

/**
 * How many buckets each replicaset should hold, by id, for `bucketCount` buckets in all; null
 * when no replicaset has weight (nowhere to put them).
 */
export function etalonCounts(replicasets: readonly ReplicasetBuckets[], bucketCount: number): Map<string, number> | null {
  const ordered = [...replicasets].sort((a, b) => compareIds(a.replicasetId, b.replicasetId));
  const etalon = new Map<string, number>();
  const fixed = new Set<string>();
  let remaining = bucketCount;
  for (;;) {
    const free = ordered.filter((r) => !fixed.has(r.replicasetId));
    const weightSum = free.reduce((sum, r) => sum + r.weight, 0);
    if (weightSum <= 0) {
      if (remaining > 0) return null;
      for (const r of free) etalon.set(r.replicasetId, 0);
      return etalon;
    }
    const perWeight = remaining / weightSum;
    let surplus = -remaining;
    for (const r of free) {
      const share = Math.ceil(r.weight * perWeight);
      etalon.set(r.replicasetId, share);
      surplus += share;
    }
    for (const r of free) {
      if (surplus === 0) break;
      const exact = r.weight * perWeight;
      if (Math.ceil(exact) !== Math.floor(exact) && etalon.get(r.replicasetId)! > 0) {
        etalon.set(r.replicasetId, etalon.get(r.replicasetId)! - 1);
        surplus--;
      }
    }
    assert(surplus === 0, `etalon rounding left ${surplus} buckets over`);
    const overPinned = free.filter((r) => r.pinned > etalon.get(r.replicasetId)!);
    if (overPinned.length === 0) return etalon;
    for (const r of overPinned) {
      etalon.set(r.replicasetId, r.pinned);
      fixed.add(r.replicasetId);
      remaining -= r.pinned;
    }
  }
}

/** |needed| as a percentage of the etalon; a replicaset that should be empty and is not is infinitely off. */
function disbalancePct(etalon: number, held: number): number {
  if (etalon === held) return 0;
  if (etalon === 0) return Number.POSITIVE_INFINITY;
  return (Math.abs(etalon - held) / etalon) * 100;
}

/**
 * The moves that bring every replicaset to its etalon, or `balanced` when none is off by more
 * than `thresholdPct`. Counts must add up to `bucketCount` (a bucket in flight or unaccounted
 * for makes the plan `impossible`: the caller tries again later).
 */
export function planRebalance(replicasets: readonly ReplicasetBuckets[], bucketCount: number, thresholdPct = DISBALANCE_THRESHOLD_PCT_DEFAULT): RebalancePlan {
  const held = replicasets.reduce((sum, r) => sum + r.active + r.pinned, 0);
  if (held !== bucketCount) return { kind: 'impossible', reason: `replicasets hold ${held} buckets of ${bucketCount}` };
  const etalon = etalonCounts(replicasets, bucketCount);
  if (etalon === null) return { kind: 'impossible', reason: 'no replicaset has weight' };
  let maxDisbalancePct = 0;
  for (const r of replicasets) maxDisbalancePct = Math.max(maxDisbalancePct, disbalancePct(etalon.get(r.replicasetId)!, r.active + r.pinned));
  if (maxDisbalancePct <= thresholdPct) return { kind: 'balanced', etalon, maxDisbalancePct };
  return { kind: 'routes', etalon, maxDisbalancePct, routes: routesTo(replicasets, etalon) };
}

/** Donors' surplus pooled in replicaset order; each receiver in turn takes what it lacks. */
function routesTo(replicasets: readonly ReplicasetBuckets[], etalon: ReadonlyMap<string, number>): BucketRoute[] {
  const ordered = [...replicasets].sort((a, b) => compareIds(a.replicasetId, b.replicasetId));
  const donors = ordered
    .map((r) => ({ id: r.replicasetId, surplus: r.active + r.pinned - etalon.get(r.replicasetId)! }))
    .filter((d) => d.surplus > 0)
    // A donor can send only what is not pinned.
    .map((d) => ({ id: d.id, surplus: Math.min(d.surplus, ordered.find((r) => r.replicasetId === d.id)!.active) }));
  const routes: BucketRoute[] = [];
  let donor = 0;
  for (const receiver of ordered) {
    let needed = etalon.get(receiver.replicasetId)! - (receiver.active + receiver.pinned);
    while (needed > 0 && donor < donors.length) {
      const d = donors[donor]!;
      const count = Math.min(needed, d.surplus);
      if (count > 0) routes.push({ from: d.id, to: receiver.replicasetId, count });
      d.surplus -= count;
      needed -= count;
      if (d.surplus === 0) donor++;
    }
  }
  return routes;
}

/** Replicaset ids in the order the rebalancer takes them (and picks its own instance by). */
export function compareIds(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
