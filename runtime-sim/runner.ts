import type { FaultLimits, Scenario, ScenarioContext } from './scenario.ts';
import { SimRandom } from './random.ts';
import { World } from './world.ts';
import type { TraceSink } from './trace.ts';
import type { LogLevel } from '../core/env/log.ts';
import { takeProbeHits, type ProbeName } from '../core/lib/probe.ts';

export interface RunOptions {
  readonly seed: number;
  readonly nodes?: number;
  readonly traceFd?: number;
  /** Receives every trace event in memory (see WorldOptions.traceSink). */
  readonly traceSink?: TraceSink;
  readonly logLevel?: LogLevel;
  /** Echo simulated log lines to stderr. */
  readonly verbose?: boolean;
  /** Nemesis limits (sim shrink); none by default. */
  readonly faultLimits?: FaultLimits;
}

/** The contract of `sim run --json` (DESIGN.md, Contracts). */
export interface RunSummary {
  readonly scenario: string;
  readonly seed: number;
  readonly nodes: number;
  readonly ok: boolean;
  readonly events: number;
  readonly virtualMs: number;
  readonly wallMs: number;
  readonly traceHash: string;
  readonly violations: string[];
  /** Hits of every coverage probe (core/lib/probe.ts) during this run, zeros included. */
  readonly probes: Record<ProbeName, number>;
  /** Host names by host id (the `node` of trace events); not part of the `--json` line. */
  readonly hosts: readonly string[];
}

export async function runScenario(scenario: Scenario, options: RunOptions): Promise<RunSummary> {
  const nodes = options.nodes ?? scenario.nodesFromSeed?.(options.seed) ?? scenario.defaultNodes;
  const setupRandom = SimRandom.fromSeed(options.seed).fork('scenario-options');
  const world = new World({
    seed: options.seed,
    ...(options.traceFd !== undefined ? { traceFd: options.traceFd } : {}),
    ...(options.traceSink !== undefined ? { traceSink: options.traceSink } : {}),
    ...(options.logLevel !== undefined ? { logLevel: options.logLevel } : {}),
    ...scenario.worldOptions?.(options.seed, nodes, setupRandom),
  });
  if (options.verbose) {
    world.logs.echo = (line) => process.stderr.write(`${(line.timeMs / 1000).toFixed(3)} ${line.host} ${line.level} ${line.message} ${JSON.stringify(line.fields, (_k, v: unknown) => (typeof v === 'bigint' ? `${v}` : v))}\n`);
  }
  const ctx: ScenarioContext = {
    world,
    seed: options.seed,
    nodes,
    faultLimits: options.faultLimits ?? {},
    random: world.random.fork('scenario'),
    violation: (message) => world.violation(message),
    note: (text) => world.trace.eventText('scenario', world.nowMs, 0, text),
  };
  const startedWallMs = performance.now();
  takeProbeHits(); // count this run only
  const end = await world.run(async () => {
    try {
      ctx.note('setup');
      await scenario.setup(ctx);
      ctx.note('run');
      await scenario.run(ctx);
      ctx.note('check');
      await scenario.check(ctx);
    } catch (error) {
      // A scenario (or a checker) that throws fails its seed; a fuzz campaign goes on.
      world.violation(`the scenario threw at ${world.nowMs.toFixed(0)} ms virtual: ${error instanceof Error ? (error.stack ?? error.message).split('\n').slice(0, 6).join(' | ') : String(error)}`);
    }
  }, { eventsMax: scenario.eventsMax, virtualMsMax: scenario.virtualMsMax });
  const wallMs = performance.now() - startedWallMs;
  if (end !== 'until') world.violation(`run did not finish: ${end.replaceAll('_', ' ')} reached at ${world.nowMs.toFixed(0)} ms virtual`);
  return {
    scenario: scenario.name,
    seed: options.seed,
    nodes,
    ok: world.violations.length === 0,
    events: world.scheduler.eventsRun,
    virtualMs: Math.round(world.nowMs),
    wallMs: Math.round(wallMs),
    traceHash: world.trace.hashHex(),
    violations: [...world.violations],
    probes: takeProbeHits(),
    hosts: world.hosts.map((host) => host.name),
  };
}

/** The command that replays a run (`--nodes` when the run was given or chose a count). */
export function replayCommand(scenario: string, seed: number, nodes: number | undefined, limits: FaultLimits = {}): string {
  const max = limits.nemesisActionsMax !== undefined ? ` --faults-max ${limits.nemesisActionsMax}` : '';
  const without = limits.nemesisWithout !== undefined && limits.nemesisWithout.length > 0 ? ` --faults-without ${limits.nemesisWithout.join(',')}` : '';
  return `npm run sim -- run ${scenario} --seed ${seed}${nodes !== undefined ? ` --nodes ${nodes}` : ''}${max}${without}`;
}
