import { describe, expect, it } from 'vitest';
import { normalizeFailureDomain, parseFailureDomain } from '../../core/cluster/failure-domain.ts';
import { grade } from '../../core/cluster/grade.ts';
import { Topology, type JoinRequest } from '../../core/cluster/topology.ts';

const join = (domain: Record<string, string>, extra: Partial<JoinRequest> = {}): JoinRequest => ({
  clusterId: 'demo',
  advertiseAddress: 'nowhere:0',
  failureDomain: normalizeFailureDomain(domain),
  ...extra,
});

function placed(t: Topology, domain: Record<string, string>): string {
  const r = t.join(join(domain));
  if (!r.ok) return r.error.message;
  return r.value.replicasetId;
}

describe('join placement (REFERENCE 1.2)', () => {
  it('follows the rf=3 planet/os example step by step', () => {
    const t = new Topology('demo', 3, []);
    expect(placed(t, { planet: 'Earth' })).toBe('r1');
    expect(placed(t, { planet: 'Earth' })).toBe('r2');
    expect(placed(t, { planet: 'Mars' })).toBe('r1');
    expect(placed(t, { planet: 'Earth', os: 'BSD' })).toBe('r3');
    expect(placed(t, { planet: 'Mars', os: 'BSD' })).toBe('r2');
    expect(placed(t, { os: 'Arch' })).toBe('missing failure domain names: PLANET');
    expect(placed(t, { planet: 'Venus', os: 'Arch' })).toBe('r1');
    expect(placed(t, { planet: 'Venus', os: 'Mac' })).toBe('r2');
    expect(placed(t, { planet: 'Mars', os: 'Mac' })).toBe('r3');
    expect(placed(t, {})).toBe('missing failure domain names: OS, PLANET');
  });

  it('assigns raft ids sequentially and never reuses them; default ids avoid taken names', () => {
    const t = new Topology('demo', 1, []);
    const a = t.join(join({}, { instanceId: 'i2' }));
    expect(a.ok && [a.value.raftId, a.value.instanceId]).toEqual([1, 'i2']);
    const b = t.join(join({}));
    expect(b.ok && [b.value.raftId, b.value.instanceId]).toEqual([2, 'i2-2']);
    const c = t.join(join({}, { instanceId: 'I4' }));
    expect(c.ok && [c.value.raftId, c.value.instanceId]).toEqual([3, 'I4']);
  });

  it('orders replicasets as strings (r10 before r2) and fills the smallest unused id', () => {
    const t = new Topology('demo', 2, []);
    for (const id of ['r1', 'r10', 'r2']) t.join(join({}, { replicasetId: id }));
    expect(placed(t, {})).toBe('r1');
    expect(placed(t, {})).toBe('r10');
    expect(placed(t, {})).toBe('r2');
    expect(placed(t, {})).toBe('r3');
  });

  it('rejects a cluster id mismatch with the exact text, before anything else', () => {
    const t = new Topology('demo', 1, []);
    const r = t.join(join({}, { clusterId: 'wrong-cluster-id' }));
    expect(r.ok ? '' : r.error.message).toBe(
      'cannot join the instance to the cluster: cluster_id mismatch: cluster_id of the instance = "wrong-cluster-id", cluster_id of the cluster = "demo"',
    );
  });

  it('refuses an instance id that is Online, replaces an Offline one with a new raft id', () => {
    const t = new Topology('demo', 1, []);
    const first = t.join(join({}, { instanceId: 'i1' }));
    expect(first.ok).toBe(true);
    if (!first.ok) return;
    t.setCurrentGrade('i1', grade('Online', 1));
    const again = t.join(join({}, { instanceId: 'i1' }));
    expect(again.ok ? '' : again.error.message).toBe('i1 is already joined');
    t.setCurrentGrade('i1', grade('Offline', 1));
    const rejoin = t.join(join({}, { instanceId: 'i1' }));
    expect(rejoin.ok && rejoin.value.raftId).toBe(2);
  });

  it('explicit replicaset ids skip capacity and domain checks', () => {
    const t = new Topology('demo', 1, []);
    t.join(join({ dc: 'a' }, { replicasetId: 'r1' }));
    const r = t.join(join({ dc: 'a' }, { replicasetId: 'r1' }));
    expect(r.ok && r.value.replicasetId).toBe('r1');
  });
});

describe('update_instance (REFERENCE 1.4)', () => {
  it('bumps the incarnation for Online and keeps the current one for Offline/Expelled', () => {
    const t = new Topology('demo', 1, []);
    t.join(join({}, { instanceId: 'i1' }));
    const online = t.updateInstance({ clusterId: 'demo', instanceId: 'i1', targetGrade: 'Online' });
    expect(online.ok && online.value.targetGrade).toEqual(grade('Online', 1));
    t.setCurrentGrade('i1', grade('Online', 1));
    const again = t.updateInstance({ clusterId: 'demo', instanceId: 'i1', targetGrade: 'Online' });
    expect(again.ok && again.value.targetGrade).toEqual(grade('Online', 2));
    const offline = t.updateInstance({ clusterId: 'demo', instanceId: 'i1', targetGrade: 'Offline' });
    expect(offline.ok && offline.value.targetGrade).toEqual(grade('Offline', 1));
  });

  it('reports unknown and expelled instances and enforces required domain names', () => {
    const t = new Topology('demo', 2, []);
    t.join(join({ planet: 'Earth' }, { instanceId: 'i1' }));
    const unknown = t.updateInstance({ clusterId: 'demo', instanceId: 'i9', targetGrade: 'Online' });
    expect(unknown.ok ? '' : unknown.error.message).toBe('unknown instance i9');
    const missing = t.updateInstance({ clusterId: 'demo', instanceId: 'i1', failureDomain: parseFailureDomain('owner=Bob') });
    expect(missing.ok ? '' : missing.error.message).toBe('missing failure domain names: PLANET');
    const added = t.updateInstance({ clusterId: 'demo', instanceId: 'i1', failureDomain: parseFailureDomain('planet=Earth,owner=Bob') });
    expect(added.ok).toBe(true);
    const nowRequired = t.updateInstance({ clusterId: 'demo', instanceId: 'i1', failureDomain: parseFailureDomain('planet=Mars') });
    expect(nowRequired.ok ? '' : nowRequired.error.message).toBe('missing failure domain names: OWNER');
    t.setCurrentGrade('i1', grade('Expelled', 0));
    const expelled = t.updateInstance({ clusterId: 'demo', instanceId: 'i1', targetGrade: 'Online' });
    expect(expelled.ok ? '' : expelled.error.message).toBe('cannot update expelled instance "i1"');
  });

  it('parses and uppercases --failure-domain', () => {
    expect(parseFailureDomain('planet=Earth, os=bsd')).toEqual({ PLANET: 'EARTH', OS: 'BSD' });
    expect(parseFailureDomain('')).toEqual({});
    expect(() => parseFailureDomain('planet')).toThrow(/KEY=VALUE/);
  });
});
