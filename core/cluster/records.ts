/**
 * The records of the clusterwide tables and their tuple layouts (the 23.05 `_picodata_*`
 * spaces). Tuples are what the Raft log carries and what `box.space._picodata_instance:select()`
 * shows; records are what the code works with.
 */

import type { MpValue } from '../codec/msgpack.ts';
import { isMpMap } from '../codec/msgpack.ts';
import type { FailureDomain } from './failure-domain.ts';
import { grade, isCurrentGrade, isTargetGrade, type CurrentGrade, type TargetGrade } from './grade.ts';

export interface Instance {
  readonly instanceId: string;
  readonly instanceUuid: string;
  readonly raftId: number;
  readonly replicasetId: string;
  readonly replicasetUuid: string;
  readonly currentGrade: CurrentGrade;
  readonly targetGrade: TargetGrade;
  readonly failureDomain: FailureDomain;
}

export const WEIGHT_ORIGINS = ['Auto', 'User'] as const;
export const WEIGHT_STATES = ['Initial', 'Updating', 'UpToDate'] as const;

export interface Weight {
  readonly value: number;
  readonly origin: (typeof WEIGHT_ORIGINS)[number];
  readonly state: (typeof WEIGHT_STATES)[number];
}

export interface Replicaset {
  readonly replicasetId: string;
  readonly replicasetUuid: string;
  readonly masterId: string;
  readonly weight: Weight;
  readonly currentSchemaVersion: number;
}

export class RecordError extends Error {
  override readonly name = 'RecordError';
}

function str(value: MpValue, what: string): string {
  if (typeof value !== 'string') throw new RecordError(`${what} must be a string`);
  return value;
}

function uint(value: MpValue, what: string): number {
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < 0) throw new RecordError(`${what} must be an unsigned integer`);
  return value;
}

export function instanceToTuple(i: Instance): MpValue[] {
  return [
    i.instanceId,
    i.instanceUuid,
    i.raftId,
    i.replicasetId,
    i.replicasetUuid,
    [i.currentGrade.variant, i.currentGrade.incarnation],
    [i.targetGrade.variant, i.targetGrade.incarnation],
    { ...i.failureDomain },
  ];
}

/** A grade stored as `[variant, incarnation]`; `kind` says which grade set the variant is from. */
export function gradeFromValue(value: MpValue, kind: 'current'): CurrentGrade;
export function gradeFromValue(value: MpValue, kind: 'target'): TargetGrade;
export function gradeFromValue(value: MpValue, kind: 'current' | 'target'): CurrentGrade | TargetGrade {
  const valid = kind === 'current' ? isCurrentGrade : isTargetGrade;
  if (!Array.isArray(value) || !valid(value[0])) throw new RecordError(`bad ${kind}_grade`);
  return grade(value[0] as string, uint(value[1] as MpValue, 'incarnation')) as CurrentGrade | TargetGrade;
}

export function failureDomainFromValue(domain: MpValue): FailureDomain {
  if (!isMpMap(domain)) throw new RecordError('failure_domain must be a map');
  const failureDomain: Record<string, string> = {};
  for (const [k, v] of domain instanceof Map ? domain : Object.entries(domain)) failureDomain[str(k, 'domain key')] = str(v, 'domain value');
  return failureDomain;
}

export function instanceFromTuple(t: readonly MpValue[]): Instance {
  if (t.length < 8) throw new RecordError(`instance tuple has ${t.length} fields, expected 8`);
  const current = gradeFromValue(t[5]!, 'current');
  const target = gradeFromValue(t[6]!, 'target');
  const failureDomain = failureDomainFromValue(t[7]!);
  return {
    instanceId: str(t[0], 'instance_id'),
    instanceUuid: str(t[1], 'instance_uuid'),
    raftId: uint(t[2], 'raft_id'),
    replicasetId: str(t[3], 'replicaset_id'),
    replicasetUuid: str(t[4], 'replicaset_uuid'),
    currentGrade: current,
    targetGrade: target,
    failureDomain,
  };
}

export function replicasetToTuple(r: Replicaset): MpValue[] {
  return [r.replicasetId, r.replicasetUuid, r.masterId, [r.weight.value, r.weight.origin, r.weight.state], r.currentSchemaVersion];
}

export function replicasetFromTuple(t: readonly MpValue[]): Replicaset {
  if (t.length < 5) throw new RecordError(`replicaset tuple has ${t.length} fields, expected 5`);
  const w = t[3];
  if (!Array.isArray(w) || typeof w[0] !== 'number') throw new RecordError('bad weight');
  const origin = w[1];
  const state = w[2];
  if (!(WEIGHT_ORIGINS as readonly MpValue[]).includes(origin)) throw new RecordError('bad weight origin');
  if (!(WEIGHT_STATES as readonly MpValue[]).includes(state)) throw new RecordError('bad weight state');
  return {
    replicasetId: str(t[0], 'replicaset_id'),
    replicasetUuid: str(t[1], 'replicaset_uuid'),
    masterId: str(t[2], 'master_id'),
    weight: { value: w[0], origin: origin as Weight['origin'], state: state as Weight['state'] },
    currentSchemaVersion: uint(t[4], 'current_schema_version'),
  };
}
