import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { shrink, type ShrinkRun } from '../../runtime-sim/shrink.ts';
import type { FaultLimits } from '../../runtime-sim/scenario.ts';

/**
 * A fake run: the nemesis draws `schedule`; the limits decide which actions take effect; the
 * "bug" shows whenever `culprit` takes effect.
 */
function fakeRun(schedule: readonly string[], culprit: string): { runOnce: (limits: FaultLimits) => Promise<ShrinkRun>; tried: FaultLimits[] } {
  const tried: FaultLimits[] = [];
  const runOnce = async (limits: FaultLimits): Promise<ShrinkRun> => {
    tried.push(limits);
    const actions: string[] = [];
    for (const action of schedule) {
      if (limits.nemesisWithout?.includes(action) === true) continue;
      if (limits.nemesisActionsMax !== undefined && actions.length >= limits.nemesisActionsMax) continue;
      actions.push(action);
    }
    const failed = actions.includes(culprit);
    return { failed, violations: failed ? [`${culprit} broke it`] : [], actions };
  };
  return { runOnce, tried };
}

describe('sim shrink', () => {
  it('narrows a failing run to the one action kind and the shortest prefix that still fail', async () => {
    const { runOnce } = fakeRun(['heal', 'clog_one', 'restart', 'heal', 'isolate_one', 'clog_one', 'isolate_one', 'heal'], 'isolate_one');
    const result = await shrink(runOnce);
    expect(result.kind).toBe('shrunk');
    if (result.kind !== 'shrunk') return;
    expect(result.baseline.actions).toHaveLength(8);
    expect(result.limits).toEqual({ nemesisActionsMax: 1, nemesisWithout: ['clog_one', 'heal', 'restart'] });
    expect(result.run.actions).toEqual(['isolate_one']);
    expect(result.run.violations).toEqual(['isolate_one broke it']);
  });

  it('reports a passing seed as nothing to shrink, after one run', async () => {
    const { runOnce, tried } = fakeRun(['heal', 'clog_one'], 'isolate_one');
    expect(await shrink(runOnce)).toEqual({ kind: 'passes', runs: 1 });
    expect(tried).toEqual([{}]);
  });

  it('never spends more runs than allowed, and keeps only limits that failed', async () => {
    const { runOnce, tried } = fakeRun(Array.from({ length: 64 }, (_, i) => (i === 50 ? 'crash_power' : 'heal')), 'crash_power');
    const result = await shrink(runOnce, 4);
    expect(tried.length).toBeLessThanOrEqual(4);
    expect(result.kind === 'shrunk' && result.run.failed).toBe(true);
  });

  it('the CLI replays its result: --faults-max and --faults-without limit the nemesis of a real run', () => {
    const dir = mkdtempSync(join(tmpdir(), 'sim-shrink-'));
    try {
      const nemesisNotes = (args: readonly string[]): string[] => {
        const trace = join(dir, 'trace.jsonl');
        execFileSync(process.execPath, ['--import', 'tsx', 'runtime-sim/cli.ts', 'run', 'raft-safety', '--seed', '1', '--trace', trace, ...args], { encoding: 'utf8' });
        return readFileSync(trace, 'utf8').split('\n').filter((l) => l.includes('"kind":"scenario"') && l.includes('"text":"nemesis '));
      };
      const free = nemesisNotes([]);
      expect(free.length).toBeGreaterThan(2);
      for (const line of free) expect(line).not.toMatch(/skipped/);
      // Two actions take effect, the rest of the same draws are noted as skipped.
      const limited = nemesisNotes(['--faults-max', '2']);
      expect(limited.filter((l) => !l.includes('skipped (fault limits)'))).toHaveLength(2);
      expect(limited.length).toBeGreaterThan(2);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
