/**
 * npm run bench:box [-- --json]: box on the real LMDB disk in a temp dir, WAL mode `write`.
 * Automatic checkpoints are off during the run (Tarantool's reference ran without one too).
 * The last line printed is the JSON summary.
 *
 * Ratios compare wall-clock rates, as Tarantool's references were measured. On a shared machine
 * wall time also counts the time other processes held the CPU, so each result also gives the
 * rate per second of this process's CPU time (user + system, GC helper threads included) and
 * the run prints the load average: when the load exceeds the cores, trust the CPU-time rate
 * more than the ratio.
 */

import { mkdtempSync, rmSync } from 'node:fs';
import { availableParallelism, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { Box, WAL_STORE } from '../core/box/box.ts';
import { quietLog } from './lib/quiet-log.ts';
import { LmdbDisk } from '../runtime-real/disk.ts';

const ROWS = 200_000;
const GET_OPS = 2_000_000;
const SERIAL_OPS = 50_000;
const CONCURRENT_OPS = 400_000;
const WRITERS = 100;
const TXN_SIZE = 1000;
const TXN_OPS = 500_000;
const SELECT_OPS = 20_000;
const SELECT_ROWS = 100;

const REFERENCE: Readonly<Record<string, number>> = {
  get: 1_780_000,
  replace_serial: 20_560,
  replace_concurrent_100: 382_000,
  replace_txn_1000: 932_000,
};

interface Result {
  name: string;
  opsPerSec: number;
  /** ops per second of this process's CPU time. */
  cpuOpsPerSec: number;
  ratio?: number;
  unit: string;
}

async function measure(name: string, ops: number, unit: string, body: () => Promise<void> | void): Promise<Result> {
  const cpuStart = process.cpuUsage();
  const start = performance.now();
  await body();
  const seconds = (performance.now() - start) / 1000;
  const cpu = process.cpuUsage(cpuStart);
  const opsPerSec = Math.round(ops / seconds);
  const cpuOpsPerSec = Math.round(ops / ((cpu.user + cpu.system) / 1e6));
  const reference = REFERENCE[name];
  return { name, opsPerSec, cpuOpsPerSec, unit, ...(reference !== undefined ? { ratio: Math.round((opsPerSec / reference) * 100) / 100 } : {}) };
}

async function main(): Promise<void> {
  const json = process.argv.includes('--json');
  const loadStart = loadavg()[0]!;
  const dir = mkdtempSync(join(tmpdir(), 'bench-box-'));
  const disk = LmdbDisk.open(dir, { appendLogStores: [WAL_STORE] });
  const box = await Box.open({ disk, log: quietLog, walMode: 'write', checkpointWalRowsMax: 0 });
  const test = await box.createSpace('test');
  await test.createIndex('primary', { parts: [[0, 'unsigned']] });
  const sec = await box.createSpace('sec');
  await sec.createIndex('primary', { parts: [[0, 'unsigned']] });
  await sec.createIndex('group', { parts: [[1, 'unsigned']], unique: false });
  await box.transaction(() => {
    for (let i = 0; i < ROWS; i++) void test.replace([i, 'x']);
  });
  await box.transaction(() => {
    for (let i = 0; i < 100_000; i++) void sec.replace([i, i % 1000, 'x']);
  });
  const results: Result[] = [];

  results.push(
    await measure('get', GET_OPS, 'gets/s', () => {
      let found = 0;
      for (let i = 0; i < GET_OPS; i++) if (test.get([i % ROWS]) !== null) found++;
      if (found !== GET_OPS) throw new Error('get missed rows');
    }),
  );
  results.push(
    await measure('replace_serial', SERIAL_OPS, 'replaces/s', async () => {
      for (let i = 0; i < SERIAL_OPS; i++) await test.replace([i, 'y']);
    }),
  );
  results.push(
    await measure('replace_concurrent_100', CONCURRENT_OPS, 'replaces/s', async () => {
      const perWriter = CONCURRENT_OPS / WRITERS;
      await Promise.all(
        Array.from({ length: WRITERS }, async (_, w) => {
          for (let i = 0; i < perWriter; i++) await test.replace([w * perWriter + i, 'z']);
        }),
      );
    }),
  );
  results.push(
    await measure('replace_txn_1000', TXN_OPS, 'replaces/s', async () => {
      for (let t = 0; t < TXN_OPS / TXN_SIZE; t++) {
        await box.transaction(() => {
          for (let i = 0; i < TXN_SIZE; i++) void test.replace([t * TXN_SIZE + i, 't']);
        });
      }
    }),
  );
  results.push(
    await measure('select_secondary_100', SELECT_OPS * SELECT_ROWS, 'rows/s', () => {
      const group = sec.index('group');
      for (let i = 0; i < SELECT_OPS; i++) {
        if (group.select([i % 1000], { limit: SELECT_ROWS }).length !== SELECT_ROWS) throw new Error('short select');
      }
    }),
  );
  await box.drain();
  await disk.close();
  rmSync(dir, { recursive: true, force: true });

  const load = { start: round2(loadStart), end: round2(loadavg()[0]!), cores: availableParallelism() };
  if (!json) {
    console.log(`box benchmark (LMDB, WAL write); 1-minute load ${load.start} -> ${load.end} on ${load.cores} cores`);
    console.log('name                     ops/s        unit          ratio to Tarantool   ops/cpu-s');
    for (const r of results) {
      console.log(`${r.name.padEnd(24)} ${String(r.opsPerSec).padStart(10)}   ${r.unit.padEnd(12)}  ${String(r.ratio ?? '-').padEnd(19)} ${String(r.cpuOpsPerSec).padStart(10)}`);
    }
  }
  const summary = results.map(({ name, opsPerSec, cpuOpsPerSec, ratio }) => ({ name, opsPerSec, ...(ratio !== undefined ? { ratio } : {}), cpuOpsPerSec }));
  console.log(JSON.stringify({ bench: 'box', load, results: summary }));
}

function round2(x: number): number {
  return Math.round(x * 100) / 100;
}

await main();
