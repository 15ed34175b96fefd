import { describe, expect, it } from 'vitest';
import { LogIndex } from '../../runtime-real/append-log-index.ts';

/** A key of `length` bytes that sorts by `n` (big-endian counter, padded with n's low byte). */
function key(n: number, length: number): Uint8Array {
  const k = new Uint8Array(Math.max(4, length)).fill(n & 0xff);
  new DataView(k.buffer).setUint32(0, n);
  return k;
}

describe('LogIndex', () => {
  it('agrees with a sorted list through long trims (arena compaction), undos and middle removals', () => {
    const index = new LogIndex();
    const model: Array<{ n: number; key: Uint8Array; seq: number; offset: number; length: number }> = [];
    let next = 1;
    let r = 12345;
    const rand = (n: number): number => {
      r = (r * 1103515245 + 12345) % 2147483648;
      return r % n;
    };
    const check = (): void => {
      expect(index.size).toBe(model.length);
      for (let j = 0; j < model.length; j += 1 + rand(50)) {
        const m = model[j]!;
        const i = index.find(m.key);
        expect(i).toBe(index.first + j);
        expect(index.keyAt(i)).toEqual(m.key);
        expect([index.seqAt(i), index.offsetAt(i), index.lengthAt(i)]).toEqual([m.seq, m.offset, m.length]);
      }
      expect(index.find(key(next + 10, 8))).toBe(-1);
      expect(index.lowerBound(key(0, 4))).toBe(index.first);
      expect(index.lowerBound(key(next + 10, 8))).toBe(index.end);
    };
    for (let round = 0; round < 30; round++) {
      const puts = 100 + rand(3000);
      for (let p = 0; p < puts; p++) {
        const m = { n: next, key: key(next, 4 + rand(12)), seq: 1 + rand(5), offset: rand(1e6), length: rand(5000) };
        next++;
        index.push(m.key, m.seq, m.offset, m.length);
        model.push(m);
      }
      const trims = rand(model.length);
      for (let t = 0; t < trims; t++) index.remove(index.first);
      model.splice(0, trims);
      if (model.length > 0 && rand(2) === 0) {
        // An undone newest write: the same key comes back with another place.
        const last = model.pop()!;
        index.remove(index.end - 1);
        const again = { ...last, offset: last.offset + 1 };
        index.push(again.key, again.seq, again.offset, again.length);
        model.push(again);
      }
      if (model.length > 2 && rand(3) === 0) {
        const j = 1 + rand(model.length - 2);
        index.remove(index.first + j);
        model.splice(j, 1);
      }
      check();
    }
  });
});
