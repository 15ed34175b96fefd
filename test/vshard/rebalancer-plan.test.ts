import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { etalonCounts, planRebalance, type ReplicasetBuckets } from '../../core/vshard/rebalancer-plan.ts';

function rs(replicasetId: string, weight: number, active: number, pinned = 0): ReplicasetBuckets {
  return { replicasetId, weight, active, pinned };
}

function asObject(map: ReadonlyMap<string, number> | null): Record<string, number> | null {
  return map === null ? null : Object.fromEntries(map);
}

describe('etalon bucket counts (REFERENCE 5.4)', () => {
  it('splits by weight, whole shares as they are', () => {
    expect(asObject(etalonCounts([rs('r1', 50, 100), rs('r2', 20, 0), rs('r3', 30, 0)], 100))).toEqual({ r1: 50, r2: 20, r3: 30 });
  });

  it('takes the rounding surplus back from the non-whole shares in replicaset order', () => {
    expect(asObject(etalonCounts([rs('r1', 1, 7), rs('r2', 1, 0), rs('r3', 0, 0)], 7))).toEqual({ r1: 3, r2: 4, r3: 0 });
    expect(asObject(etalonCounts([rs('r1', 1, 3000), rs('r2', 1, 0)], 3000))).toEqual({ r1: 1500, r2: 1500 });
    expect(asObject(etalonCounts([rs('r1', 1, 3000), rs('r2', 1, 0), rs('r3', 1, 0)], 3000))).toEqual({ r1: 1000, r2: 1000, r3: 1000 });
  });

  it('keeps pinned buckets where they are and spreads the rest over the others', () => {
    expect(asObject(etalonCounts([rs('r1', 1, 0, 80), rs('r2', 1, 20), rs('r3', 1, 0)], 100))).toEqual({ r1: 80, r2: 10, r3: 10 });
  });

  it('has nowhere to put buckets when no replicaset has weight', () => {
    expect(etalonCounts([rs('r1', 0, 10), rs('r2', 0, 0)], 10)).toBeNull();
  });
});

describe('rebalance plan', () => {
  it('moves half of the buckets to a second replicaset of equal weight', () => {
    const plan = planRebalance([rs('r1', 1, 3000), rs('r2', 1, 0)], 3000);
    expect(plan.kind).toBe('routes');
    if (plan.kind !== 'routes') return;
    expect(plan.routes).toEqual([{ from: 'r1', to: 'r2', count: 1500 }]);
  });

  it('leaves a disbalance within the threshold alone', () => {
    expect(planRebalance([rs('r1', 1, 1505), rs('r2', 1, 1495)], 3000).kind).toBe('balanced');
    expect(planRebalance([rs('r1', 1, 1520), rs('r2', 1, 1480)], 3000).kind).toBe('routes');
  });

  it('empties a replicaset whose weight is zero', () => {
    const plan = planRebalance([rs('r1', 1, 1000), rs('r2', 0, 2000)], 3000);
    expect(plan.kind === 'routes' && plan.routes).toEqual([{ from: 'r2', to: 'r1', count: 2000 }]);
  });

  it('refuses when the counts do not add up (buckets in flight)', () => {
    expect(planRebalance([rs('r1', 1, 1000), rs('r2', 1, 1999)], 3000)).toEqual({ kind: 'impossible', reason: 'replicasets hold 2999 buckets of 3000' });
  });

  const clusters = fc
    .array(fc.record({ weight: fc.integer({ min: 0, max: 5 }), active: fc.integer({ min: 0, max: 400 }), pinned: fc.integer({ min: 0, max: 40 }) }), { minLength: 1, maxLength: 8 })
    .filter((list) => list.some((r) => r.weight > 0))
    .map((list) => list.map((r, i) => rs(`r${String(i + 1).padStart(2, '0')}`, r.weight, r.active, r.pinned)));

  it('etalons add up to the bucket count and never go below a replicaset pinned count', () => {
    fc.assert(
      fc.property(clusters, (list) => {
        const total = list.reduce((s, r) => s + r.active + r.pinned, 0);
        const etalon = etalonCounts(list, total);
        // Null: pinned buckets took every weighted replicaset out and buckets are left over.
        fc.pre(etalon !== null);
        if (etalon === null) return;
        expect([...etalon.values()].reduce((a, b) => a + b, 0)).toBe(total);
        for (const r of list) expect(etalon.get(r.replicasetId)!).toBeGreaterThanOrEqual(r.pinned);
      }),
    );
  });

  it('without pinned buckets, every etalon is its weight share rounded up or down', () => {
    fc.assert(
      fc.property(clusters, (list) => {
        const plain = list.map((r) => rs(r.replicasetId, r.weight, r.active));
        const total = plain.reduce((s, r) => s + r.active, 0);
        const weights = plain.reduce((s, r) => s + r.weight, 0);
        const etalon = etalonCounts(plain, total)!;
        for (const r of plain) {
          const share = (r.weight * total) / weights;
          expect(etalon.get(r.replicasetId)!).toBeGreaterThanOrEqual(Math.floor(share));
          expect(etalon.get(r.replicasetId)!).toBeLessThanOrEqual(Math.ceil(share));
        }
      }),
    );
  });

  it('applying the routes gives every replicaset exactly its etalon, sending only unpinned buckets', () => {
    fc.assert(
      fc.property(clusters, (list) => {
        const total = list.reduce((s, r) => s + r.active + r.pinned, 0);
        const plan = planRebalance(list, total, 0);
        if (plan.kind === 'impossible') {
          expect(etalonCounts(list, total)).toBeNull();
          return;
        }
        const held = new Map(list.map((r) => [r.replicasetId, r.active + r.pinned]));
        const sent = new Map<string, number>();
        for (const route of plan.kind === 'routes' ? plan.routes : []) {
          expect(route.count).toBeGreaterThan(0);
          expect(route.from).not.toBe(route.to);
          held.set(route.from, held.get(route.from)! - route.count);
          held.set(route.to, held.get(route.to)! + route.count);
          sent.set(route.from, (sent.get(route.from) ?? 0) + route.count);
        }
        for (const r of list) {
          expect(held.get(r.replicasetId)).toBe(plan.etalon.get(r.replicasetId));
          expect(sent.get(r.replicasetId) ?? 0).toBeLessThanOrEqual(r.active);
        }
      }),
    );
  });
});
