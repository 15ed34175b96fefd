import type { SimRandom } from './random.ts';
import type { World, WorldOptions } from './world.ts';

/**
 * A named, reusable simulation: cluster shape, faults, workload and checks. Like FoundationDB's
 * workloads it has phases: `setup` builds the cluster, `run` drives workload and faults (the
 * safety phase, then a healed liveness phase), `check` verifies end-state invariants. Invariant
 * violations are reported through `ctx.violation`; throwing is for bugs in the scenario itself.
 */
export interface ScenarioContext {
  readonly world: World;
  readonly seed: number;
  readonly nodes: number;
  /** Scenario-level choices (workload, which node to crash): its own fork of the seed. */
  readonly random: SimRandom;
  violation(message: string): void;
  /** Marks a phase or a notable step in the trace. */
  note(text: string): void;
}

export interface Scenario {
  readonly name: string;
  readonly description: string;
  readonly defaultNodes: number;
  /** When set and no --nodes is given, the instance count is drawn from the seed (swarm). */
  nodesFromSeed?(seed: number): number;
  /** Hard bounds that end a run that does not finish by itself (a liveness failure). */
  readonly eventsMax: number;
  readonly virtualMsMax: number;
  /** World settings drawn from the seed (swarm testing: every seed gets its own fault rates). */
  worldOptions?(seed: number, nodes: number, random: SimRandom): Partial<WorldOptions>;
  setup(ctx: ScenarioContext): Promise<void>;
  run(ctx: ScenarioContext): Promise<void>;
  check(ctx: ScenarioContext): Promise<void>;
}
