/**
 * Shrinking a failing seed (`sim shrink`): the smallest fault limits (runtime-sim/scenario.ts,
 * FaultLimits) under which the same seed still fails, so that a bug is read from a run with as
 * few nemesis actions as it needs. Each candidate is a whole deterministic run; a candidate that
 * passes is dropped, one that fails (with any violation) is kept.
 *
 * 1. The number of actions that take effect: binary search for the smallest prefix that fails.
 *    Failure is not monotone in the prefix in general (a later fault can heal an earlier one), so
 *    the result is checked and the search is a heuristic: it never returns limits that pass.
 * 2. Action kinds: each kind that took effect is left out in turn and stays out if the run
 *    still fails.
 * 3. The prefix again, under the kinds left: fewer kinds usually mean a shorter prefix.
 *
 * Sans IO: the run is a callback, so the search is tested with a fake.
 */

import type { FaultLimits } from './scenario.ts';

export interface ShrinkRun {
  readonly failed: boolean;
  readonly violations: readonly string[];
  /** Nemesis actions that took effect, by kind, in order. */
  readonly actions: readonly string[];
}

export type ShrinkResult =
  | { readonly kind: 'passes'; readonly runs: number }
  | { readonly kind: 'shrunk'; readonly limits: FaultLimits; readonly run: ShrinkRun; readonly baseline: ShrinkRun; readonly runs: number };

export async function shrink(runOnce: (limits: FaultLimits) => Promise<ShrinkRun>, runsMax = 60): Promise<ShrinkResult> {
  let runs = 0;
  const attempt = async (limits: FaultLimits): Promise<ShrinkRun | null> => {
    if (runs >= runsMax) return null;
    runs++;
    const run = await runOnce(limits);
    return run.failed ? run : null;
  };
  runs++;
  const baseline = await runOnce({});
  if (!baseline.failed) return { kind: 'passes', runs };
  let best: { limits: FaultLimits; run: ShrinkRun } = { limits: { nemesisActionsMax: baseline.actions.length }, run: baseline };

  const shortestPrefix = async (): Promise<void> => {
    let lo = 0;
    let hi = best.run.actions.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      const limits = { ...best.limits, nemesisActionsMax: mid };
      const run = await attempt(limits);
      if (run !== null) {
        best = { limits, run };
        hi = Math.min(mid, run.actions.length);
      } else lo = mid + 1;
    }
  };

  await shortestPrefix();
  for (const kind of [...new Set(best.run.actions)].sort()) {
    const limits = { ...best.limits, nemesisWithout: [...(best.limits.nemesisWithout ?? []), kind].sort() };
    const run = await attempt(limits);
    if (run !== null) best = { limits, run };
  }
  await shortestPrefix();
  return { kind: 'shrunk', limits: best.limits, run: best.run, baseline, runs };
}
