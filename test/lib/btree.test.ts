import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { BTreeMap, HintedBTreeSet, type RangeBounds } from '../../core/lib/btree.ts';

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

describe('HintedBTreeSet', () => {
  type Item = { readonly k: number; readonly tag: number };
  const byK = (a: Item, b: Item): number => a.k - b.k;
  // Coarse hints (many items share one), and NaN (no hint) for a band: every case of the
  // hint-then-comparator rule gets exercised.
  const coarseHintOf = (x: Item): number => (x.k >= 100 && x.k < 150 ? NaN : Math.floor(x.k / 7));
  const itemCmp = (x: Item, target: number): number => x.k - target;

  function model(tree: HintedBTreeSet<Item>): number[] {
    const out: number[] = [];
    for (const c = tree.edge(false); c.valid; c.next()) out.push(c.item.k);
    return out;
  }

  // Exact hints: the key itself, NaN for a band.
  const exactHintOf = (x: Item): number => (x.k >= 100 && x.k < 150 ? NaN : x.k);

  it.each([
    ['coarse', coarseHintOf, false],
    ['exact', exactHintOf, true],
    ['exact, never NaN', (x: Item): number => x.k, true],
  ] as const)('matches a sorted-array model under random adds, deletes, replaces and seeks, %s hints (property)', (_, hintOf, exact) => {
    const targetHint = (k: number): number => hintOf({ k, tag: 0 });
    const op = fc.oneof(
      fc.record({ kind: fc.constant('add' as const), key: fc.integer({ min: 0, max: 400 }) }),
      fc.record({ kind: fc.constant('delete' as const), key: fc.integer({ min: 0, max: 400 }) }),
      fc.record({ kind: fc.constant('replace' as const), key: fc.integer({ min: 0, max: 400 }) }),
      // Ascending runs after a find: the finger paths (inside a leaf, appends at the end).
      fc.record({ kind: fc.constant('run' as const), key: fc.integer({ min: 0, max: 400 }), length: fc.integer({ min: 1, max: 120 }) }),
    );
    const seek = fc.record({ key: fc.integer({ min: -5, max: 405 }), mode: fc.constantFrom('ge' as const, 'gt' as const, 'le' as const, 'lt' as const) });
    fc.assert(
      fc.property(fc.array(op, { minLength: 100, maxLength: 1500, size: 'max' }), fc.array(seek, { maxLength: 20 }), (ops, seeks) => {
        const tree = new HintedBTreeSet<Item>(byK, hintOf, exact);
        const m = new Map<number, Item>();
        for (const o of ops) {
          const item = { k: o.key, tag: 1 };
          if (o.kind === 'add') {
            expect(tree.add(item)).toBe(!m.has(o.key));
            if (!m.has(o.key)) m.set(o.key, item);
          } else if (o.kind === 'run') {
            tree.find(o.key, targetHint(o.key), itemCmp);
            for (let k = o.key; k < o.key + o.length; k++) {
              const fresh = { k, tag: 1 };
              expect(tree.add(fresh)).toBe(!m.has(k));
              if (!m.has(k)) m.set(k, fresh);
            }
            tree.checkInvariants();
          } else if (o.kind === 'delete') {
            expect(tree.delete(item)).toBe(m.get(o.key));
            m.delete(o.key);
          } else {
            const old = tree.find(o.key, targetHint(o.key), itemCmp);
            expect(old).toBe(m.get(o.key));
            if (old === undefined) continue;
            const next = { k: o.key, tag: old.tag + 1 };
            // Half the time through the finger, half after it went stale.
            if (o.key % 2 === 0) tree.find(-1, targetHint(-1), itemCmp);
            tree.replace(old, next);
            m.set(o.key, next);
          }
        }
        tree.checkInvariants();
        const sorted = [...m.keys()].sort((a, b) => a - b);
        expect(tree.size).toBe(m.size);
        expect(model(tree)).toEqual(sorted);
        for (const k of sorted) expect(tree.find(k, targetHint(k), itemCmp)).toBe(m.get(k));
        for (const s of seeks) {
          const c = tree.seek(s.key, targetHint(s.key), itemCmp, s.mode);
          expect(tree.find(s.key, targetHint(s.key), itemCmp)).toBe(m.get(s.key));
          const expected =
            s.mode === 'ge' ? sorted.find((k) => k >= s.key)
            : s.mode === 'gt' ? sorted.find((k) => k > s.key)
            : s.mode === 'le' ? sorted.findLast((k) => k <= s.key)
            : sorted.findLast((k) => k < s.key);
          expect(c.valid ? c.item.k : undefined).toBe(expected);
        }
      }),
      { numRuns: 150 },
    );
  });

  it('walks both ways across leaves; replace moves an item or refuses a duplicate', () => {
    const hintOf = coarseHintOf;
    const targetHint = (k: number): number => hintOf({ k, tag: 0 });
    const tree = new HintedBTreeSet<Item>(byK, hintOf);
    for (let i = 0; i < 3001; i++) tree.add({ k: (i * 7919) % 3001, tag: 0 });
    tree.checkInvariants();
    const back: number[] = [];
    for (const c = tree.edge(true); c.valid; c.prev()) back.push(c.item.k);
    expect(back).toEqual(model(tree).reverse());
    const five = tree.find(5, targetHint(5), itemCmp)!;
    expect(() => tree.replace(five, { k: 6, tag: 0 })).toThrow(/already in the set/);
    expect(() => tree.replace({ k: 5, tag: 9 }, { k: 5, tag: 0 })).toThrow(/not in the set/);
    tree.replace(five, { k: 3001, tag: 0 }); // a different place: delete + add
    expect(tree.find(5, targetHint(5), itemCmp)).toBeUndefined();
    tree.checkInvariants();
    for (let i = 0; i < 3001; i += 3) tree.delete({ k: i, tag: 0 });
    tree.checkInvariants();
    expect(tree.size).toBe(2000);
  });

  it('keeps its invariants through inner splits and merges (tens of thousands of items)', () => {
    const hintOf = (x: Item): number => (x.k % 1000 === 7 ? NaN : x.k);
    const tree = new HintedBTreeSet<Item>(byK, hintOf, true);
    const n = 60_000;
    // Random order, then ascending appends: both the descent and the finger paths split.
    for (let i = 0; i < n; i++) tree.add({ k: (i * 7919) % n, tag: 0 });
    for (let k = n; k < n + 20_000; k++) tree.add({ k, tag: 0 });
    tree.checkInvariants();
    expect(tree.size).toBe(n + 20_000);
    for (let i = 0; i < n + 20_000; i += 3) expect(tree.delete({ k: (i * 7919) % (n + 20_000), tag: 0 })).toBeDefined();
    tree.checkInvariants();
    for (let i = 0; i < n + 20_000; i++) if (i % 5 !== 0) tree.delete({ k: i, tag: 0 });
    tree.checkInvariants();
    const left: number[] = [];
    for (const c = tree.edge(false); c.valid; c.next()) left.push(c.item.k);
    expect(left.length).toBe(tree.size);
    for (const k of left) expect(tree.find(k, hintOf({ k, tag: 0 }), (x, t: number) => x.k - t)?.k).toBe(k);
  });
});
