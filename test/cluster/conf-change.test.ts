import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { grade, type CurrentGradeVariant, type TargetGradeVariant } from '../../core/cluster/grade.ts';
import type { Instance } from '../../core/cluster/records.ts';
import { planConfChange, votersNeeded, type ConfChangeSingle } from '../../core/governor/conf-change.ts';

function inst(raftId: number, current: CurrentGradeVariant, target: TargetGradeVariant, domain: Record<string, string> = {}): Instance {
  return {
    instanceId: `i${raftId}`,
    instanceUuid: '',
    raftId,
    replicasetId: 'r1',
    replicasetUuid: '',
    currentGrade: grade(current, 1),
    targetGrade: grade(target, 1),
    failureDomain: domain,
  };
}

const fmt = (changes: ConfChangeSingle[]): string[] => changes.map((c) => `${c.kind}(${c.nodeId})`).sort();

/** Applies changes to (voters, learners) the way Raft would. */
function applied(voters: number[], learners: number[], changes: ConfChangeSingle[]): { voters: Set<number>; learners: Set<number> } {
  const v = new Set(voters);
  const l = new Set(learners);
  for (const c of changes) {
    v.delete(c.nodeId);
    l.delete(c.nodeId);
    if (c.kind === 'AddNode') v.add(c.nodeId);
    if (c.kind === 'AddLearnerNode') l.add(c.nodeId);
  }
  return { voters: v, learners: l };
}

describe('raft voter planning (REFERENCE 1.6 unit facts)', () => {
  it('voters needed: 1->1, 2->2, 3-4->3, 5+->5', () => {
    expect([1, 2, 3, 4, 5, 6, 200].map(votersNeeded)).toEqual([1, 2, 3, 3, 5, 5, 5]);
  });

  it('voter 1 and an Offline instance 2 -> AddLearner(2)', () => {
    expect(fmt(planConfChange([inst(1, 'Online', 'Online'), inst(2, 'Offline', 'Offline')], [1], []))).toEqual(['AddLearnerNode(2)']);
  });

  it('two Online instances, voters [1] -> AddNode(2) (2 instances = 2 voters)', () => {
    expect(fmt(planConfChange([inst(1, 'Online', 'Online'), inst(2, 'Online', 'Online')], [1], []))).toEqual(['AddNode(2)']);
  });

  it('2 goes Online->Offline with voters [1,2] and no spare -> nothing', () => {
    expect(fmt(planConfChange([inst(1, 'Online', 'Online'), inst(2, 'Online', 'Offline')], [1, 2], []))).toEqual([]);
  });

  it('5 instances with 3 voters -> AddNode(4), AddNode(5)', () => {
    const all = [1, 2, 3, 4, 5].map((id) => inst(id, 'Online', 'Online'));
    expect(fmt(planConfChange(all, [1, 2, 3], [4, 5]))).toEqual(['AddNode(4)', 'AddNode(5)']);
  });

  it('expelling 1 of 5 voters -> AddLearnerNode(4), RemoveNode(5)', () => {
    const all = [1, 2, 3, 4].map((id) => inst(id, 'Online', 'Online'));
    all.push(inst(5, 'Expelled', 'Expelled'));
    expect(fmt(planConfChange(all, [1, 2, 3, 4, 5], []))).toEqual(['AddLearnerNode(4)', 'RemoveNode(5)']);
  });

  it('an Offline voter hands its vote to an Online learner', () => {
    const all = [inst(1, 'Online', 'Online'), inst(2, 'Online', 'Online'), inst(3, 'Offline', 'Offline'), inst(4, 'Online', 'Online')];
    expect(fmt(planConfChange(all, [1, 2, 3], [4]))).toEqual(['AddLearnerNode(3)', 'AddNode(4)']);
  });

  it('never demotes or removes the leader itself', () => {
    const all = [inst(1, 'Online', 'Expelled'), inst(2, 'Online', 'Online'), inst(3, 'Online', 'Online'), inst(4, 'Online', 'Online')];
    const changes = planConfChange(all, [1, 2, 3], [4], 1);
    expect(changes.some((c) => c.nodeId === 1)).toBe(false);
    // Once the governor moved leadership away (2 leads) and set current Expelled, 1 is removed.
    const gone = [inst(1, 'Expelled', 'Expelled'), ...all.slice(1)];
    expect(fmt(planConfChange(gone, [1, 2, 3], [4], 2))).toEqual(['AddNode(4)', 'RemoveNode(1)']);
  });

  it('spreads voters across failure domains', () => {
    const all = [
      inst(1, 'Online', 'Online', { DC: 'A' }),
      inst(2, 'Online', 'Online', { DC: 'A' }),
      inst(3, 'Online', 'Online', { DC: 'A' }),
      inst(4, 'Online', 'Online', { DC: 'B' }),
      inst(5, 'Online', 'Online', { DC: 'C' }),
      inst(6, 'Online', 'Online', { DC: 'B' }),
    ];
    const result = applied([1], [], planConfChange(all, [1], []));
    const domains = new Set([...result.voters].map((id) => all[id - 1]!.failureDomain['DC']));
    expect(result.voters.size).toBe(5);
    expect(domains).toEqual(new Set(['A', 'B', 'C']));
  });

  it('converges: planning again after applying the plan changes nothing (property)', () => {
    const instanceArb = fc.record({
      current: fc.constantFrom<CurrentGradeVariant>('Offline', 'Online', 'Replicated', 'Expelled'),
      target: fc.constantFrom<TargetGradeVariant>('Offline', 'Online', 'Expelled'),
      dc: fc.constantFrom('A', 'B', 'C'),
    });
    fc.assert(
      fc.property(fc.array(instanceArb, { minLength: 1, maxLength: 12 }), fc.array(fc.boolean(), { maxLength: 12 }), (specs, isVoter) => {
        const all = specs.map((s, i) => inst(i + 1, s.current, s.target, { DC: s.dc }));
        const voters = all.filter((_, i) => isVoter[i]).map((x) => x.raftId);
        const learners = all.filter((_, i) => !isVoter[i]).map((x) => x.raftId);
        const first = planConfChange(all, voters, learners);
        const after = applied(voters, learners, first);
        expect(planConfChange(all, [...after.voters], [...after.learners])).toEqual([]);
        // never more voters than needed, never an expelled member
        const live = all.filter((x) => x.targetGrade.variant !== 'Expelled' && x.currentGrade.variant !== 'Expelled');
        const present = all.filter((x) => x.currentGrade.variant !== 'Expelled');
        for (const id of after.voters) expect(present.some((x) => x.raftId === id)).toBe(true);
        for (const id of after.learners) expect(present.some((x) => x.raftId === id)).toBe(true);
        expect([...after.voters].filter((id) => live.some((x) => x.raftId === id)).length).toBeLessThanOrEqual(votersNeeded(live.length));
      }),
      { numRuns: 2000 },
    );
  });
});
