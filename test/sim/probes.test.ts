import { describe, expect, it } from 'vitest';
import { probe, type ProbeName } from '../../core/lib/probe.ts';
import { runScenario } from '../../runtime-sim/runner.ts';
import { findScenario } from '../../scenarios/index.ts';

/** The rare vshard paths the scenario exists to reach: a few seeds together must reach each. */
const VSHARD_RARE_PATHS: readonly ProbeName[] = [
  'vshard.router.write_not_retried',
  'vshard.router.rerouted',
  'vshard.storage.refused',
  'vshard.transfer.unknown_outcome',
  'vshard.recovery.reactivated',
  'vshard.recovery.activated_received',
  'vshard.recovery.dropped_copy',
];

describe('coverage probes in a scenario run', () => {
  it('a run reports the rare paths it reached, the same for the same seed', async () => {
    const scenario = findScenario('vshard-routing')!;
    probe('wal.broken'); // a hit from outside the run must not be counted in it
    const runs = [];
    for (const seed of [1, 2, 3, 4, 5, 6]) runs.push(await runScenario(scenario, { seed }));
    for (const run of runs) expect(run.ok, run.violations.join('\n')).toBe(true);
    // A write whose connection fails mid-call, reroutes, refusals, and transfers a crash or a
    // partition cut half-way, settled by recovery on both sides.
    for (const name of VSHARD_RARE_PATHS) expect(runs.reduce((sum, run) => sum + run.probes[name], 0), name).toBeGreaterThan(0);
    // Nothing the scenario never does, and nothing carried over from an earlier run.
    expect(runs[0]!.probes['wal.broken']).toBe(0);
    const again = await runScenario(scenario, { seed: 1 });
    expect(again.probes).toEqual(runs[0]!.probes);
    expect(again.traceHash).toBe(runs[0]!.traceHash);
  });
});
