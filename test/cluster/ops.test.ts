import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { grade, gradeEquals } from '../../core/cluster/grade.ts';
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
    ifTargetGrade: fc.oneof(fc.constant(base.targetGrade), fc.record({ variant: fc.constantFrom('Offline', 'Online', 'Expelled'), incarnation: fc.nat(3) })),
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

  it('changes only the fields it carries, the current grade only for the target it was planned for', () => {
    fc.assert(
      fc.property(updates, (update) => {
        const after = applyInstanceUpdate(base, update);
        const planned = update.ifTargetGrade === undefined || gradeEquals(update.ifTargetGrade, base.targetGrade);
        const current = (planned ? update.currentGrade : undefined) ?? base.currentGrade;
        expect(after.currentGrade).toEqual(current);
        const target = update.targetGrade;
        expect(after.targetGrade).toEqual(target === undefined ? base.targetGrade : grade(target.variant, Math.max(target.incarnation, current.incarnation)));
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

  it('keeps the current incarnation at or below the target one whatever order steps and requests from older views commit in', () => {
    // Each action is computed from some earlier view of the record, as the governor and the
    // leader's request handling do, and committed later (vshard-routing seed 9076 was
    // Online(4) planned, Offline(1) requested, both committed, then Online(2) requested).
    const action = fc.record({ kind: fc.constantFrom('step', 'online', 'offline'), viewsBack: fc.nat(4), variant: fc.constantFrom('RaftSynced', 'Replicated', 'Online', 'Offline') });
    fc.assert(
      fc.property(fc.array(action, { maxLength: 40 }), (actions) => {
        const views: Instance[] = [{ ...base, currentGrade: grade('Offline', 0), targetGrade: grade('Offline', 0) }];
        for (const a of actions) {
          const now = views[views.length - 1]!;
          const view = views[Math.max(0, views.length - 1 - a.viewsBack)]!;
          const update: InstanceUpdate =
            a.kind === 'step'
              ? { kind: 'update_instance', instanceId: 'i2', currentGrade: grade(a.variant, view.targetGrade.incarnation), ifTargetGrade: view.targetGrade }
              : a.kind === 'online'
                ? { kind: 'update_instance', instanceId: 'i2', targetGrade: grade('Online', view.targetGrade.incarnation + 1) }
                : { kind: 'update_instance', instanceId: 'i2', targetGrade: grade('Offline', view.currentGrade.incarnation) };
          const next = applyInstanceUpdate(now, update);
          expect(next.currentGrade.incarnation).toBeLessThanOrEqual(next.targetGrade.incarnation);
          views.push(next);
        }
      }),
      { numRuns: 2000 },
    );
  });

  it('drops a governor step planned for a target that changed, in either commit order (seed 9076)', () => {
    const record: Instance = { ...base, currentGrade: grade('Offline', 1), targetGrade: grade('Online', 4) };
    const step: InstanceUpdate = { kind: 'update_instance', instanceId: 'i2', currentGrade: grade('RaftSynced', 4), ifTargetGrade: grade('Online', 4) };
    const offline: InstanceUpdate = { kind: 'update_instance', instanceId: 'i2', targetGrade: grade('Offline', 1) };
    const stepLast = applyInstanceUpdate(applyInstanceUpdate(record, offline), step);
    expect([stepLast.currentGrade, stepLast.targetGrade]).toEqual([grade('Offline', 1), grade('Offline', 1)]);
    const offlineLast = applyInstanceUpdate(applyInstanceUpdate(record, step), offline);
    expect([offlineLast.currentGrade, offlineLast.targetGrade]).toEqual([grade('RaftSynced', 4), grade('Offline', 4)]);
    const decoded = decodeOp(encodeOp(step));
    expect(decoded).toEqual(step);
    expect(formatOp(step)).toBe('UpdateInstance(i2, current RaftSynced(4), if target Online(4))');
  });

  it('prints in raft_log form and rejects malformed entries', () => {
    expect(formatOp({ kind: 'update_instance', instanceId: 'i2', currentGrade: grade('Offline', 3) })).toBe('UpdateInstance(i2, current Offline(3))');
    expect(() => decodeOp(encode(['update_instance', 7, null, null, null]))).toThrow(OpDecodeError);
    expect(() => decodeOp(encode(['update_instance', 'i2', ['Sleeping', 1], null, null]))).toThrow(/bad current_grade/);
    expect(() => decodeOp(encode(['update_instance', 'i2', null, ['RaftSynced', 1], null]))).toThrow(/bad target_grade/);
  });
});
