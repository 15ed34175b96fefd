import { describe, expect, it } from 'vitest';
import { probe } from '../../core/lib/probe.ts';
import { runScenario } from '../../runtime-sim/runner.ts';
import { findScenario } from '../../scenarios/index.ts';

describe('coverage probes in a scenario run', () => {
  it('a run reports the rare paths it reached, the same for the same seed', async () => {
    const scenario = findScenario('vshard-routing')!;
    probe('wal.broken'); // a hit from outside the run must not be counted in it
    const first = await runScenario(scenario, { seed: 12 });
    const again = await runScenario(scenario, { seed: 12 });
    expect(first.ok).toBe(true);
    // Seed 12 has writes whose connection fails mid-call, and transfers a crash or a partition cut
    // half-way, settled by recovery on both sides.
    expect(first.probes['vshard.router.write_not_retried']).toBeGreaterThan(0);
    expect(first.probes['vshard.router.rerouted']).toBeGreaterThan(0);
    expect(first.probes['vshard.storage.refused']).toBeGreaterThan(0);
    expect(first.probes['vshard.transfer.unknown_outcome']).toBeGreaterThan(0);
    expect(first.probes['vshard.recovery.reactivated']).toBeGreaterThan(0);
    expect(first.probes['vshard.recovery.activated_received']).toBeGreaterThan(0);
    expect(first.probes['vshard.recovery.dropped_copy']).toBeGreaterThan(0);
    // Nothing the scenario never does, and nothing carried over from the first run.
    expect(first.probes['wal.broken']).toBe(0);
    expect(again.probes).toEqual(first.probes);
    expect(again.traceHash).toBe(first.traceHash);
  });
});
