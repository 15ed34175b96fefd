import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { grade } from '../../core/cluster/grade.ts';
import { applyInstanceUpdate, decodeOp, encodeOp, formatOp, OpDecodeError, type InstanceUpdate } from '../../core/cluster/ops.ts';
import type { Instance } from '../../core/cluster/records.ts';
import { encode } from '../../core/codec/msgpack.ts';

const base: Instance = {
  instanceId: 'i2',
  instanceUuid: '00000000-0000-4000-8000-000000000002',
  raftId: 2,
  replicasetId: 'r1',
  replicasetUuid: '00000000-0000-4000-8000-0000000000r1',
  currentGrade: grade('Online', 1),
  targetGrade: grade('Online', 1),
  failureDomain: { PLANET: 'EARTH' },
};

const updates = fc.record(
  {
    currentGrade: fc.record({ variant: fc.constantFrom('Offline', 'RaftSynced', 'Replicated', 'ShardingInitialized', 'Online', 'Expelled'), incarnation: fc.nat(1000) }),
    targetGrade: fc.record({ variant: fc.constantFrom('Offline', 'Online', 'Expelled'), incarnation: fc.nat(1000) }),
    failureDomain: fc.dictionary(fc.stringMatching(/^[A-Z]{1,6}$/), fc.stringMatching(/^[A-Z]{1,6}$/), { maxKeys: 3 }),
  },
  { requiredKeys: [] },
).map((fields) => ({ kind: 'update_instance', instanceId: 'i2', ...fields }) as InstanceUpdate);

describe('update_instance operation', () => {
  it('round-trips through the log encoding, absent fields staying absent', () => {
    fc.assert(
      fc.property(updates, (update) => {
        expect(decodeOp(encodeOp(update))).toEqual(update);
      }),
      { numRuns: 500 },
    );
  });

  it('changes only the fields it carries', () => {
    fc.assert(
      fc.property(updates, (update) => {
        const after = applyInstanceUpdate(base, update);
        expect(after.currentGrade).toEqual(update.currentGrade ?? base.currentGrade);
        expect(after.targetGrade).toEqual(update.targetGrade ?? base.targetGrade);
        expect(after.failureDomain).toEqual(update.failureDomain ?? base.failureDomain);
        expect({ ...after, currentGrade: 0, targetGrade: 0, failureDomain: 0 }).toEqual({ ...base, currentGrade: 0, targetGrade: 0, failureDomain: 0 });
      }),
      { numRuns: 500 },
    );
  });

  it('a current-grade update and a target-grade update commute', () => {
    const governor: InstanceUpdate = { kind: 'update_instance', instanceId: 'i2', currentGrade: grade('Offline', 1) };
    const request: InstanceUpdate = { kind: 'update_instance', instanceId: 'i2', targetGrade: grade('Offline', 1) };
    const one = applyInstanceUpdate(applyInstanceUpdate(base, governor), request);
    const other = applyInstanceUpdate(applyInstanceUpdate(base, request), governor);
    expect(one).toEqual(other);
    expect(one.currentGrade).toEqual(grade('Offline', 1));
    expect(one.targetGrade).toEqual(grade('Offline', 1));
  });

  it('prints in raft_log form and rejects malformed entries', () => {
    expect(formatOp({ kind: 'update_instance', instanceId: 'i2', currentGrade: grade('Offline', 3) })).toBe('UpdateInstance(i2, current Offline(3))');
    expect(() => decodeOp(encode(['update_instance', 7, null, null, null]))).toThrow(OpDecodeError);
    expect(() => decodeOp(encode(['update_instance', 'i2', ['Sleeping', 1], null, null]))).toThrow(/bad current_grade/);
    expect(() => decodeOp(encode(['update_instance', 'i2', null, ['RaftSynced', 1], null]))).toThrow(/bad target_grade/);
  });
});
