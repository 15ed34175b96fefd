/**
 * Crash tests in the simulator: a write workload of multi-statement transactions on a SimDisk in
 * fsync mode, a crash (process or power) at a random point, optional disk faults (EIO, rot), then
 * recovery. Checked over many seeds:
 * - every acknowledged commit is present after restart (unless recovery reported corruption);
 * - no transaction is partly visible (each writes the same value to two rows and a counter row);
 * - rot is reported (recovery problems / refusal to start), never served as data.
 */

import { describe, expect, it } from 'vitest';
import { Box } from '../../core/box/box.ts';
import { BoxError } from '../../core/box/errors.ts';
import { NO_DISK_FAULTS, SimDisk, type DiskFaults } from '../../runtime-sim/disk.ts';
import { SimRandom } from '../../runtime-sim/random.ts';
import { Scheduler } from '../../runtime-sim/scheduler.ts';
import { Trace } from '../../runtime-sim/trace.ts';
import { captureLog } from './helpers.ts';

interface Owner {
  alive: boolean;
  fail(e: unknown): void;
}

function owner(): Owner {
  return {
    alive: true,
    fail(e) {
      throw e;
    },
  };
}

const SEEDS = 300;
const stats = { ackedTransactions: 0, corruptionReported: 0, refused: 0 };

/** Runs simulated events, letting promise chains that schedule no event settle in between. */
async function runUntil(scheduler: Scheduler, until: () => boolean, virtualMsMax: number): Promise<void> {
  for (let idleRounds = 0; idleRounds < 50 && !until(); ) {
    const end = await scheduler.run({ until, eventsMax: 2_000_000, virtualMsMax });
    if (end === 'max_virtual_time' || end === 'max_events') return;
    await new Promise<void>((resolve) => setImmediate(resolve));
    idleRounds = end === 'idle' ? idleRounds + 1 : 0;
  }
}

async function runSeed(seed: number): Promise<void> {
  const scheduler = new Scheduler();
  const random = SimRandom.fromSeed(seed);
  const faulty = random.chance(0.5);
  const faults: DiskFaults = faulty
    ? { ...NO_DISK_FAULTS, writeErrorRate: 0.01, fsyncErrorRate: 0.01, rotOnWriteRate: random.chance(0.3) ? 0.002 : 0 }
    : NO_DISK_FAULTS;
  const disk = new SimDisk(1, scheduler, random.fork('disk'), new Trace(), faults);
  const first = owner();
  const log = captureLog();
  let box: Box | null = null;
  const acked = new Map<number, number>();
  let done = false;
  const crashAfterMs = 5 + random.int(60);
  const workload = async (): Promise<void> => {
    box = await Box.open({ disk: disk.forProcess(first), log, walMode: 'fsync', checkpointWalRowsMax: 150 });
    const s = await box.createSpace('t');
    await s.createIndex('pk');
    const writers = Array.from({ length: 5 }, async (_, w) => {
      for (let i = 0; i < 10_000 && first.alive; i++) {
        const value = i + 1;
        const id = w;
        try {
          await box!.transaction(() => {
            void s.replace([id * 3, value]);
            void s.replace([id * 3 + 1, value]);
            void s.replace([id * 3 + 2, value]);
          });
          acked.set(id, value);
        } catch (e) {
          if (!(e instanceof BoxError) && first.alive) throw e;
        }
      }
    });
    await Promise.all(writers);
  };
  let workloadError: unknown = null;
  workload().then(
    () => (done = true),
    (e: unknown) => {
      // Setup can fail on an injected disk error (typed); anything else is a bug.
      if (first.alive && !(e instanceof BoxError)) workloadError = e;
      done = true;
    },
  );
  await runUntil(scheduler, () => done || scheduler.nowMs >= crashAfterMs, 10_000);
  expect(workloadError).toBeNull();
  for (const v of acked.values()) stats.ackedTransactions += v;
  first.alive = false;
  disk.crash(random.chance(0.5) ? 'power' : 'process');
  disk.faults = { ...faults, writeErrorRate: 0, fsyncErrorRate: 0, rotOnWriteRate: 0 };

  const second = owner();
  let recovered: Box | null = null;
  let refused: unknown = null;
  let finished = false;
  Box.open({ disk: disk.forProcess(second), log, walMode: 'fsync' }).then(
    (b) => {
      recovered = b;
      finished = true;
    },
    (e: unknown) => {
      refused = e;
      finished = true;
    },
  );
  await runUntil(scheduler, () => finished, 1_000_000);
  expect(finished).toBe(true);
  if (refused !== null) {
    // Refusing to start is only acceptable with a clear, typed corruption report.
    expect(refused).toBeInstanceOf(BoxError);
    expect(faults.rotOnWriteRate).toBeGreaterThan(0);
    stats.refused++;
    return;
  }
  const b = recovered as unknown as Box;
  const corrupted = b.recoveryProblems.length > 0;
  if (corrupted) stats.corruptionReported++;
  if (corrupted) expect(faults.rotOnWriteRate, b.recoveryProblems.map((p) => p.message).join('; ')).toBeGreaterThan(0);
  if (!b.hasSpace('t') || b.space('t').indexes().length === 0) {
    expect(acked.size === 0 || corrupted).toBe(true);
    return;
  }
  const s = b.space('t');
  for (let w = 0; w < 5; w++) {
    const rows = [0, 1, 2].map((k) => s.get([w * 3 + k]));
    const values = rows.map((r) => (r === null ? 0 : (r[1] as number)));
    // All three rows of a transaction or none: the same value everywhere.
    expect(new Set(values).size).toBe(1);
    if (!corrupted) expect(values[0]).toBeGreaterThanOrEqual(acked.get(w) ?? 0);
  }
}

describe('box crash recovery in the simulator', () => {
  it(`keeps acknowledged fsync commits and never shows half a transaction (${SEEDS} seeds)`, async () => {
    for (let seed = 1; seed <= SEEDS; seed++) {
      try {
        await runSeed(seed);
      } catch (e) {
        throw new Error(`seed ${seed}: ${e instanceof Error ? e.stack : String(e)}`);
      }
    }
    // The workload must have done real work, and rot must have been caught at least once.
    expect(stats.ackedTransactions).toBeGreaterThan(SEEDS * 10);
    expect(stats.corruptionReported + stats.refused).toBeGreaterThan(0);
    console.log('crash test stats', stats);
  });
});
