/**
 * `picodata status` output (admin guide 15.2, the `picodata-list.sh` view): the instance table
 * has the guide's columns in the guide's order with grades printed the guide's way,
 * `["Online",1]`, and then our extra `raft_role`.
 */

import { describe, expect, it } from 'vitest';
import { formatStatus } from '../../runtime-real/admin.ts';
import type { ClusterStatus, InstanceRow } from '../../runtime-real/cluster-info.ts';

function instance(id: string, raftId: number, current: [string, number], target: [string, number]): InstanceRow {
  return {
    instance_id: id,
    instance_uuid: `uuid-${id}`,
    raft_id: raftId,
    peer_address: `localhost:330${raftId}`,
    replicaset_id: 'r1',
    replicaset_uuid: 'e0df68c5-e7f9-395f-86b3-30ad9e1b7b07',
    current_grade: { variant: current[0], incarnation: current[1] },
    target_grade: { variant: target[0], incarnation: target[1] },
    failure_domain: {},
    raft_role: raftId === 1 ? 'voter' : 'learner',
  };
}

const status: ClusterStatus = {
  cluster_id: 'demo',
  instance_id: 'i1',
  raft_id: 1,
  state: 'Online',
  raft: { term: 2, leader_id: 1, raft_state: 'Leader', commit: 12, applied: 12, voters: [1], learners: [2] },
  replication_factor: 2,
  instances: [instance('i1', 1, ['Online', 1], ['Online', 1]), instance('i2', 2, ['Offline', 0], ['Online', 2])],
  replicasets: [
    {
      replicaset_id: 'r1',
      replicaset_uuid: 'e0df68c5-e7f9-395f-86b3-30ad9e1b7b07',
      master_id: 'i1',
      weight: 1,
      weight_origin: 'auto',
      weight_state: 'initial',
      current_schema_version: 0,
    },
  ],
};

function cells(line: string): string[] {
  return line.replace(/^\s+- \|/, '').replace(/\|$/, '').split('|').map((c) => c.trim());
}

describe('formatStatus', () => {
  const lines = formatStatus('localhost:3301', status);
  const header = lines.find((l) => l.includes('instance_id') && l.includes('raft_role'))!;

  it('puts the guide columns first, in the guide order, then raft_role', () => {
    expect(cells(header)).toEqual([
      'instance_id',
      'instance_uuid',
      'raft_id',
      'peer_address',
      'replicaset_id',
      'replicaset_uuid',
      'current_grade',
      'target_grade',
      'failure_domain',
      'raft_role',
    ]);
  });

  it('prints grades as the guide does: ["Variant",incarnation]', () => {
    const rows = lines.filter((l) => /^\s+- \|\s+i\d\s+\|/.test(l)).map(cells);
    expect(rows).toHaveLength(2);
    expect(rows[0]!.slice(6)).toEqual(['["Online",1]', '["Online",1]', '{}', 'voter']);
    expect(rows[1]!.slice(6)).toEqual(['["Offline",0]', '["Online",2]', '{}', 'learner']);
    expect(lines.join('\n')).not.toMatch(/Online\(\d+\)/);
  });

  it('keeps the header, Raft summary and replicaset table', () => {
    expect(lines.slice(0, 2)).toEqual(['connected to localhost:3301', '---']);
    expect(lines).toContain('- leader: i1 (localhost:3301)');
    expect(lines).toContain('- voters: [1]');
    expect(lines).toContain('- learners: [2]');
    const replicaset = lines.find((l) => /^\s+- \|\s+r1\s+\|/.test(l))!;
    expect(cells(replicaset)).toEqual(['r1', 'e0df68c5-e7f9-395f-86b3-30ad9e1b7b07', 'i1', '1', 'initial', '0']);
    expect(lines.at(-1)).toBe('...');
  });
});
