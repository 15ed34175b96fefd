/**
 * Model-based property test: random operation sequences (insert, replace, update, upsert,
 * delete, transactions with commit and rollback) against a deliberately simple model (an array
 * of tuples, scanned and sorted on every read). The space has a 2-part primary key, a unique
 * secondary with a nullable part and a non-unique secondary; every read path is compared.
 */

import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { Box } from '../../core/box/box.ts';
import { BoxError } from '../../core/box/errors.ts';
import { compareValues } from '../../core/box/tuple-compare.ts';
import type { MpValue } from '../../core/codec/msgpack.ts';
import { captureLog, MemoryDisk } from './helpers.ts';

type Row = [number, string, number | null, number];
const PK = [0, 1];
const UQ = [2];
const NU = [3, 0];

function keyOf(t: readonly MpValue[], fields: number[]): MpValue[] {
  return fields.map((f) => t[f] ?? null);
}
function cmpKeys(a: MpValue[], b: MpValue[]): number {
  for (let i = 0; i < Math.min(a.length, b.length); i++) {
    const c = compareValues(a[i], b[i]);
    if (c !== 0) return c;
  }
  return 0;
}

class Model {
  rows: Row[] = [];
  find(pk: MpValue[]): Row | undefined {
    return this.rows.find((r) => cmpKeys(keyOf(r, PK), pk) === 0);
  }
  /** Returns an error code or null, applying the change when valid. */
  put(t: Row, insert: boolean): number | null {
    const old = this.find(keyOf(t, PK));
    if (old && insert) return 3;
    if (t[2] !== null) {
      const dup = this.rows.find((r) => r !== old && r[2] === t[2]);
      if (dup) return 3;
    }
    this.rows = this.rows.filter((r) => r !== old);
    this.rows.push(t);
    return null;
  }
  delete(pk: MpValue[]): void {
    const old = this.find(pk);
    this.rows = this.rows.filter((r) => r !== old);
  }
  sorted(fields: number[], reverse = false): Row[] {
    const out = [...this.rows].sort((a, b) => cmpKeys(keyOf(a, fields), keyOf(b, fields)) || cmpKeys(keyOf(a, PK), keyOf(b, PK)));
    return reverse ? out.reverse() : out;
  }
  clone(): Model {
    const m = new Model();
    m.rows = [...this.rows];
    return m;
  }
}

const key0 = fc.integer({ min: 0, max: 6 });
const key1 = fc.constantFrom('a', 'b', 'c');
const uq = fc.option(fc.integer({ min: 0, max: 8 }), { nil: null });
const nu = fc.integer({ min: 0, max: 3 });
const row = fc.tuple(key0, key1, uq, nu) as fc.Arbitrary<Row>;

type Op =
  | { kind: 'insert' | 'replace'; row: Row }
  | { kind: 'delete'; pk: [number, string] }
  | { kind: 'update'; pk: [number, string]; field: 2 | 3; value: number }
  | { kind: 'upsert'; row: Row; add: number }
  | { kind: 'txn'; ops: Op[]; commit: boolean };

const simple: fc.Arbitrary<Op> = fc.oneof(
  fc.record({ kind: fc.constantFrom('insert' as const, 'replace' as const), row }),
  fc.record({ kind: fc.constant('delete' as const), pk: fc.tuple(key0, key1) }),
  fc.record({ kind: fc.constant('update' as const), pk: fc.tuple(key0, key1), field: fc.constantFrom(2 as const, 3 as const), value: fc.integer({ min: 0, max: 8 }) }),
  fc.record({ kind: fc.constant('upsert' as const), row, add: fc.integer({ min: 1, max: 3 }) }),
);
const op: fc.Arbitrary<Op> = fc.oneof(
  { weight: 4, arbitrary: simple },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('txn' as const), ops: fc.array(simple, { maxLength: 6 }), commit: fc.boolean() }) },
);

/** Applies one op to the model, returning the expected error code (null = success). */
function modelApply(m: Model, o: Op): number | null {
  switch (o.kind) {
    case 'insert':
    case 'replace':
      return m.put([...o.row], o.kind === 'insert');
    case 'delete':
      m.delete(o.pk);
      return null;
    case 'update': {
      const old = m.find(o.pk);
      if (!old) return null;
      const next = [...old] as Row;
      next[o.field] = o.value;
      return m.put(next, false);
    }
    case 'upsert': {
      const old = m.find(keyOf(o.row, PK));
      if (!old) return m.put([...o.row], true);
      const next = [...old] as Row;
      next[3] = old[3] + o.add;
      return m.put(next, false);
    }
    case 'txn':
      return null;
  }
}

async function boxApply(box: Box, o: Op): Promise<number | null> {
  const s = box.space('t');
  const code = (e: unknown): number => {
    if (!(e instanceof BoxError)) throw e;
    return e.code;
  };
  try {
    switch (o.kind) {
      case 'insert':
        await s.insert(o.row);
        return null;
      case 'replace':
        await s.replace(o.row);
        return null;
      case 'delete':
        await s.delete(o.pk);
        return null;
      case 'update':
        await s.update(o.pk, [['=', o.field, o.value]]);
        return null;
      case 'upsert':
        await s.upsert(o.row, [['+', 3, o.add]]);
        return null;
      case 'txn':
        return null;
    }
  } catch (e) {
    return code(e);
  }
}

function checkReads(box: Box, m: Model, probe: Row): void {
  const s = box.space('t');
  expect(s.select()).toEqual(m.sorted(PK));
  expect(s.len()).toBe(m.rows.length);
  expect(s.index('uq').select([], { iterator: 'ALL' })).toEqual(m.sorted(UQ));
  expect(s.index('nu').select([probe[3]])).toEqual(m.sorted(NU).filter((r) => r[3] === probe[3]));
  expect(s.index('nu').select([probe[3]], { iterator: 'REQ' })).toEqual(m.sorted(NU, true).filter((r) => r[3] === probe[3]));
  expect(s.select([probe[0]])).toEqual(m.sorted(PK).filter((r) => r[0] === probe[0]));
  const gt = m.sorted(PK).filter((r) => cmpKeys(keyOf(r, PK), [probe[0], probe[1]]) > 0);
  expect(s.select([probe[0], probe[1]], { iterator: 'GT', limit: 3, offset: 1 })).toEqual(gt.slice(1, 4));
  const le = m.sorted(PK, true).filter((r) => r[0] <= probe[0]);
  expect(s.select([probe[0]], { iterator: 'LE' })).toEqual(le);
  const lt = m.sorted(PK, true).filter((r) => r[0] < probe[0]);
  expect(s.select([probe[0]], { iterator: 'LT' })).toEqual(lt);
  expect(s.count([probe[0]], { iterator: 'GE' })).toBe(m.rows.filter((r) => r[0] >= probe[0]).length);
  if (probe[2] !== null) expect(s.index('uq').get([probe[2]])).toEqual(m.rows.find((r) => r[2] === probe[2]) ?? null);
  // Full keys on unique indexes (select's point lookup), and a nil one on the nullable unique
  // index, which many tuples may share.
  const hit = m.sorted(PK).filter((r) => r[0] === probe[0] && r[1] === probe[1]);
  expect(s.select([probe[0], probe[1]])).toEqual(hit);
  expect(s.select([probe[0], probe[1]], { offset: 1 })).toEqual([]);
  expect(s.select([probe[0], probe[1]], { iterator: 'EQ', limit: 1 })).toEqual(hit);
  expect(s.index('uq').select([probe[2]])).toEqual(m.sorted(UQ).filter((r) => r[2] === probe[2]));
  expect(s.index('uq').select([null], { offset: 1 })).toEqual(m.sorted(UQ).filter((r) => r[2] === null).slice(1));
}

async function newBox(engine: 'memtx' | 'vinyl', disk = new MemoryDisk()): Promise<Box> {
  const box = await Box.open({ disk, log: captureLog(), walMode: 'write', vinylMemBytesMax: 2048, vinylCacheBytes: 4096 });
  const s = await box.createSpace('t', { engine });
  await s.createIndex('pk', { parts: [[0, 'unsigned'], [1, 'string']] });
  await s.createIndex('uq', { parts: [{ field: 2, type: 'unsigned', is_nullable: true }] });
  await s.createIndex('nu', { parts: [[3, 'unsigned']], unique: false });
  return box;
}

async function runOps(box: Box, ops: Op[], probe: Row): Promise<Model> {
  let m = new Model();
  for (const o of ops) {
    if (o.kind !== 'txn') {
      expect(await boxApply(box, o)).toBe(modelApply(m, o));
      continue;
    }
    const before = m.clone();
    const promises: Array<Promise<unknown>> = [];
    box.begin();
    for (const inner of o.ops) {
      const expected = modelApply(m, inner);
      const p = boxApply(box, inner);
      promises.push(p.then((got) => expect(got).toBe(expected)));
    }
    if (o.commit) await box.commit();
    else {
      box.rollback();
      m = before;
    }
    await Promise.all(promises);
    checkReads(box, m, probe);
  }
  checkReads(box, m, probe);
  return m;
}

describe('box model-based', () => {
  for (const engine of ['memtx', 'vinyl'] as const) {
    it(`${engine}: random operations and transactions match the model`, async () => {
      await fc.assert(
        fc.asyncProperty(fc.array(op, { minLength: 1, maxLength: 40 }), row, async (ops, probe) => {
          const box = await newBox(engine);
          await runOps(box, ops, probe);
        }),
        { numRuns: engine === 'memtx' ? 1500 : 400 },
      );
    });
  }

  it('recovery reproduces the state (snapshot + WAL replay)', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(op, { minLength: 1, maxLength: 30 }), fc.integer({ min: 0, max: 30 }), row, async (ops, checkpointAt, probe) => {
        const disk = new MemoryDisk();
        const box = await newBox('memtx', disk);
        const m = await runOps(box, ops.slice(0, checkpointAt), probe);
        await box.checkpoint();
        let model = m;
        for (const o of ops.slice(checkpointAt)) if (o.kind !== 'txn') { await boxApply(box, o); modelApply(model, o); }
        await box.drain();
        const again = await Box.open({ disk, log: captureLog(), walMode: 'write' });
        checkReads(again, model, probe);
        model = new Model();
      }),
      { numRuns: 300 },
    );
  });
});
