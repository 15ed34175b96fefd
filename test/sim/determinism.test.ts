import { execFileSync, spawnSync } from 'node:child_process';
import { cpSync, mkdtempSync, rmSync, writeFileSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { lintSource, lintTree } from '../../scripts/lint-determinism.ts';
import { runScenario } from '../../runtime-sim/runner.ts';
import { World } from '../../runtime-sim/world.ts';
import { smoke } from '../../scenarios/smoke.ts';

describe('determinism lint', () => {
  it('passes on the real tree', () => {
    expect(lintTree(process.cwd())).toEqual([]);
  });

  it('fails a planted Date.now() in core/ (through the CLI, exit code 1)', () => {
    const dir = mkdtempSync(join(tmpdir(), 'lint-'));
    try {
      mkdirSync(join(dir, 'core', 'planted'), { recursive: true });
      writeFileSync(join(dir, 'core', 'planted', 'clock.ts'), 'export const t = () => Date.now();\n');
      const result = spawnSync(process.execPath, ['--import', 'tsx', 'scripts/lint-determinism.ts', dir], { encoding: 'utf8' });
      expect(result.status).toBe(1);
      expect(result.stdout).toContain('core/planted/clock.ts:1: Date (use env.clock)');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('flags each banned source and ignores comments and strings', () => {
    const cases: Array<[string, string]> = [
      ['const x = Math.random();', 'Math.random'],
      ['setTimeout(() => {}, 1);', 'timers'],
      ['const e = process.env.HOME;', 'process'],
      ["import { readFileSync } from 'node:fs';", 'node built-in'],
      ["import pino from 'pino';", 'third-party'],
      ['const r = new WeakRef(o);', 'weak references'],
      ['const d = new Date();', 'Date'],
      ['await import("./x.ts");', 'dynamic import'],
    ];
    for (const [source, rule] of cases) {
      const found = lintSource('core/x.ts', source, false);
      expect(found.length, source).toBeGreaterThan(0);
      expect(found[0]!.rule, source).toContain(rule.split(' ')[0]!);
    }
    expect(lintSource('core/x.ts', "// Date.now() is banned\nconst s = 'Math.random()';\n", false)).toEqual([]);
  });
});

describe('runtime determinism guard', () => {
  it('throws when simulated code reaches for real time', async () => {
    const world = new World({ seed: 1 });
    const host = world.addHost('h');
    await world.run(async () => {
      host.start(() => {
        Date.now();
      });
      await world.sleep(10);
    }, { eventsMax: 100, virtualMsMax: 1000 });
    expect(world.violations.join('\n')).toContain('determinism violation: Date.now()');
    expect(Date.now()).toBeGreaterThan(0); // restored afterwards
  });
});

describe('same seed, same trace', () => {
  it('replays smoke exactly and gives distinct hashes for distinct seeds', async () => {
    const hashes = new Set<string>();
    for (let seed = 1; seed <= 20; seed++) {
      const summary = await runScenario(smoke, { seed, nodes: 12 });
      expect(summary.ok, summary.violations.join('\n')).toBe(true);
      hashes.add(summary.traceHash);
    }
    expect(hashes.size).toBe(20);
    const again = await runScenario(smoke, { seed: 7, nodes: 12 });
    const first = await runScenario(smoke, { seed: 7, nodes: 12 });
    expect(again.traceHash).toBe(first.traceHash);
    expect(again.events).toBe(first.events);
  });

  it('sim check-determinism runs two processes and agrees', () => {
    const out = execFileSync(process.execPath, ['--import', 'tsx', 'runtime-sim/cli.ts', 'check-determinism', 'smoke', '--seed', '3', '--nodes', '8'], { encoding: 'utf8' });
    expect(out).toMatch(/deterministic: smoke seed=3 gave trace [0-9a-f]{16} twice/);
  });
});

describe('a scenario that throws', () => {
  it('fails its own seed with the error as a violation, instead of ending the campaign', async () => {
    const throwing = {
      name: 'throws',
      description: 'a checker with a bug',
      defaultNodes: 1,
      eventsMax: 1_000,
      virtualMsMax: 10_000,
      async setup() {},
      async run(ctx: { world: { sleep(ms: number): Promise<void> } }) {
        await ctx.world.sleep(5);
        throw new Error('checker bug');
      },
      async check() {},
    };
    const summary = await runScenario(throwing as unknown as typeof smoke, { seed: 1 });
    expect(summary.ok).toBe(false);
    expect(summary.violations).toHaveLength(1);
    expect(summary.violations[0]).toMatch(/^the scenario threw at 5 ms virtual: Error: checker bug/);
  });
});
