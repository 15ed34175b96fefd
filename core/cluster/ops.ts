/**
 * What a normal Raft log entry carries: one operation on the clusterwide tables (or none).
 * Encoded as a msgpack array `[kind, ...]` so the log is readable with any msgpack tool.
 */

import { decode, encode, type MpValue } from '../codec/msgpack.ts';
import type { FailureDomain } from './failure-domain.ts';
import { formatGrade, grade, gradeEquals, type CurrentGrade, type TargetGrade } from './grade.ts';
import { failureDomainFromValue, gradeFromValue, instanceFromTuple, instanceToTuple, type Instance } from './records.ts';
import type { Key, Tuple, UpdateOp } from './table.ts';

export type Dml =
  | { readonly op: 'insert'; readonly space: string; readonly tuple: Tuple }
  | { readonly op: 'replace'; readonly space: string; readonly tuple: Tuple }
  | { readonly op: 'update'; readonly space: string; readonly key: Key; readonly ops: readonly UpdateOp[] }
  | { readonly op: 'delete'; readonly space: string; readonly key: Key };

export type Op =
  | { readonly kind: 'nop' }
  | { readonly kind: 'info'; readonly message: string }
  | { readonly kind: 'dml'; readonly dml: Dml }
  | { readonly kind: 'persist_instance'; readonly instance: Instance }
  | InstanceUpdate;

/**
 * Sets some fields of an existing instance record and leaves the others as they are when the
 * entry applies. The governor owns the current grade, the instance (through the leader) its
 * target grade and failure domain: writing only one's own fields means a request in flight
 * never undoes the governor's step, or the reverse (a whole-record write built from an older
 * view would). An update of an unknown instance changes nothing.
 */
export interface InstanceUpdate {
  readonly kind: 'update_instance';
  readonly instanceId: string;
  readonly currentGrade?: CurrentGrade;
  readonly targetGrade?: TargetGrade;
  readonly failureDomain?: FailureDomain;
  /**
   * The target grade the governor planned `currentGrade` for: the current grade is set only
   * while the target is still this one. A step planned for `Online(4)` that commits after the
   * sentinel's `Offline(1)` must not leave the record `RaftSynced(4) -> Offline(1)`: the next
   * Online request would make it `-> Online(2)`, behind the current incarnation, and the governor
   * would never move it again (vshard-routing seed 9076). With this and the target's raise below,
   * a record's current incarnation never passes its target's.
   */
  readonly ifTargetGrade?: TargetGrade;
}

/** The record after an update (the same object when the update changes nothing). */
export function applyInstanceUpdate(instance: Instance, update: InstanceUpdate): Instance {
  let result = instance;
  const targetAsPlanned = update.ifTargetGrade === undefined || gradeEquals(update.ifTargetGrade, instance.targetGrade);
  if (update.currentGrade !== undefined && targetAsPlanned) result = { ...result, currentGrade: update.currentGrade };
  if (update.targetGrade !== undefined) {
    // The incarnation was chosen from the leader's view when the request came; the governor may
    // have moved the current grade further since. A target behind the current incarnation would
    // stall the instance for good, so it is raised to it (Picodata's own values otherwise).
    // Entries written before this rule (2026-11) replay to other values than they first applied
    // to: the log format is not carried across versions yet, so a cluster is not upgraded in place.
    const incarnation = Math.max(update.targetGrade.incarnation, result.currentGrade.incarnation);
    result = { ...result, targetGrade: grade(update.targetGrade.variant, incarnation) };
  }
  if (update.failureDomain !== undefined) result = { ...result, failureDomain: update.failureDomain };
  return result;
}

export class OpDecodeError extends Error {
  override readonly name = 'OpDecodeError';
}

export function encodeOp(op: Op): Uint8Array {
  return encode(opToValue(op));
}

function opToValue(op: Op): MpValue {
  switch (op.kind) {
    case 'nop':
      return ['nop'];
    case 'info':
      return ['info', op.message];
    case 'persist_instance':
      return ['persist_instance', instanceToTuple(op.instance)];
    case 'update_instance':
      return [
        'update_instance',
        op.instanceId,
        op.currentGrade === undefined ? null : [op.currentGrade.variant, op.currentGrade.incarnation],
        op.targetGrade === undefined ? null : [op.targetGrade.variant, op.targetGrade.incarnation],
        op.failureDomain === undefined ? null : { ...op.failureDomain },
        op.ifTargetGrade === undefined ? null : [op.ifTargetGrade.variant, op.ifTargetGrade.incarnation],
      ];
    case 'dml':
      return ['dml', ...dmlToValues(op.dml)];
  }
}

function dmlToValues(dml: Dml): MpValue[] {
  switch (dml.op) {
    case 'insert':
    case 'replace':
      return [dml.op, dml.space, [...dml.tuple]];
    case 'update':
      return [dml.op, dml.space, [...dml.key], dml.ops.map((o) => [...o])];
    case 'delete':
      return [dml.op, dml.space, [...dml.key]];
  }
}

export function decodeOp(bytes: Uint8Array): Op {
  if (bytes.length === 0) return { kind: 'nop' };
  const value = decode(bytes);
  if (!Array.isArray(value) || typeof value[0] !== 'string') throw new OpDecodeError('operation is not [kind, ...]');
  const [kind, ...rest] = value as MpValue[];
  switch (kind) {
    case 'nop':
      return { kind: 'nop' };
    case 'info':
      return { kind: 'info', message: String(rest[0]) };
    case 'persist_instance':
      return { kind: 'persist_instance', instance: instanceFromTuple(asArray(rest[0], 'instance')) };
    case 'update_instance':
      return decodeInstanceUpdate(rest);
    case 'dml':
      return { kind: 'dml', dml: decodeDml(rest) };
    default:
      throw new OpDecodeError(`unknown operation kind ${String(kind)}`);
  }
}

function decodeInstanceUpdate(values: MpValue[]): InstanceUpdate {
  const [instanceId, current, target, domain, ifTarget] = values;
  if (typeof instanceId !== 'string') throw new OpDecodeError('update_instance: instance_id must be a string');
  try {
    return {
      kind: 'update_instance',
      instanceId,
      ...(current === null || current === undefined ? {} : { currentGrade: gradeFromValue(current, 'current') }),
      ...(target === null || target === undefined ? {} : { targetGrade: gradeFromValue(target, 'target') }),
      ...(domain === null || domain === undefined ? {} : { failureDomain: failureDomainFromValue(domain) }),
      ...(ifTarget === null || ifTarget === undefined ? {} : { ifTargetGrade: gradeFromValue(ifTarget, 'target') }),
    };
  } catch (error) {
    throw new OpDecodeError(`update_instance: ${error instanceof Error ? error.message : String(error)}`);
  }
}

function asArray(value: MpValue, what: string): MpValue[] {
  if (!Array.isArray(value)) throw new OpDecodeError(`${what} must be an array`);
  return value as MpValue[];
}

function decodeDml(values: MpValue[]): Dml {
  const [op, space, a, b] = values;
  if (typeof space !== 'string') throw new OpDecodeError('dml space must be a string');
  switch (op) {
    case 'insert':
    case 'replace':
      return { op, space, tuple: asArray(a, 'tuple') };
    case 'delete':
      return { op, space, key: asArray(a, 'key') };
    case 'update':
      return { op, space, key: asArray(a, 'key'), ops: asArray(b, 'ops').map((o) => asArray(o, 'update op') as unknown as UpdateOp) };
    default:
      throw new OpDecodeError(`unknown dml ${String(op)}`);
  }
}

/** The spaces an operation touches, with the primary key it touches in each (for CaS conflicts). */
export function opTouches(op: Op, keyOf: (space: string, tuple: Tuple) => Key): Array<{ space: string; key: Key }> {
  switch (op.kind) {
    case 'nop':
    case 'info':
      return [];
    case 'persist_instance':
      return [{ space: '_picodata_instance', key: [op.instance.instanceId] }];
    case 'update_instance':
      return [{ space: '_picodata_instance', key: [op.instanceId] }];
    case 'dml':
      if (op.dml.op === 'insert' || op.dml.op === 'replace') return [{ space: op.dml.space, key: keyOf(op.dml.space, op.dml.tuple) }];
      return [{ space: op.dml.space, key: op.dml.key }];
  }
}

/** Picodata's human form, used by `pico.raft_log()`. */
export function formatOp(op: Op): string {
  switch (op.kind) {
    case 'nop':
      return '-';
    case 'info':
      return `Info(${JSON.stringify(op.message)})`;
    case 'persist_instance': {
      const i = op.instance;
      const grades = gradeEquals(i.currentGrade, i.targetGrade)
        ? formatGrade(i.currentGrade)
        : `${formatGrade(i.currentGrade)} -> ${formatGrade(i.targetGrade)}`;
      return `PersistInstance(${i.instanceId}, ${i.raftId}, ${i.replicasetId}, ${grades}, ${JSON.stringify(i.failureDomain)})`;
    }
    case 'update_instance': {
      const fields: string[] = [];
      if (op.currentGrade !== undefined) fields.push(`current ${formatGrade(op.currentGrade)}`);
      if (op.targetGrade !== undefined) fields.push(`target ${formatGrade(op.targetGrade)}`);
      if (op.failureDomain !== undefined) fields.push(JSON.stringify(op.failureDomain));
      if (op.ifTargetGrade !== undefined) fields.push(`if target ${formatGrade(op.ifTargetGrade)}`);
      return `UpdateInstance(${op.instanceId}, ${fields.join(', ')})`;
    }
    case 'dml': {
      const d = op.dml;
      const name = d.op[0]!.toUpperCase() + d.op.slice(1);
      if (d.op === 'insert' || d.op === 'replace') return `${name}(${d.space}, ${json(d.tuple)})`;
      if (d.op === 'delete') return `${name}(${d.space}, ${json(d.key)})`;
      return `${name}(${d.space}, ${json(d.key)}, [${d.ops.map(json).join(', ')}])`;
    }
  }
}

function json(value: unknown): string {
  return JSON.stringify(value, (_k, v: unknown) => (typeof v === 'bigint' ? Number(v) : v instanceof Uint8Array ? `<${v.length} bytes>` : v));
}
