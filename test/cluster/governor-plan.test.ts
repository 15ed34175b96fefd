import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { grade, type CurrentGradeVariant, type TargetGradeVariant } from '../../core/cluster/grade.ts';
import type { Instance, Replicaset } from '../../core/cluster/records.ts';
import { plan, type GovernorSnapshot, type Plan } from '../../core/governor/plan.ts';

/** An idealized executor: every step succeeds and its effect lands in the snapshot at once. */
function step(s: GovernorSnapshot, p: Plan): GovernorSnapshot {
  const setGrade = (id: string, variant: CurrentGradeVariant, incarnation: number): Instance[] =>
    s.instances.map((i) => (i.instanceId === id ? { ...i, currentGrade: grade(variant, incarnation) } : i));
  const setGrades = (moved: readonly Instance[], variant: CurrentGradeVariant): Instance[] =>
    s.instances.map((i) => {
      const m = moved.find((x) => x.instanceId === i.instanceId);
      return m === undefined ? i : { ...i, currentGrade: grade(variant, m.targetGrade.incarnation) };
    });
  const updateReplicaset = (id: string, f: (r: Replicaset) => Replicaset): Replicaset[] => s.replicasets.map((r) => (r.replicasetId === id ? f(r) : r));
  switch (p.kind) {
    case 'conf_change': {
      const voters = new Set(s.voters);
      const learners = new Set(s.learners);
      for (const c of p.changes) {
        voters.delete(c.nodeId);
        learners.delete(c.nodeId);
        if (c.kind === 'AddNode') voters.add(c.nodeId);
        if (c.kind === 'AddLearnerNode') learners.add(c.nodeId);
      }
      return { ...s, voters: [...voters], learners: [...learners] };
    }
    case 'transfer_leadership':
      return { ...s, selfRaftId: p.toRaftId };
    case 'switch_master':
      return { ...s, replicasets: updateReplicaset(p.replicasetId, (r) => ({ ...r, masterId: p.toInstanceId })) };
    case 'downgrade':
      return { ...s, instances: setGrade(p.instance.instanceId, p.currentGrade.variant, p.currentGrade.incarnation) };
    case 'raft_sync':
      return { ...s, instances: setGrades(p.instances, 'RaftSynced') };
    case 'create_replicaset':
      return { ...s, replicasets: [...s.replicasets, ...p.created.map((c) => c.replicaset)] };
    case 'replication':
      return { ...s, instances: setGrades(p.instances, 'Replicated') };
    case 'sharding_init':
      return { ...s, instances: setGrades(p.instances, 'ShardingInitialized') };
    case 'sharding_boot':
      return { ...s, vshardBootstrapped: true };
    case 'propose_weight':
      return { ...s, replicasets: s.replicasets.map((r) => ({ ...r, weight: p.weights.find((w) => w.replicasetId === r.replicasetId)?.weight ?? r.weight })) };
    case 'skip_sharding':
    case 'to_online':
      return { ...s, instances: setGrades(p.instances, 'Online') };
    case 'update_weights':
      return { ...s, replicasets: s.replicasets.map((r) => (p.replicasetIds.includes(r.replicasetId) ? { ...r, weight: { ...r.weight, state: 'UpToDate' } } : r)) };
    case 'idle':
      return s;
  }
}

function walk(start: GovernorSnapshot, stepsMax = 200): { kinds: string[]; end: GovernorSnapshot } {
  let s = start;
  const kinds: string[] = [];
  for (let n = 0; n < stepsMax; n++) {
    const p = plan(s);
    if (p.kind === 'idle') return { kinds, end: s };
    kinds.push(p.kind);
    s = step(s, p);
  }
  throw new Error(`governor did not settle in ${stepsMax} steps: ${kinds.slice(-10).join(', ')}`);
}

function inst(raftId: number, replicasetId: string, current: [CurrentGradeVariant, number], target: [TargetGradeVariant, number]): Instance {
  return {
    instanceId: `i${raftId}`,
    instanceUuid: `uuid-${raftId}`,
    raftId,
    replicasetId,
    replicasetUuid: `uuid-${replicasetId}`,
    currentGrade: grade(current[0], current[1]),
    targetGrade: grade(target[0], target[1]),
    failureDomain: {},
  };
}

const base = (instances: Instance[], rf: number, voters: number[]): GovernorSnapshot => ({
  selfRaftId: 1,
  voters,
  learners: [],
  confChangePending: false,
  instances,
  replicasets: [],
  replicationFactor: rf,
  vshardBootstrapped: false,
});

describe('governor plan', () => {
  it('walks a single fresh instance to Online in the order of Picodata\'s raft log', () => {
    const { kinds, end } = walk(base([inst(1, 'r1', ['Offline', 0], ['Online', 1])], 1, [1]));
    expect(kinds).toEqual(['raft_sync', 'create_replicaset', 'replication', 'propose_weight', 'sharding_init', 'sharding_boot', 'to_online']);
    expect(end.instances[0]!.currentGrade).toEqual(grade('Online', 1));
    expect(end.replicasets[0]!.weight).toEqual({ value: 1, origin: 'Auto', state: 'UpToDate' });
    expect(end.vshardBootstrapped).toBe(true);
  });

  it('does not bootstrap sharding while the replicaset is short of the replication factor', () => {
    const { kinds, end } = walk(base([inst(1, 'r1', ['Offline', 0], ['Online', 1])], 2, [1]));
    expect(kinds).toEqual(['raft_sync', 'create_replicaset', 'replication', 'skip_sharding']);
    expect(end.vshardBootstrapped).toBe(false);
    // A second member fills r1: it gets weight and sharding is bootstrapped.
    const second = { ...end, instances: [...end.instances, inst(2, 'r1', ['Offline', 0], ['Online', 1])] };
    const after = walk(second);
    expect(after.kinds[0]).toBe('conf_change');
    expect(after.kinds).toContain('sharding_boot');
    expect(after.end.instances.every((i) => i.currentGrade.variant === 'Online')).toBe(true);
  });

  it('redoes replication and sharding for a restarted instance (incarnation + 1)', () => {
    const online = walk(base([inst(1, 'r1', ['Offline', 0], ['Online', 1])], 1, [1])).end;
    const restarted = { ...online, instances: [{ ...online.instances[0]!, targetGrade: grade('Online' as const, 2) }] };
    const { kinds, end } = walk(restarted);
    expect(kinds).toEqual(['raft_sync', 'replication', 'sharding_init', 'to_online']);
    expect(end.instances[0]!.currentGrade).toEqual(grade('Online', 2));
  });

  it('moves every instance that needs the same step together, up to the batch limit', () => {
    const many = Array.from({ length: 70 }, (_, i) => inst(i + 1, `r${i + 1}`, ['Offline', 0], ['Online', 1]));
    const first = plan({ ...base(many, 1, many.map((i) => i.raftId).slice(0, 5)), learners: many.map((i) => i.raftId).slice(5) });
    expect(first.kind).toBe('raft_sync');
    expect(first.kind === 'raft_sync' && first.instances.length).toBe(64);
    const { end } = walk({ ...base(many, 1, [1, 2, 3, 4, 5]), learners: many.map((i) => i.raftId).slice(5) });
    expect(end.instances.every((i) => i.currentGrade.variant === 'Online')).toBe(true);
  });

  it('a leader going Offline hands over leadership, then mastership, then is downgraded', () => {
    const s = walk({ ...base([inst(1, 'r1', ['Offline', 0], ['Online', 1]), inst(2, 'r1', ['Offline', 0], ['Online', 1])], 2, [1]) }).end;
    const leaving = { ...s, instances: s.instances.map((i) => (i.raftId === 1 ? { ...i, targetGrade: grade('Offline' as const, 1) } : i)) };
    const first = plan(leaving);
    expect(first).toEqual({ kind: 'transfer_leadership', toRaftId: 2 });
    const { kinds, end } = walk(step(leaving, first));
    expect(kinds.slice(0, 2)).toEqual(['switch_master', 'downgrade']);
    expect(end.replicasets[0]!.masterId).toBe('i2');
    expect(end.instances[0]!.currentGrade).toEqual(grade('Offline', 1));
  });

  it('a replicaset whose master switch is backing off is planned around: other steps go on, its master is not downgraded', () => {
    const s = walk(base([inst(1, 'r1', ['Offline', 0], ['Online', 1]), inst(2, 'r2', ['Offline', 0], ['Online', 1]), inst(3, 'r2', ['Offline', 0], ['Online', 1])], 1, [1])).end;
    // i2, r2's master, went away; a newcomer i4 wants to join r1.
    const stuck: GovernorSnapshot = {
      ...s,
      instances: [...s.instances.map((i) => (i.raftId === 2 ? { ...i, targetGrade: grade('Offline' as const, 1) } : i)), inst(4, 'r1', ['Offline', 0], ['Online', 1])],
      learners: [...s.learners, 4],
    };
    expect(plan(stuck)).toMatchObject({ kind: 'switch_master', replicasetId: 'r2', fromInstanceId: 'i2' });
    const blocked = { ...stuck, masterSwitchBlocked: new Set(['r2']) };
    const { kinds, end } = walk(blocked);
    expect(kinds).not.toContain('switch_master');
    expect(end.instances.find((i) => i.raftId === 4)!.currentGrade.variant).toBe('Online');
    expect(end.instances.find((i) => i.raftId === 2)!.currentGrade.variant).toBe('Online');
    expect(end.replicasets.find((r) => r.replicasetId === 'r2')!.masterId).toBe('i2');
    // Once the backoff is over the switch comes first again.
    expect(plan({ ...end, masterSwitchBlocked: new Set() })).toMatchObject({ kind: 'switch_master', replicasetId: 'r2' });
  });

  it('settles any reachable cluster state with current grades at their targets (property)', () => {
    const spec = fc.record({
      replicaset: fc.constantFrom('r1', 'r2', 'r3'),
      current: fc.constantFrom<CurrentGradeVariant>('Offline', 'RaftSynced', 'Replicated', 'ShardingInitialized', 'Online'),
      target: fc.constantFrom<TargetGradeVariant>('Offline', 'Online', 'Online', 'Expelled'),
      inc: fc.integer({ min: 0, max: 3 }),
      bump: fc.integer({ min: 0, max: 1 }),
    });
    fc.assert(
      fc.property(fc.array(spec, { minLength: 1, maxLength: 9 }), fc.integer({ min: 1, max: 3 }), fc.boolean(), (specs, rf, bootstrapped) => {
        const instances = specs.map((x, i) => inst(i + 1, x.replicaset, [x.current, x.inc], [x.target, x.inc + x.bump]));
        const replicasets: Replicaset[] = [...new Set(instances.filter((i) => i.currentGrade.variant !== 'Offline').map((i) => i.replicasetId))].map((id) => ({
          replicasetId: id,
          replicasetUuid: `uuid-${id}`,
          masterId: instances.find((i) => i.replicasetId === id)!.instanceId,
          weight: { value: 0, origin: 'Auto', state: 'Initial' },
          currentSchemaVersion: 0,
        }));
        const { end } = walk({ ...base(instances, rf, [1]), replicasets, vshardBootstrapped: bootstrapped });
        for (const i of end.instances) {
          if (i.targetGrade.variant === 'Online') expect(i.currentGrade).toEqual(grade('Online', i.targetGrade.incarnation));
          else expect(i.currentGrade.variant).toBe(i.targetGrade.variant);
        }
      }),
      { numRuns: 3000 },
    );
  });
});
