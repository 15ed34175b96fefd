/**
 * npm run bench:startup [-- --json] [--runs N] [--tsx]
 *
 * How long `picodata run` takes to reach Online, measured from spawning the process(es) to the
 * moment each instance applies its own current grade Online (its `own current grade changed`
 * log event, to Online(1)):
 * - single_online: one instance bootstrapping a new cluster (goal < 1 s);
 * - cluster4_online: four instances started together on one machine, --init-replication-factor 2,
 *   all pointing at the first (goal < 5 s, the last one to get there counts).
 * The daemon runs from the esbuild bundle (dist/picodata.mjs, what the bin shim runs). `--tsx`
 * adds the same single-instance figure through tsx (runtime-real/cli.ts unbundled) for
 * comparison. Fresh data directories every run; no --script.
 */

import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ensureBundle, ROOT } from '../scripts/bundle.mjs';
import { hasFlag, option, printReport, type BenchResult } from './report.ts';
import { freePort } from '../scripts/free-port.ts';

const ONLINE_TIMEOUT_MS = 30_000;



interface Started {
  readonly child: ChildProcess;
  /** Resolves with ms from spawn to Online. */
  readonly online: Promise<number>;
}

function start(command: readonly string[], args: readonly string[]): Started {
  const spawnedMs = performance.now();
  const child = spawn(process.execPath, [...command, ...args], { stdio: ['ignore', 'ignore', 'pipe'] });
  let buffered = '';
  const online = new Promise<number>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`not Online within ${ONLINE_TIMEOUT_MS} ms:\n${buffered.slice(-3000)}`)), ONLINE_TIMEOUT_MS);
    child.stderr!.setEncoding('utf8').on('data', (chunk: string) => {
      buffered += chunk;
      if (/"msg":"own current grade changed"/.test(chunk) && /"to":"Online\(\d+\)"/.test(buffered)) {
        clearTimeout(timer);
        resolve(performance.now() - spawnedMs);
      }
    });
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`exited with ${code} before Online:\n${buffered.slice(-3000)}`));
    });
  });
  online.catch(() => undefined);
  return { child, online };
}

async function stopAll(started: readonly Started[]): Promise<void> {
  await Promise.all(
    started.map(
      (s) =>
        new Promise<void>((resolve) => {
          if (s.child.exitCode !== null || s.child.signalCode !== null) return resolve();
          s.child.once('exit', () => resolve());
          s.child.kill('SIGKILL');
        }),
    ),
  );
}

async function single(command: readonly string[]): Promise<number> {
  const dir = mkdtempSync(join(tmpdir(), 'bench-startup-'));
  const address = `127.0.0.1:${await freePort()}`;
  const started = start(command, ['run', '--listen', address, '--peer', address, '--data-dir', join(dir, 'i1')]);
  try {
    return await started.online;
  } finally {
    await stopAll([started]);
    rmSync(dir, { recursive: true, force: true });
  }
}

async function cluster(command: readonly string[]): Promise<number> {
  const dir = mkdtempSync(join(tmpdir(), 'bench-startup-'));
  const addresses: string[] = [];
  for (let i = 0; i < 4; i++) addresses.push(`127.0.0.1:${await freePort()}`);
  const started = addresses.map((address, i) =>
    start(command, ['run', '--listen', address, '--peer', addresses[0]!, '--data-dir', join(dir, `i${i + 1}`), '--init-replication-factor', '2']),
  );
  try {
    return Math.max(...(await Promise.all(started.map((s) => s.online))));
  } finally {
    await stopAll(started);
    rmSync(dir, { recursive: true, force: true });
  }
}

function summary(name: string, samples: readonly number[], goalMs: number): BenchResult {
  const sorted = [...samples].sort((a, b) => a - b);
  const medianMs = Math.round(sorted[Math.floor(sorted.length / 2)]!);
  return { name, runs: samples.length, minMs: Math.round(sorted[0]!), medianMs, maxMs: Math.round(sorted[sorted.length - 1]!), goalMs, withinGoal: medianMs < goalMs };
}

async function main(): Promise<void> {
  const runs = Number(option('--runs', '5'));
  const bundle = await ensureBundle('picodata');
  if (bundle === null) throw new Error('esbuild is missing: npm ci');
  const bundled = [bundle];
  const results: BenchResult[] = [];
  const singles: number[] = [];
  for (let r = 0; r < runs; r++) singles.push(await single(bundled));
  results.push(summary('single_online', singles, 1_000));
  const clusters: number[] = [];
  for (let r = 0; r < Math.max(1, Math.ceil(runs / 2)); r++) clusters.push(await cluster(bundled));
  results.push(summary('cluster4_online', clusters, 5_000));
  if (hasFlag('--tsx')) {
    const tsx = ['--import', 'tsx', join(ROOT, 'runtime-real', 'cli.ts')];
    results.push(summary('single_online_tsx', [await single(tsx), await single(tsx)], 1_000));
  }
  printReport('startup', results, true);
}

await main();
