import { describe, expect, it } from 'vitest';
import { checkCas, type CasLogView, type CasPredicate } from '../../core/cluster/cas.ts';
import type { Op } from '../../core/cluster/ops.ts';
import { compareScalar, type Tuple } from '../../core/cluster/table.ts';
import { MpFloat64 } from '../../core/codec/msgpack.ts';

/** A leader's log: entries 1..last with terms, the ones after `firstIndex - 1` still present. */
function view(terms: number[], firstIndex: number, ops: Array<Op | null>, currentTerm = terms[terms.length - 1]!): CasLogView {
  return {
    currentTerm,
    firstIndex,
    lastIndex: terms.length,
    termAt: (i) => (i >= firstIndex - 1 && i >= 1 && i <= terms.length ? terms[i - 1] : undefined),
    *opsAfter(from) {
      for (let i = Math.max(from + 1, firstIndex); i <= terms.length; i++) yield { index: i, op: ops[i - 1] ?? null };
    },
    keyOf: (_space: string, tuple: Tuple) => [tuple[0]],
  };
}

const property = (key: string, value: string): Op => ({ kind: 'dml', dml: { op: 'insert', space: '_picodata_property', tuple: [key, value] } });
const onKey = (index: number, term: number, key: string): CasPredicate => ({
  index,
  term,
  ranges: [{ space: '_picodata_property', keyMin: { kind: 'included', key: [key] }, keyMax: { kind: 'included', key: [key] } }],
});

describe('CaS predicate checks (REFERENCE 1.10, scenario 22)', () => {
  const terms = [1, 1, 1, 1, 1, 2, 2, 2];

  it('rejects a predicate from another term', () => {
    expect(checkCas(view(terms, 1, []), { index: 8, term: 3, ranges: [] })?.message).toBe('operation request from different term 3, current term is 2');
  });

  it('rejects an index beyond the log', () => {
    expect(checkCas(view(terms, 1, []), { index: 2048, term: 2, ranges: [] })?.message).toBe(
      'compare-and-swap request failed: raft entry at index 2048 does not exist yet, the last is 8',
    );
  });

  it('rejects a compacted index but accepts the compacted index itself', () => {
    const compacted = view(terms, 8, []); // entries up to 7 compacted
    expect(checkCas(compacted, { index: 6, term: 2, ranges: [] })?.message).toBe('compare-and-swap request failed: raft index 6 is compacted at 7');
    expect(checkCas(compacted, { index: 7, term: 2, ranges: [] })).toBeNull();
  });

  it('rejects an index whose entry has another term', () => {
    expect(checkCas(view(terms, 1, []), { index: 3, term: 2, ranges: [] })?.message).toBe(
      'compare-and-swap request failed: entry at index 3 has term 1, request implies term 2',
    );
  });

  it('rejects ranges over the DDL tables', () => {
    const r = checkCas(view(terms, 1, []), { index: 8, term: 2, ranges: [{ space: '_picodata_space', keyMin: { kind: 'unbounded' }, keyMax: { kind: 'unbounded' } }] });
    expect(r?.message).toBe('compare-and-swap request failed: space _picodata_space is prohibited for use in a predicate');
  });

  it('fruit/flower: a later write in the range conflicts, one outside it does not', () => {
    const log = view([...terms, 2], 1, [null, null, null, null, null, null, null, null, property('fruit', 'apple')]);
    expect(checkCas(log, onKey(8, 2, 'fruit'))?.message).toBe('compare-and-swap request failed: comparison failed for index 8 as it conflicts with 9');
    expect(checkCas(log, onKey(8, 2, 'flower'))).toBeNull();
  });

  it('respects excluded bounds', () => {
    const log = view([...terms, 2], 1, [null, null, null, null, null, null, null, null, property('b', 'x')]);
    const excluded: CasPredicate = {
      index: 8,
      term: 2,
      ranges: [{ space: '_picodata_property', keyMin: { kind: 'excluded', key: ['b'] }, keyMax: { kind: 'unbounded' } }],
    };
    expect(checkCas(log, excluded)).toBeNull();
    expect(checkCas(log, { ...excluded, ranges: [{ ...excluded.ranges[0]!, keyMin: { kind: 'included', key: ['b'] } }] })?.kind).toBe('conflict');
  });
});

describe('clusterwide table keys', () => {
  it('order a double as the number it holds (a client may send 2.0 for 2)', () => {
    expect(compareScalar(new MpFloat64(1), new MpFloat64(2))).toBeLessThan(0);
    expect(compareScalar(new MpFloat64(2), 2)).toBe(0);
    expect(compareScalar(3, new MpFloat64(2.5))).toBeGreaterThan(0);
    expect(compareScalar(new MpFloat64(9), 'a')).toBeLessThan(0);
  });
});
