import type { Scenario } from '../runtime-sim/scenario.ts';
import { joinStorm } from './join-storm.ts';
import { smoke } from './smoke.ts';

/** Every named scenario, for `sim list` and `sim run <name>`. */
export const SCENARIOS: readonly Scenario[] = [smoke, joinStorm];

export function findScenario(name: string): Scenario | undefined {
  return SCENARIOS.find((s) => s.name === name);
}
