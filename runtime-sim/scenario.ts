import type { SimRandom } from './random.ts';
import type { World, WorldOptions } from './world.ts';

/**
 * A named, reusable simulation: cluster shape, faults, workload and checks. Like FoundationDB's
 * workloads it has phases: `setup` builds the cluster, `run` drives workload and faults (the
 * safety phase, then a healed liveness phase), `check` verifies end-state invariants. Invariant
 * violations are reported through `ctx.violation`; throwing is for bugs in the scenario itself.
 */
/**
 * Limits on the nemesis for a run, which `sim shrink` narrows to find a smaller reproduction of
 * a failure: only the first `nemesisActionsMax` actions take effect, and none of the kinds in
 * `nemesisWithout`. The nemesis still draws every action (its schedule keeps its timing); the
 * ones past the limits are noted as skipped.
 */
export interface FaultLimits {
  readonly nemesisActionsMax?: number;
  readonly nemesisWithout?: readonly string[];
}

export interface ScenarioContext {
  readonly world: World;
  readonly seed: number;
  readonly nodes: number;
  readonly faultLimits: FaultLimits;
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
