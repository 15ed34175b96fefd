/**
 * UPDATE and UPSERT operations with Tarantool's rules (2.6, held to it by
 * test/real/box-differential.test.ts).
 *
 * An operation is `[op, field, arg...]`. The field is a number in the caller's base
 * (`indexBase`: 0 for raw iproto without INDEX_BASE, 1 for net.box), negative from the end (-1 =
 * last field), or a name of the space format (or `[N]`). Two phases, as in Tarantool:
 *
 * - **read** (parseUpdateOps): shape, exact argument count, field, and the argument types of
 *   each operation, in order; UPSERT reads every request's list, UPDATE only once it found the
 *   tuple. Messages name a field 1-based, as written when negative, quoted when named.
 * - **apply**: in order, each to the result of the previous one. A field changed in place (`=`,
 *   arithmetic, bitwise, splice) takes no arithmetic, bitwise or splice after that.
 *
 * - `=` set (one past the end appends), `!` insert before (past the end appends), `#` delete
 *   `count` fields (the low 32 bits of it, > 0, clipped at the end);
 * - `+ -` on numbers: integers stay integers with int64/uint64 overflow checks, a double makes
 *   the result a double;
 * - `& | ^` on unsigned integers;
 * - `:` splice `[':', field, offset, cut, paste]` on strings, bytes: the offset counts from the
 *   base, negative from the end; a negative cut keeps that many bytes at the end.
 */

import { MpFloat64, narrowInteger, type MpValue } from '../codec/msgpack.ts';
import { BoxError, boxErrors } from './errors.ts';
import type { Tuple } from './tuple.ts';
import { assert } from '../lib/assert.ts';

/** Tarantool's BOX_UPDATE_OP_CNT_MAX. */
export const UPDATE_OPS_MAX = 4000;

const INT64_MIN = -(2n ** 63n);
const UINT64_MAX = 2n ** 64n - 1n;

export type IndexBase = 0 | 1;

/** Field names of the space's format, by 0-based position (names resolve there). */
export type FieldNames = readonly { readonly name: string }[];

interface ParsedOp {
  readonly op: string;
  /** 0-based when >= 0 (the request's base taken off), else counted from the end (-1 = last). */
  readonly field: number;
  /** The field as the caller named it (a format name or `[N]`), which messages then quote. */
  readonly name: string | undefined;
  /** The operation's arguments; a splice's start offset made 1-based (negative ones as given). */
  readonly args: readonly MpValue[];
}

/** Tarantool's argument count of an operation, the operation itself included. */
function expectedArgCount(op: string): number {
  return op === ':' ? 5 : 3;
}

function isUnsigned(v: MpValue): boolean {
  return typeof v === 'bigint' ? v >= 0n : typeof v === 'number' && Number.isInteger(v) && v >= 0;
}

const INT32_MIN = -(2 ** 31);
const INT32_MAX = 2 ** 31 - 1;
const UINT32_VALUES = 2 ** 32;

function isInt32(v: number): boolean {
  return v >= INT32_MIN && v <= INT32_MAX;
}

/** A '#' operation's count as Tarantool keeps it: the low 32 bits of the unsigned given. */
function deleteCount(p: ParsedOp): number {
  const count = p.args[0]!;
  return typeof count === 'bigint' ? Number(count % BigInt(UINT32_VALUES)) : Number(count) % UINT32_VALUES;
}

function isIntegerValue(v: MpValue): boolean {
  return typeof v === 'bigint' || (typeof v === 'number' && Number.isInteger(v));
}

function isNumberValue(v: MpValue): boolean {
  return typeof v === 'number' || typeof v === 'bigint' || v instanceof MpFloat64;
}

/** An operation list read and checked once, to apply to the tuple found (or to none). */
export type UpdateOps = readonly ParsedOp[];

/**
 * Reads an operation list as Tarantool does before it touches a tuple (xrow_update_op_decode):
 * the shape of every operation, its argument count, its field (a number or a format field name)
 * and the types of its arguments. UPSERT reads every request's list; UPDATE only once it has
 * found the tuple.
 */
export function parseUpdateOps(ops: unknown, base: IndexBase, names: FieldNames): UpdateOps {
  if (!Array.isArray(ops)) throw boxErrors.illegalParams('update operations must be an array {{op,..}, {op,..}}');
  if (ops.length > UPDATE_OPS_MAX) throw boxErrors.illegalParams('too many operations for update');
  const parsed: ParsedOp[] = [];
  for (let i = 0; i < ops.length; i++) parsed.push(parseOp(ops[i] as unknown, i + 1, base, names));
  return parsed;
}

function parseOp(raw: unknown, opNo: number, base: IndexBase, names: FieldNames): ParsedOp {
  if (!Array.isArray(raw)) throw boxErrors.illegalParams('update operation must be an array {op,..}');
  if (raw.length === 0) throw boxErrors.illegalParams('update operation must be an array {op,..}, got empty array');
  const op: unknown = raw[0];
  if (typeof op !== 'string') throw boxErrors.illegalParams('update operation name must be a string');
  if (op.length !== 1 || !'=!#+-&|^:'.includes(op)) throw boxErrors.unknownUpdateOp(opNo, `"${op}"`);
  const expected = expectedArgCount(op);
  if (raw.length !== expected) throw boxErrors.unknownUpdateOp(opNo, `wrong number of arguments, expected ${expected}, got ${raw.length}`);
  const parsed = parseField(raw[1] as unknown, op, raw.slice(2) as MpValue[], base, names);
  checkArgs(parsed, base);
  return parsed;
}

function parseField(field: unknown, op: string, args: MpValue[], base: IndexBase, names: FieldNames): ParsedOp {
  if (typeof field === 'string') {
    const position = fieldPosition(field, names);
    if (position === undefined) throw boxErrors.noSuchFieldName(field);
    return { op, field: position, name: field, args };
  }
  const fieldNumber = typeof field === 'bigint' ? Number(field) : field;
  if (typeof fieldNumber !== 'number' || !Number.isInteger(fieldNumber)) throw boxErrors.illegalParams('field id must be a number or a string');
  // Tarantool reads a field number as int32. (Its message then names a field it has not read
  // yet, which we cannot reproduce: we name the number given.)
  if (!isInt32(fieldNumber)) throw boxErrors.updateArgType(op, String(fieldNumber), 'an integer');
  if (fieldNumber >= 0 && fieldNumber < base) throw boxErrors.noSuchFieldNo(fieldNumber);
  return { op, field: fieldNumber >= 0 ? fieldNumber - base : fieldNumber, name: undefined, args };
}

/** A format field name, or a `[N]` path (1-based), as a 0-based position. */
function fieldPosition(field: string, names: FieldNames): number | undefined {
  const byName = names.findIndex((f) => f.name === field);
  if (byName >= 0) return byName;
  const path = /^\[([1-9][0-9]{0,8})\]$/.exec(field);
  return path === null ? undefined : Number(path[1]) - 1;
}

/**
 * The argument types each operation takes, whatever tuple it meets (apply counts on them). A
 * splice's start offset is made 1-based here.
 */
function checkArgs(p: ParsedOp, base: IndexBase): void {
  const label = opLabel(p);
  const [first, second, third] = p.args;
  switch (p.op) {
    case '+':
    case '-':
      if (!isNumberValue(first!)) throw boxErrors.updateArgType(p.op, label, 'a number');
      return;
    case '&':
    case '|':
    case '^':
      if (!isUnsigned(first!)) throw boxErrors.updateArgType(p.op, label, 'a positive integer');
      return;
    case '#':
      if (!isUnsigned(first!)) throw boxErrors.updateArgType(p.op, label, 'a positive integer');
      // Tarantool keeps the count in 32 bits: 2^32 deletes nothing, and is refused as such.
      if (deleteCount(p) === 0) throw boxErrors.updateField(label, 'cannot delete 0 fields');
      return;
    case ':':
      // In Tarantool's reading order: the offset, its bound, the cut length, the paste, the
      // numbers as int32. A start offset counts from the request's base, like field numbers:
      // with base 1, 0 is out.
      if (!isIntegerValue(first!) || !isInt32(Number(first))) throw boxErrors.updateArgType(p.op, label, 'an integer');
      if (Number(first) >= 0 && Number(first) < base) throw boxErrors.updateSplice(label, 'offset is out of bound');
      if (!isIntegerValue(second!) || !isInt32(Number(second))) throw boxErrors.updateArgType(p.op, label, 'an integer');
      if (typeof third !== 'string') throw boxErrors.updateArgType(p.op, label, 'a string');
      if (Number(first) >= 0) (p.args as MpValue[])[0] = Number(first) - base + 1;
      return;
    default:
      return;
  }
}

/** The field as Tarantool's messages name it: 1-based when counted from the start, else as written. */
function opLabel(p: ParsedOp): string {
  if (p.name !== undefined) return `'${p.name}'`;
  return String(p.field >= 0 ? p.field + 1 : p.field);
}

/** 1-based field name for messages from a 0-based position (once a negative one is resolved). */
function fieldLabel(position: number): string {
  return String(position + 1);
}

/**
 * Resolves a field argument to a 0-based position. `appendAllowed`: '!' and '=' may address
 * one past the end; `isInsert`: negative '!' positions count so that -1 appends. A field out of
 * range is named 1-based, or as written when negative.
 */
function resolveField(op: ParsedOp, length: number, appendAllowed: boolean, isInsert: boolean): number {
  const field = op.field;
  const pos = field >= 0 ? field : isInsert ? length + 1 + field : length + field;
  if (pos < 0) throw boxErrors.noSuchFieldNo(field);
  const limit = appendAllowed ? length : length - 1;
  if (pos <= limit) return pos;
  // Tarantool quotes a field name twice here (its label, quoted again by the message).
  if (op.name !== undefined) throw boxErrors.noSuchFieldName(opLabel(op));
  throw boxErrors.noSuchFieldNo(field >= 0 ? pos + 1 : field);
}

function toBig(v: number | bigint): bigint {
  return typeof v === 'bigint' ? v : BigInt(v);
}

function normaliseInt(v: bigint): number | bigint {
  return narrowInteger(v);
}

function numericValue(v: MpValue): number | bigint | undefined {
  if (typeof v === 'number' || typeof v === 'bigint') return v;
  if (v instanceof MpFloat64) return v.value;
  return undefined;
}

function isFloat(v: MpValue): boolean {
  return v instanceof MpFloat64 || (typeof v === 'number' && !Number.isInteger(v));
}

/** `current op arg`; the argument's type was checked when the operation was read. */
function arith(op: string, current: MpValue, arg: MpValue, label: string): MpValue {
  const a = numericValue(current);
  const b = numericValue(arg)!;
  if (a === undefined) throw boxErrors.updateArgType(op, label, 'a number');
  if (isFloat(current) || isFloat(arg)) {
    const r = op === '+' ? Number(a) + Number(b) : Number(a) - Number(b);
    return Number.isInteger(r) ? new MpFloat64(r) : r;
  }
  const r = op === '+' ? toBig(a) + toBig(b) : toBig(a) - toBig(b);
  if (r < INT64_MIN || r > UINT64_MAX) throw boxErrors.updateIntegerOverflow(op, label);
  return normaliseInt(r);
}

/** `current op arg` on unsigned integers; the argument's type was checked when read. */
function bitwise(op: string, current: MpValue, arg: MpValue, label: string): MpValue {
  if (!isUnsigned(current)) throw boxErrors.updateArgType(op, label, 'a positive integer');
  const x = toBig(current as number | bigint);
  const y = toBig(arg as number | bigint);
  const r = op === '&' ? x & y : op === '|' ? x | y : x ^ y;
  return normaliseInt(r);
}

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** Splice on UTF-8 bytes, as Tarantool does (offsets count bytes). */
function splice(current: MpValue, args: readonly MpValue[], label: string): MpValue {
  if (typeof current !== 'string') throw boxErrors.updateArgType(':', label, 'a string');
  // The argument types were checked, and the offset made 1-based, when the operation was read.
  const offsetArg = Number(args[0]);
  const cutArg = Number(args[1]);
  const paste = args[2] as string;
  const bytes = encoder.encode(current);
  const length = bytes.length;
  let offset: number;
  if (offsetArg < 0) {
    if (-offsetArg > length + 1) throw boxErrors.updateSplice(label, 'offset is out of bound');
    offset = offsetArg + length + 1;
  } else {
    assert(offsetArg !== 0, 'a zero splice offset is refused when parsed');
    offset = offsetArg - 1 > length ? length : offsetArg - 1;
  }
  let cut = cutArg;
  if (cut < 0) {
    // A negative cut keeps that many bytes at the end; asking to keep more cuts nothing.
    cut = -cut > length - offset ? 0 : length - offset + cut;
  } else if (cut > length - offset) {
    cut = length - offset;
  }
  const pasteBytes = encoder.encode(paste);
  const out = new Uint8Array(offset + pasteBytes.length + (length - offset - cut));
  out.set(bytes.subarray(0, offset), 0);
  out.set(pasteBytes, offset);
  out.set(bytes.subarray(offset + cut), offset + pasteBytes.length);
  return decoder.decode(out);
}

/**
 * A tuple under update: its fields and, per field, whether an operation already changed it in
 * place (`=` on an existing field, arithmetic, bitwise, splice). Tarantool refuses arithmetic,
 * bitwise and splice on such a field ("double update"), though `=` may always overwrite; fields
 * that `!` inserts or `=` appends start unchanged, and `!` and `#` move the marks with the fields.
 */
class Fields {
  readonly values: MpValue[];
  private readonly changedInPlace: boolean[];

  constructor(values: MpValue[], changedInPlace: boolean[] = values.map(() => false)) {
    this.values = values;
    this.changedInPlace = changedInPlace;
  }

  copy(): Fields {
    return new Fields(this.values.slice(), this.changedInPlace.slice());
  }

  apply(op: ParsedOp): void {
    const fields = this.values;
    const n = fields.length;
    switch (op.op) {
      case '=': {
        const pos = resolveField(op, n, true, false);
        fields[pos] = op.args[0];
        this.changedInPlace[pos] = pos < n;
        return;
      }
      case '!': {
        const pos = resolveField(op, n, true, true);
        fields.splice(pos, 0, op.args[0]);
        this.changedInPlace.splice(pos, 0, false);
        return;
      }
      case '#': {
        const pos = resolveField(op, n, false, false);
        const count = Math.min(deleteCount(op), n - pos);
        fields.splice(pos, count);
        this.changedInPlace.splice(pos, count);
        return;
      }
      default: {
        const pos = resolveField(op, n, false, false);
        const label = op.name === undefined ? fieldLabel(pos) : opLabel(op);
        if (this.changedInPlace[pos]) throw boxErrors.updateField(label, 'double update of the same field');
        fields[pos] = inPlaceResult(op, fields[pos], label);
        this.changedInPlace[pos] = true;
      }
    }
  }
}

/** The new value of a field an arithmetic, bitwise or splice operation changes. */
function inPlaceResult(op: ParsedOp, current: MpValue, label: string): MpValue {
  switch (op.op) {
    case '+':
    case '-':
      return arith(op.op, current, op.args[0], label);
    case '&':
    case '|':
    case '^':
      return bitwise(op.op, current, op.args[0], label);
    case ':':
      return splice(current, op.args, label);
    default:
      throw new Error(`update operation ${op.op} passed the parser`);
  }
}

/** Applies UPDATE operations to the tuple found; any failing operation fails the whole update. */
export function applyUpdate(tuple: Tuple, ops: UpdateOps): MpValue[] {
  const fields = new Fields(tuple.slice());
  for (const op of ops) fields.apply(op);
  return fields.values;
}

/**
 * Applies UPSERT operations to an existing tuple: an operation that fails on this tuple is
 * skipped (Tarantool logs and skips it).
 */
export function applyUpsert(tuple: Tuple, ops: UpdateOps, onSkip: (error: BoxError) => void): MpValue[] {
  let fields = new Fields(tuple.slice());
  for (const op of ops) {
    const attempt = fields.copy();
    try {
      attempt.apply(op);
      fields = attempt;
    } catch (error) {
      if (!(error instanceof BoxError)) throw error;
      onSkip(error);
    }
  }
  return fields.values;
}
