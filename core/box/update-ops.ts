/**
 * UPDATE and UPSERT operations with Tarantool's rules.
 *
 * An operation is `[op, field, arg...]`. Field numbers arrive in the caller's base (`indexBase`:
 * 0 for raw iproto without INDEX_BASE, 1 for Lua/net.box); negative numbers count from the end
 * (-1 = last field). Operations apply in order, each to the result of the previous one (1.10
 * semantics). Messages name fields 1-based, as Tarantool prints them.
 *
 * - `=` set (the position one past the end appends), `!` insert before (past the end appends),
 *   `#` delete `count` fields (count > 0, clipped at the end);
 * - `+ -` on numbers: integers stay integers with int64/uint64 overflow checks, a float makes
 *   the result a float;
 * - `& | ^` on unsigned integers;
 * - `:` splice `[':', field, offset, cut, paste]` on strings, offset 1-based, negative from the end.
 */

import { MpFloat64, type MpValue } from '../codec/msgpack.ts';
import { BoxError, boxErrors, ErrorCode } from './errors.ts';
import type { Tuple } from './tuple.ts';

/** Tarantool's BOX_UPDATE_OP_CNT_MAX. */
export const UPDATE_OPS_MAX = 4000;

const INT64_MIN = -(2n ** 63n);
const UINT64_MAX = 2n ** 64n - 1n;

export type IndexBase = 0 | 1;

interface ParsedOp {
  readonly op: string;
  /** As the caller wrote it, for messages. */
  readonly fieldArg: number;
  readonly args: readonly MpValue[];
}

function parseOps(ops: unknown): ParsedOp[] {
  if (!Array.isArray(ops)) throw boxErrors.illegalParams('update operations must be an array {{op,..}, {op,..}}');
  if (ops.length > UPDATE_OPS_MAX) throw boxErrors.illegalParams('too many operations for update');
  const parsed: ParsedOp[] = [];
  for (let i = 0; i < ops.length; i++) {
    const raw: unknown = ops[i];
    if (!Array.isArray(raw) || raw.length < 2) {
      throw boxErrors.illegalParams('update operation must be an array {op,..}');
    }
    const op: unknown = raw[0];
    if (typeof op !== 'string' || op.length !== 1 || !'=!#+-&|^:'.includes(op)) {
      throw boxErrors.unknownUpdateOp(i + 1, 'expected a string of length 1');
    }
    const field: unknown = raw[1];
    const fieldNumber = typeof field === 'bigint' ? Number(field) : field;
    if (typeof fieldNumber !== 'number' || !Number.isInteger(fieldNumber)) {
      throw boxErrors.illegalParams('field id must be a number');
    }
    const needed = op === ':' ? 5 : op === '#' ? 3 : 3;
    if (raw.length < needed) throw boxErrors.unknownUpdateOp(i + 1, 'wrong number of arguments');
    parsed.push({ op, fieldArg: fieldNumber, args: raw.slice(2) as MpValue[] });
  }
  return parsed;
}

/** 1-based field name for messages from a 0-based position. */
function fieldLabel(position: number): string {
  return String(position + 1);
}

/**
 * Resolves a field argument to a 0-based position. `forInsert`: '!' and '=' may address one
 * past the end (append); negative '!' positions count so that -1 appends.
 */
function resolveField(fieldArg: number, base: IndexBase, length: number, appendAllowed: boolean, isInsert: boolean): number {
  let pos: number;
  if (fieldArg >= 0) {
    if (fieldArg < base) throw boxErrors.noSuchFieldNo(fieldArg);
    pos = fieldArg - base;
  } else {
    pos = isInsert ? length + 1 + fieldArg : length + fieldArg;
    if (pos < 0) throw boxErrors.noSuchFieldNo(fieldArg);
  }
  const limit = appendAllowed ? length : length - 1;
  if (pos > limit) throw boxErrors.noSuchFieldNo(fieldArg);
  return pos;
}

function toBig(v: number | bigint): bigint {
  return typeof v === 'bigint' ? v : BigInt(v);
}

function normaliseInt(v: bigint): number | bigint {
  return v >= BigInt(Number.MIN_SAFE_INTEGER) && v <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(v) : v;
}

function numericValue(v: MpValue): number | bigint | undefined {
  if (typeof v === 'number' || typeof v === 'bigint') return v;
  if (v instanceof MpFloat64) return v.value;
  return undefined;
}

function isFloat(v: MpValue): boolean {
  return v instanceof MpFloat64 || (typeof v === 'number' && !Number.isInteger(v));
}

function arith(op: string, current: MpValue, arg: MpValue, label: string): MpValue {
  const a = numericValue(current);
  const b = numericValue(arg);
  if (b === undefined) throw boxErrors.updateArgType(op, label, 'a number');
  if (a === undefined) throw boxErrors.updateArgType(op, label, 'a number');
  if (isFloat(current) || isFloat(arg)) {
    const r = op === '+' ? Number(a) + Number(b) : Number(a) - Number(b);
    return Number.isInteger(r) ? new MpFloat64(r) : r;
  }
  const r = op === '+' ? toBig(a) + toBig(b) : toBig(a) - toBig(b);
  if (r < INT64_MIN || r > UINT64_MAX) throw boxErrors.updateIntegerOverflow(op, label);
  return normaliseInt(r);
}

function bitwise(op: string, current: MpValue, arg: MpValue, label: string): MpValue {
  const a = numericValue(current);
  const b = numericValue(arg);
  const unsigned = (v: number | bigint | undefined): v is number | bigint =>
    v !== undefined && (typeof v === 'bigint' ? v >= 0n : Number.isInteger(v) && v >= 0);
  if (!unsigned(b) || isFloat(arg)) throw boxErrors.updateArgType(op, label, 'a positive integer');
  if (!unsigned(a) || isFloat(current)) throw boxErrors.updateArgType(op, label, 'a positive integer');
  const x = toBig(a);
  const y = toBig(b);
  const r = op === '&' ? x & y : op === '|' ? x | y : x ^ y;
  return normaliseInt(r);
}

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** Splice on UTF-8 bytes, as Tarantool does (offsets count bytes). */
function splice(current: MpValue, args: readonly MpValue[], label: string): MpValue {
  if (typeof current !== 'string') throw boxErrors.updateArgType(':', label, 'a string');
  const [offsetArg, cutArg, paste] = args;
  if (typeof offsetArg !== 'number' || !Number.isInteger(offsetArg)) {
    throw boxErrors.updateArgType(':', label, 'a number');
  }
  if (typeof cutArg !== 'number' || !Number.isInteger(cutArg)) throw boxErrors.updateArgType(':', label, 'a number');
  if (typeof paste !== 'string') throw boxErrors.updateArgType(':', label, 'a string');
  const bytes = encoder.encode(current);
  const length = bytes.length;
  let offset: number;
  if (offsetArg < 0) {
    if (-offsetArg > length + 1) throw boxErrors.updateSplice(label, 'offset is out of bound');
    offset = offsetArg + length + 1;
  } else {
    if (offsetArg === 0) throw boxErrors.updateSplice(label, 'offset is out of bound');
    offset = offsetArg - 1 > length ? length : offsetArg - 1;
  }
  let cut = cutArg;
  if (cut < 0) {
    if (-cut > length - offset) throw boxErrors.updateSplice(label, 'cut length is out of bound');
    cut = length - offset + cut;
  } else if (cut > length - offset) {
    cut = length - offset;
  }
  const out = new Uint8Array(offset + encoder.encode(paste).length + (length - offset - cut));
  const pasteBytes = encoder.encode(paste);
  out.set(bytes.subarray(0, offset), 0);
  out.set(pasteBytes, offset);
  out.set(bytes.subarray(offset + cut), offset + pasteBytes.length);
  return decoder.decode(out);
}

function applyOne(fields: MpValue[], op: ParsedOp, base: IndexBase): void {
  const n = fields.length;
  switch (op.op) {
    case '=': {
      const pos = resolveField(op.fieldArg, base, n, true, false);
      fields[pos] = op.args[0];
      return;
    }
    case '!': {
      const pos = resolveField(op.fieldArg, base, n, true, true);
      fields.splice(pos, 0, op.args[0]);
      return;
    }
    case '#': {
      const pos = resolveField(op.fieldArg, base, n, false, false);
      const count = op.args[0];
      if (typeof count !== 'number' || !Number.isInteger(count)) {
        throw boxErrors.updateArgType('#', fieldLabel(pos), 'a number of fields to delete');
      }
      if (count <= 0) throw boxErrors.updateField(fieldLabel(pos), 'cannot delete 0 fields');
      fields.splice(pos, Math.min(count, n - pos));
      return;
    }
    case '+':
    case '-': {
      const pos = resolveField(op.fieldArg, base, n, false, false);
      fields[pos] = arith(op.op, fields[pos], op.args[0], fieldLabel(pos));
      return;
    }
    case '&':
    case '|':
    case '^': {
      const pos = resolveField(op.fieldArg, base, n, false, false);
      fields[pos] = bitwise(op.op, fields[pos], op.args[0], fieldLabel(pos));
      return;
    }
    case ':': {
      const pos = resolveField(op.fieldArg, base, n, false, false);
      fields[pos] = splice(fields[pos], op.args, fieldLabel(pos));
      return;
    }
    default:
      throw boxErrors.unknownUpdateOp(1, 'unknown operation');
  }
}

/** Applies UPDATE operations; any failing operation fails the whole update. */
export function applyUpdate(tuple: Tuple, ops: unknown, base: IndexBase): MpValue[] {
  const parsed = parseOps(ops);
  const fields = tuple.slice();
  for (const op of parsed) applyOne(fields, op, base);
  return fields;
}

/**
 * Applies UPSERT operations to an existing tuple: a malformed operation list fails the request,
 * but an operation that fails on this tuple is skipped (Tarantool logs and skips it), so an
 * upsert never fails because of the data it meets.
 */
export function applyUpsert(tuple: Tuple, ops: unknown, base: IndexBase, onSkip: (error: BoxError) => void): MpValue[] {
  const parsed = parseOps(ops);
  let fields = tuple.slice();
  for (const op of parsed) {
    const attempt = fields.slice();
    try {
      applyOne(attempt, op, base);
      fields = attempt;
    } catch (error) {
      if (!(error instanceof BoxError)) throw error;
      onSkip(error);
    }
  }
  return fields;
}

/** Validates the shape of an operation list without a tuple (for upserts that insert). */
export function validateOps(ops: unknown): void {
  parseOps(ops);
}

export function isUpdateError(error: unknown): boolean {
  return (
    error instanceof BoxError &&
    (error.code === ErrorCode.ER_UPDATE_FIELD || error.code === ErrorCode.ER_NO_SUCH_FIELD_NO)
  );
}
