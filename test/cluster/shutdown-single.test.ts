import { describe, expect, it } from 'vitest';
import { simulate, startAll } from './helpers.ts';

describe('graceful shutdown: no livelock between the Offline request and the governor', () => {
  // Regression: the leader's Offline request wrote the whole instance record from its cached
  // view (current grade still Online) while the governor wrote current Offline; whichever
  // applied last won, and the governor downgraded the instance again and again (hundreds of
  // entries) until a quiet moment let the shutdown see current Offline.
  for (const names of [['i1'], ['i1', 'i2', 'i3']]) {
    it(`the governor downgrades the stopping instance once (${names.length} instance(s))`, async () => {
      await simulate(70 + names.length, async (cluster, world) => {
        await startAll(cluster, names);
        const victim = names.at(-1)!;
        const downgradesBefore = world.logs.recent().filter((l) => l.message === 'grade changed' && l.fields['current'] === 'Offline(1)').length;
        world.host(victim).stop('SIGTERM');
        expect(await world.waitFor(() => !world.host(victim).running, 10_000, 10)).toBe(true);
        expect(world.host(victim).history.at(-1)).toEqual({ kind: 'exited', code: 0 });
        const downgrades = world.logs.recent().filter((l) => l.message === 'grade changed' && l.fields['instance_id'] === victim && l.fields['current'] === 'Offline(1)');
        expect(downgrades.length - downgradesBefore).toBe(1);
        expect(world.logs.recent().some((l) => l.host === victim && l.message === 'on_shutdown triggers failed')).toBe(false);
      });
    });
  }
});
