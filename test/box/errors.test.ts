import { describe, expect, it } from 'vitest';
import { Box } from '../../core/box/box.ts';
import { MpFloat64 } from '../../core/codec/msgpack.ts';
import { BoxError } from '../../core/box/errors.ts';
import { chapSha1PasswordHash as chapSha1Hash } from '../../core/lib/chap-sha1.ts';
import { captureLog, MemoryDisk } from './helpers.ts';

async function setup(): Promise<Box> {
  const box = await Box.open({ disk: new MemoryDisk(), log: captureLog() });
  const s = await box.createSpace('test', { format: [{ name: 'id', type: 'unsigned' }, { name: 'name', type: 'string' }, { name: 'n', type: 'integer', is_nullable: true }] });
  await s.createIndex('primary');
  await s.insert([1, 'a', 5]);
  return box;
}

async function failure(p: Promise<unknown> | (() => unknown)): Promise<BoxError> {
  try {
    if (typeof p === 'function') p();
    else await p;
  } catch (e) {
    expect(e).toBeInstanceOf(BoxError);
    return e as BoxError;
  }
  throw new Error('expected a BoxError');
}

describe('box errors: Tarantool codes and messages', () => {
  // Tarantool 2.6's wording (the 1.10 one), as test/real/box-differential.test.ts measures it.
  it('reports the common failures', async () => {
    const box = await setup();
    const s = box.space('test');
    const cases: Array<[BoxError, number, string]> = [
      [await failure(s.insert([1, 'b'])), 3, "Duplicate key exists in unique index 'primary' in space 'test'"],
      [await failure(() => box.space(999)), 36, "Space '999' does not exist"],
      [await failure(() => s.index(7)), 35, "No index #7 is defined in space 'test'"],
      [await failure(() => s.get([])), 19, 'Invalid key part count in an exact match (expected 1, got 0)'],
      [await failure(() => s.select([1, 2])), 31, 'Invalid key part count (expected [0..1], got 2)'],
      [await failure(s.update([1], [['=', 5, 'x']])), 37, 'Field 6 was not found in the tuple'],
      [await failure(s.update([1], [['?', 1, 'x']])), 28, 'Unknown UPDATE operation #1: "?"'],
      [await failure(s.update([1], [['+', 1, 1]])), 26, "Argument type in operation '+' on field 2 does not match field type: expected a number"],
      [await failure(s.update([1], [['#', 1, 0]])), 29, 'Field 2 UPDATE error: cannot delete 0 fields'],
      [await failure(s.update([1], [['=', 0, 2]])), 94, "Attempt to modify a tuple field which is part of index 'primary' in space 'test'"],
      [await failure(s.insert(['x', 'a'])), 23, 'Tuple field 1 type does not match one required by operation: expected unsigned'],
      [await failure(s.insert([2])), 39, 'Tuple field 2 required by space format is missing'],
      [await failure(s.update([1], [['+', 2, 2n ** 64n - 1n]])), 95, "Integer overflow when performing '+' operation on field 3"],
      [await failure(box.createSpace('test')), 10, "Space 'test' already exists"],
      [await failure(() => s.select([], { iterator: 'XX' })), 72, "Unknown iterator type 'XX'"],
      [await failure(s.update([1], [[':', 1, -5, 1, 'z']])), 25, 'SPLICE error on field 2: offset is out of bound'],
      // Field numbers, splice offsets and '#' counts are 32-bit in Tarantool.
      [await failure(s.update([1], [['=', 2 ** 40, 1]])), 26, "Argument type in operation '=' on field 1099511627776 does not match field type: expected an integer"],
      [await failure(s.update([1], [['#', 1, 2 ** 32]])), 29, 'Field 2 UPDATE error: cannot delete 0 fields'],
    ];
    for (const [error, code, message] of cases) {
      expect({ code: error.code, message: error.message }).toEqual({ code, message });
    }
    box.readOnly = true;
    const ro = await failure(s.replace([2, 'b']));
    expect([ro.code, ro.codeName, ro.message]).toEqual([7, 'ER_READONLY', "Can't modify data because this instance is in read-only mode."]);
  });

  it('applies update ops with Tarantool rules in both index bases', async () => {
    const box = await setup();
    const s = box.space('test');
    // Splice offsets count from the base too: 0 is the first byte without INDEX_BASE.
    expect(await s.update([1], [['|', -1, 2], ['!', 3, 'tail'], [':', 1, 0, 1, 'A'], ['=', 2, 15]])).toEqual([1, 'A', 15, 'tail']);
    // A field changed in place takes no arithmetic after that, though '=' may overwrite it.
    const double = await failure(s.update([1], [['=', 2, 7], ['|', 2, 8]]));
    expect([double.code, double.message]).toEqual([29, 'Field 3 UPDATE error: double update of the same field']);
    expect(await s.update([1], [[':', 2, 2, 0, '!']], { indexBase: 1 })).toEqual([1, 'A!', 15, 'tail']);
    expect(await s.update([1], [['#', 4, 1], ['-', 3, 20]], { indexBase: 1 })).toEqual([1, 'A!', -5]);
    await s.upsert([1, 'ignored'], [['+', 2, 1], ['=', 9, 'skipped']]);
    expect(s.get([1])).toEqual([1, 'A!', -4]);
  });

  it('a double is the key of the integer it equals, in TREE and HASH indexes alike', async () => {
    const box = await Box.open({ disk: new MemoryDisk(), log: captureLog() });
    const s = await box.createSpace('nums', { format: [{ name: 'id', type: 'unsigned' }, { name: 'x', type: 'number' }] });
    await s.createIndex('pk');
    await s.createIndex('h', { type: 'HASH', parts: [['x', 'number']] });
    await s.insert([1, 1]);
    await s.insert([2, 2n ** 60n]);
    expect(s.get([new MpFloat64(1)], 'h')).toEqual([1, 1]);
    expect(s.get([new MpFloat64(2 ** 60)], 'h')).toEqual([2, 2n ** 60n]);
    for (const x of [new MpFloat64(1), new MpFloat64(2 ** 60)]) {
      const duplicate = await failure(s.insert([3, x]));
      expect([duplicate.code, duplicate.message]).toEqual([3, "Duplicate key exists in unique index 'h' in space 'nums'"]);
    }
    await s.createIndex('t', { parts: [['x', 'number']] });
    expect(s.get([new MpFloat64(1)], 't')).toEqual([1, 1]);
  });

  it('a failed statement in a transaction rolls back only itself; a yield aborts the transaction', async () => {
    const box = await setup();
    const s = box.space('test');
    box.begin();
    void s.insert([2, 'b']);
    const duplicate = s.insert([1, 'dup']);
    await box.commit();
    expect((await failure(duplicate)).code).toBe(3);
    expect(s.select().map((t) => t[0])).toEqual([1, 2]);
    box.begin();
    void s.insert([3, 'c']);
    await Promise.resolve();
    expect(s.get([3])).toBeNull();
    expect((await failure(box.commit())).code).toBe(154);
  });

  it('stores chap-sha1 hashes as Tarantool does', async () => {
    expect(chapSha1Hash('')).toBe('vhvewKp0tNyweZQ+cFKAlsyphfg=');
    const box = await setup();
    await box.createUser('alice', { password: 'secret' });
    expect(box.userByName('alice')?.[4]).toEqual({ 'chap-sha1': chapSha1Hash('secret') });
  });
});

describe('vinyl', () => {
  it('holds a data set far larger than its cache with the same results as memtx', async () => {
    const box = await Box.open({ disk: new MemoryDisk(), log: captureLog(), vinylCacheBytes: 16 * 1024, vinylMemBytesMax: 32 * 1024 });
    const v = await box.createSpace('v', { engine: 'vinyl' });
    const m = await box.createSpace('m');
    for (const s of [v, m]) {
      await s.createIndex('pk');
      await s.createIndex('g', { parts: [[1, 'unsigned']], unique: false });
    }
    for (let i = 0; i < 5000; i++) {
      const t = [i, i % 37, 'x'.repeat(100)];
      await Promise.all([v.replace(t), m.replace(t)]);
      if (i % 7 === 0 && i >= 3) await Promise.all([v.delete([i - 3]), m.delete([i - 3])]);
      if (i % 11 === 0) await Promise.all([v.update([i], [['=', 1, 5]]), m.update([i], [['=', 1, 5]])]);
    }
    expect(v.len()).toBe(m.len());
    expect(v.select()).toEqual(m.select());
    for (const g of [0, 5, 36]) expect(v.index('g').select([g])).toEqual(m.index('g').select([g]));
    expect(v.select([2500], { iterator: 'LT', limit: 20 })).toEqual(m.select([2500], { iterator: 'LT', limit: 20 }));
    expect(v.get([4999])).toEqual(m.get([4999]));
  });
});
