#!/usr/bin/env node
/**
 * `sim`: run, check and fuzz simulation scenarios.
 *
 *   sim list
 *   sim run <scenario> --seed N [--nodes K] [--json] [--trace FILE] [--report FILE.html] [--verbose]
 *   sim check-determinism <scenario> --seed N [--nodes K]
 *   sim fuzz <scenario> --seeds N [--from S] [--nodes K] [--json]
 *   sim shrink <scenario> --seed N [--nodes K] [--runs-max R]
 *     (the fewest nemesis actions under which the seed still fails; `run` replays the result
 *     with --faults-max K --faults-without kind,...)
 *     (ends with the coverage probes: how often each was hit over all seeds, see core/lib/probe.ts)
 *
 * Exit codes: 0 ok, 1 a violation (or nondeterminism), 2 bad usage.
 */

import { spawnSync } from 'node:child_process';
import { closeSync, mkdtempSync, openSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Command, CommanderError, InvalidArgumentError } from 'commander';
import { findScenario, SCENARIOS } from '../scenarios/index.ts';
import { PROBES, type ProbeName } from '../core/lib/probe.ts';
import { renderRunReport, RunDigest } from './report.ts';
import { replayCommand, runScenario, type RunSummary } from './runner.ts';
import type { FaultLimits, Scenario } from './scenario.ts';
import { shrink } from './shrink.ts';
import type { TraceLine } from './trace.ts';
import { NEMESIS_ACTIONS, SKIPPED_SUFFIX } from '../scenarios/lib/nemesis.ts';

const EXIT_OK = 0;
const EXIT_VIOLATION = 1;
const EXIT_USAGE = 2;

function integer(name: string, min: number): (value: string) => number {
  return (value) => {
    const n = Number(value);
    if (!Number.isSafeInteger(n) || n < min) throw new InvalidArgumentError(`${name} must be an integer >= ${min}`);
    return n;
  };
}

function scenarioNamed(name: string): Scenario {
  const scenario = findScenario(name);
  if (scenario === undefined) {
    throw new CommanderError(EXIT_USAGE, 'sim.unknownScenario', `unknown scenario "${name}"; known: ${SCENARIOS.map((s) => s.name).join(', ')}`);
  }
  return scenario;
}

function printSummary(summary: RunSummary, json: boolean, limits: FaultLimits = {}): void {
  const status = summary.ok ? 'ok' : `FAILED (${summary.violations.length} violation${summary.violations.length === 1 ? '' : 's'})`;
  console.log(
    `${summary.scenario} seed=${summary.seed} nodes=${summary.nodes}: ${status}; ${summary.events} events, ` +
      `${(summary.virtualMs / 1000).toFixed(1)} s virtual in ${(summary.wallMs / 1000).toFixed(2)} s wall ` +
      `(x${(summary.virtualMs / Math.max(1, summary.wallMs)).toFixed(1)}), trace ${summary.traceHash}`,
  );
  for (const v of summary.violations.slice(0, 20)) console.log(`  violation: ${v}`);
  if (summary.violations.length > 20) console.log(`  ... and ${summary.violations.length - 20} more`);
  if (!summary.ok) console.log(`  replay: ${replayCommand(summary.scenario, summary.seed, summary.nodes, limits)}`);
  if (json) {
    const { scenario, seed, ok, events, virtualMs, wallMs, traceHash, violations } = summary;
    console.log(JSON.stringify({ scenario, seed, ok, events, virtualMs, wallMs, traceHash, violations }));
  }
}

interface RunFlags {
  seed: number;
  nodes?: number;
  json?: boolean;
  trace?: string;
  report?: string;
  verbose?: boolean;
  faultsMax?: number;
  faultsWithout?: string[];
}

function faultLimitsOf(opts: { faultsMax?: number; faultsWithout?: string[] }): FaultLimits {
  return {
    ...(opts.faultsMax !== undefined ? { nemesisActionsMax: opts.faultsMax } : {}),
    ...(opts.faultsWithout !== undefined ? { nemesisWithout: opts.faultsWithout } : {}),
  };
}

function actionList(value: string): string[] {
  const kinds = value.split(',').map((k) => k.trim()).filter((k) => k !== '');
  const unknown = kinds.filter((k) => !(NEMESIS_ACTIONS as readonly string[]).includes(k));
  if (unknown.length > 0) throw new InvalidArgumentError(`unknown nemesis actions ${unknown.join(', ')}; known: ${NEMESIS_ACTIONS.join(', ')}`);
  return kinds;
}

async function commandRun(name: string, opts: RunFlags): Promise<number> {
  const scenario = scenarioNamed(name);
  const traceFd = opts.trace !== undefined ? openSync(opts.trace, 'w') : undefined;
  // The report collects its events in memory as they are recorded; the hash does not change.
  const digest = opts.report !== undefined ? new RunDigest() : undefined;
  try {
    const summary = await runScenario(scenario, {
      seed: opts.seed,
      ...(opts.nodes !== undefined ? { nodes: opts.nodes } : {}),
      ...(traceFd !== undefined ? { traceFd } : {}),
      ...(digest !== undefined ? { traceSink: (line) => digest.add(line) } : {}),
      ...(opts.verbose ? { verbose: true, logLevel: 'debug' as const } : {}),
      faultLimits: faultLimitsOf(opts),
    });
    if (opts.report !== undefined && digest !== undefined) {
      writeFileSync(opts.report, renderRunReport(summary, digest));
      console.log(`report written to ${opts.report}`);
    }
    printSummary(summary, opts.json ?? false, faultLimitsOf(opts));
    return summary.ok ? EXIT_OK : EXIT_VIOLATION;
  } finally {
    if (traceFd !== undefined) closeSync(traceFd);
  }
}

/** The nemesis actions of a run that took effect, from its trace notes (`nemesis <kind>`). */
function effectiveNemesisActions(lines: readonly TraceLine[]): string[] {
  const actions: string[] = [];
  for (const line of lines) {
    const text = line['text'];
    if (line.kind !== 'scenario' || typeof text !== 'string' || !text.startsWith('nemesis ') || text.endsWith(SKIPPED_SUFFIX)) continue;
    actions.push(text.slice('nemesis '.length));
  }
  return actions;
}

async function commandShrink(name: string, opts: { seed: number; nodes?: number; runsMax: number }): Promise<number> {
  const scenario = scenarioNamed(name);
  const result = await shrink(async (limits) => {
    const notes: TraceLine[] = [];
    const summary = await runScenario(scenario, {
      seed: opts.seed,
      ...(opts.nodes !== undefined ? { nodes: opts.nodes } : {}),
      faultLimits: limits,
      traceSink: (line) => {
        if (line.kind === 'scenario') notes.push(line);
      },
    });
    console.log(`  run ${replayCommand(name, opts.seed, opts.nodes, limits).replace('npm run sim -- run ', '')}: ${summary.ok ? 'passes' : 'fails'}`);
    return { failed: !summary.ok, violations: summary.violations, actions: effectiveNemesisActions(notes) };
  }, opts.runsMax);
  if (result.kind === 'passes') {
    console.log(`${name} seed=${opts.seed} passes: nothing to shrink`);
    return EXIT_OK;
  }
  const { baseline, run, limits } = result;
  console.log(`${name} seed=${opts.seed}: ${baseline.actions.length} nemesis actions -> ${run.actions.length} (${run.actions.join(', ') || 'none'}) in ${result.runs} runs`);
  for (const v of run.violations.slice(0, 10)) console.log(`  violation: ${v}`);
  console.log(`  replay: ${replayCommand(name, opts.seed, opts.nodes, limits)}`);
  return EXIT_VIOLATION;
}

/** Runs the scenario twice in separate processes and compares the traces event by event. */
function commandCheckDeterminism(name: string, opts: { seed: number; nodes?: number }): number {
  scenarioNamed(name);
  const dir = mkdtempSync(join(tmpdir(), 'sim-determinism-'));
  try {
    const runs = [1, 2].map((i) => {
      const trace = join(dir, `run${i}.jsonl`);
      const args = [fileURLToPath(import.meta.url), 'run', name, '--seed', String(opts.seed), '--json', '--trace', trace];
      if (opts.nodes !== undefined) args.push('--nodes', String(opts.nodes));
      const child = spawnSync(process.execPath, [...process.execArgv, ...args], { encoding: 'utf8', maxBuffer: 64 * 1024 * 1024 });
      const lines = child.stdout.trim().split('\n');
      const summary = JSON.parse(lines[lines.length - 1] ?? '{}') as { traceHash?: string };
      return { trace, hash: summary.traceHash, stderr: child.stderr };
    });
    const [a, b] = runs as [(typeof runs)[0], (typeof runs)[0]];
    if (a.hash === undefined || b.hash === undefined) {
      console.log(`a run did not complete:\n${a.stderr}\n${b.stderr}`);
      return EXIT_VIOLATION;
    }
    if (a.hash === b.hash) {
      console.log(`deterministic: ${name} seed=${opts.seed} gave trace ${a.hash} twice`);
      return EXIT_OK;
    }
    const first = firstDivergence(readFileSync(a.trace, 'utf8'), readFileSync(b.trace, 'utf8'));
    console.log(`NONDETERMINISTIC: ${name} seed=${opts.seed}: trace ${a.hash} vs ${b.hash}`);
    console.log(`first diverging event #${first.index}:\n  run 1: ${first.left}\n  run 2: ${first.right}`);
    return EXIT_VIOLATION;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

function firstDivergence(left: string, right: string): { index: number; left: string; right: string } {
  const l = left.split('\n');
  const r = right.split('\n');
  for (let i = 0; i < Math.max(l.length, r.length); i++) {
    if (l[i] !== r[i]) return { index: i + 1, left: l[i] ?? '(end of trace)', right: r[i] ?? '(end of trace)' };
  }
  return { index: -1, left: '(identical lines)', right: '(identical lines)' };
}

async function commandFuzz(name: string, opts: { seeds: number; from: number; nodes?: number; json?: boolean }): Promise<number> {
  const scenario = scenarioNamed(name);
  const startedMs = performance.now();
  const failures: Array<{ seed: number; violation: string; replay: string }> = [];
  const probes = Object.fromEntries(PROBES.map((name) => [name, 0])) as Record<ProbeName, number>;
  for (let seed = opts.from; seed < opts.from + opts.seeds; seed++) {
    const summary = await runScenario(scenario, { seed, ...(opts.nodes !== undefined ? { nodes: opts.nodes } : {}) });
    for (const name of PROBES) probes[name] += summary.probes[name];
    const status = summary.ok ? 'ok' : `FAILED: ${summary.violations[0]!.split('\n')[0]}`;
    console.log(`seed ${seed}: ${status} (${summary.events} events, ${(summary.wallMs / 1000).toFixed(2)} s, trace ${summary.traceHash})`);
    if (!summary.ok) failures.push({ seed, violation: summary.violations[0]!, replay: replayCommand(name, seed, opts.nodes) });
  }
  const wallMs = Math.round(performance.now() - startedMs);
  console.log(`${opts.seeds} seeds, ${failures.length} failing, ${(wallMs / 1000).toFixed(1)} s`);
  for (const f of failures) console.log(`  ${f.replay}`);
  const neverHit = PROBES.filter((name) => probes[name] === 0);
  console.log(`coverage probes: ${PROBES.length - neverHit.length} of ${PROBES.length} reached`);
  for (const name of PROBES) console.log(`  ${String(probes[name]).padStart(9)}  ${name}`);
  if (opts.json) console.log(JSON.stringify({ scenario: name, seeds: opts.seeds, failures, wallMs, probes, probesNeverHit: neverHit }));
  return failures.length === 0 ? EXIT_OK : EXIT_VIOLATION;
}

async function main(argv: string[]): Promise<number> {
  let exitCode = EXIT_OK;
  const program = new Command('sim').description('deterministic simulation of picodata-ts clusters').exitOverride();
  program.command('list').description('list scenarios').action(() => {
    for (const s of SCENARIOS) console.log(`${s.name.padEnd(20)} ${s.description} (default ${s.defaultNodes} nodes)`);
  });
  program
    .command('run <scenario>')
    .requiredOption('--seed <n>', 'seed', integer('--seed', 0))
    .option('--nodes <k>', 'number of instances', integer('--nodes', 1))
    .option('--json', 'print the summary as a JSON line last')
    .option('--trace <file>', 'write every event as a JSON line')
    .option('--report <file>', 'write a self-contained HTML report of the run (timeline, notable events, probes)')
    .option('--verbose', 'echo simulated logs (debug level) to stderr')
    .option('--faults-max <k>', 'only the first k nemesis actions take effect (from sim shrink)', integer('--faults-max', 0))
    .option('--faults-without <kinds>', 'nemesis action kinds that take no effect, comma-separated (from sim shrink)', actionList)
    .action(async (name: string, opts) => {
      exitCode = await commandRun(name, opts);
    });
  program
    .command('shrink <scenario>')
    .description('find the fewest nemesis actions under which a failing seed still fails')
    .requiredOption('--seed <n>', 'seed', integer('--seed', 0))
    .option('--nodes <k>', 'number of instances', integer('--nodes', 1))
    .option('--runs-max <n>', 'runs to spend at most', integer('--runs-max', 1), 60)
    .action(async (name: string, opts) => {
      exitCode = await commandShrink(name, opts);
    });
  program
    .command('check-determinism <scenario>')
    .requiredOption('--seed <n>', 'seed', integer('--seed', 0))
    .option('--nodes <k>', 'number of instances', integer('--nodes', 1))
    .action((name: string, opts) => {
      exitCode = commandCheckDeterminism(name, opts);
    });
  program
    .command('fuzz <scenario>')
    .requiredOption('--seeds <n>', 'how many seeds', integer('--seeds', 1))
    .option('--from <s>', 'first seed', integer('--from', 0), 1)
    .option('--nodes <k>', 'number of instances', integer('--nodes', 1))
    .option('--json', 'print the result as a JSON line last')
    .action(async (name: string, opts) => {
      exitCode = await commandFuzz(name, opts);
    });
  try {
    await program.parseAsync(argv, { from: 'user' });
  } catch (error) {
    if (error instanceof CommanderError) {
      if (error.code === 'commander.helpDisplayed' || error.code === 'commander.version') return EXIT_OK;
      if (error.code === 'sim.unknownScenario') console.error(error.message);
      return EXIT_USAGE;
    }
    throw error;
  }
  return exitCode;
}

process.exitCode = await main(process.argv.slice(2));
