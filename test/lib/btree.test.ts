import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { BTreeMap, type RangeBounds } from '../../core/lib/btree.ts';

const byNumber = (a: number, b: number): number => a - b;

/** The deliberately simple reference: a sorted array of entries. */
function referenceRange(model: Map<number, number>, b: RangeBounds<number>): Array<[number, number]> {
  const entries = [...model.entries()].sort((x, y) => x[0] - y[0]);
  const inRange = entries.filter(([k]) => {
    if (b.from !== undefined && (b.fromInclusive ?? true ? k < b.from : k <= b.from)) return false;
    if (b.to !== undefined && (b.toInclusive ?? false ? k > b.to : k >= b.to)) return false;
    return true;
  });
  return b.reverse ? inRange.reverse() : inRange;
}

describe('BTreeMap', () => {
  it('keeps order and size across many inserts and deletes', () => {
    const tree = new BTreeMap<number, number>(byNumber);
    for (let i = 0; i < 5000; i++) tree.set((i * 7919) % 5003, i);
    tree.checkInvariants();
    expect(tree.size).toBe(5000);
    for (let i = 0; i < 5000; i += 2) tree.delete((i * 7919) % 5003);
    tree.checkInvariants();
    expect(tree.size).toBe(2500);
    const keys = [...tree.keys()];
    expect(keys).toEqual([...keys].sort((a, b) => a - b));
  });

  it('matches a sorted-array model under random operations (property)', () => {
    const op = fc.oneof(
      fc.record({ kind: fc.constant('set' as const), key: fc.integer({ min: 0, max: 400 }), value: fc.integer() }),
      fc.record({ kind: fc.constant('delete' as const), key: fc.integer({ min: 0, max: 400 }) }),
    );
    const bounds = fc.record({
      from: fc.option(fc.integer({ min: -5, max: 405 }), { nil: undefined }),
      fromInclusive: fc.boolean(),
      to: fc.option(fc.integer({ min: -5, max: 405 }), { nil: undefined }),
      toInclusive: fc.boolean(),
      reverse: fc.boolean(),
    });
    fc.assert(
      fc.property(fc.array(op, { minLength: 100, maxLength: 1500, size: "max" }), fc.array(bounds, { maxLength: 5 }), (ops, ranges) => {
        const tree = new BTreeMap<number, number>(byNumber);
        const model = new Map<number, number>();
        for (const o of ops) {
          if (o.kind === 'set') expect(tree.set(o.key, o.value)).toBe(model.get(o.key)), model.set(o.key, o.value);
          else expect(tree.delete(o.key)).toBe(model.get(o.key)), model.delete(o.key);
        }
        tree.checkInvariants();
        expect(tree.size).toBe(model.size);
        for (const r of ranges) {
          const b = Object.fromEntries(Object.entries(r).filter(([, v]) => v !== undefined)) as RangeBounds<number>;
          expect([...tree.entries(b)]).toEqual(referenceRange(model, b));
        }
        const sorted = [...model.keys()].sort((a, b) => a - b);
        expect(tree.first()?.[0]).toBe(sorted[0]);
        expect(tree.last()?.[0]).toBe(sorted[sorted.length - 1]);
      }),
      { numRuns: 150 },
    );
  });
});
