/**
 * EVAL on an instance. Tarantool runs any Lua; we run the slice of Lua that calls the node's API
 * (core/api/statement.ts), which is what clients and Picodata's tests send:
 * - `return pico.raft_status()`, `return pico.instance_info('i1')`, `return f(...)`: a call of a
 *   function the node serves over CALL, with literal arguments and EVAL's `...`;
 * - `return box.space.<name>[.index.<name>]:<method>(...)`: the box API on local storage;
 * - `return box.info`, `return box.cfg.listen`, `return pico.VERSION`: values and their fields;
 * - `return <literal>`, `return ...`.
 * As in Lua, a chunk without `return` returns nothing (a call in it still runs), and a lookup
 * that finds nothing (get, min, max, update, delete) returns no value. Outside the slice the
 * chunk is refused with ER_PROC_LUA (32), the code Tarantool gives a failing Lua chunk, and
 * nothing runs; an unknown function is NO_SUCH_PROC (33), as for CALL.
 * CALL reaches the same box methods by name (`boxMethodByName`).
 */

import type { Box } from '../box/box.ts';
import type { BoxIndex, BoxSpace } from '../box/box-space.ts';
import { MpExt, MpFloat64, type MpValue } from '../codec/msgpack.ts';
import { parseChunk, ParseError, type Statement } from '../api/statement.ts';
import { BoxError, boxErrors, ErrorCode as BoxCode } from '../box/errors.ts';
import { ErrorCode } from '../iproto/constants.ts';
import { iprotoError } from '../iproto/errors.ts';

export interface EvalContext {
  readonly box: Box;
  /** A CALL of `name` with the caller's rights (NO_SUCH_PROC when the node has no such function). */
  invoke(name: string, args: readonly MpValue[]): Promise<readonly MpValue[]>;
  /** Whether CALL knows `name`. */
  has(name: string): boolean;
}

/** Names a chunk may return without calling them (in Lua they are values, not functions). */
export const EVAL_VALUE_NAMES: ReadonlySet<string> = new Set(['pico.VERSION', 'box.info', 'box.cfg']);

/**
 * A bare path: the longest prefix that names a value, read (a call without arguments), then
 * indexed by the rest as Lua would: `box.info.cluster.uuid`, `box.cfg.replication[1]`; a missing
 * field is nil, indexing a scalar or nil is an error. A bare function name (`pico.exit`) is
 * refused: Lua would return the function, not run it.
 */
async function valueAt(path: readonly string[], context: EvalContext): Promise<readonly MpValue[]> {
  for (let length = path.length; length > 0; length--) {
    const name = path.slice(0, length).join('.');
    if (!EVAL_VALUE_NAMES.has(name)) continue;
    let value: MpValue = (await context.invoke(name, []))[0] ?? null;
    for (let at = length; at < path.length; at++) value = luaField(value, path[at]!, path.slice(0, at).join('.'));
    return [value];
  }
  const name = path.join('.');
  if (context.has(name)) throw refuse(`${name} is a function: call it, ${name}()`);
  throw refuse(`only a call, box.info, box.cfg or pico.VERSION can be returned, got: ${name}`);
}

/**
 * Lua's "attempt to index field ... (a nil value)": EVAL reports it as its own error, the console
 * (which indexes its calls' results too, through callFields) with the same words.
 */
export class LuaIndexError extends Error {
  override readonly name = 'LuaIndexError';
}

/** `value[key]` as Lua indexes a table decoded from msgpack (arrays from 1); `where` names `value` in errors. */
export function luaField(value: MpValue, key: string, where: string): MpValue {
  if (Array.isArray(value)) return /^[1-9]\d*$/.test(key) ? ((value as MpValue[])[Number(key) - 1] ?? null) : null;
  if (value instanceof Map) return value.get(/^-?\d+$/.test(key) ? Number(key) : key) ?? value.get(key) ?? null;
  // Wrapped doubles and extension values are scalars to Lua, not tables.
  if (value !== null && typeof value === 'object' && !(value instanceof Uint8Array) && !(value instanceof MpFloat64) && !(value instanceof MpExt)) {
    return Object.hasOwn(value, key) ? ((value as Record<string, MpValue>)[key] ?? null) : null;
  }
  throw new LuaIndexError(`attempt to index field '${key}' of ${where} (a ${luaType(value)} value)`);
}

function luaType(value: MpValue): string {
  if (value === null || value === undefined) return 'nil';
  if (typeof value === 'number' || typeof value === 'bigint' || value instanceof MpFloat64) return 'number';
  if (typeof value === 'string' || typeof value === 'boolean') return typeof value;
  return 'userdata';
}

/** Methods of `box.space.<name>` (Tarantool's space object has no min/max: its indexes do). */
export const EVAL_SPACE_METHODS = ['select', 'get', 'count', 'len', 'insert', 'replace', 'put', 'update', 'upsert', 'delete'] as const;
/** Methods of `box.space.<name>.index.<name>`. */
export const EVAL_INDEX_METHODS = ['select', 'get', 'count', 'len', 'min', 'max', 'update', 'delete'] as const;

/**
 * Parsing runs on the event loop (about 1 µs a token): a multi-megabyte expression would stall
 * Raft's heartbeats for seconds. API calls are short; bulk data belongs in EVAL's arguments.
 */
export const EVAL_EXPRESSION_LENGTH_MAX = 65_536;

export async function evaluate(expr: string, args: readonly MpValue[], context: EvalContext): Promise<readonly MpValue[]> {
  if (expr.length > EVAL_EXPRESSION_LENGTH_MAX) {
    throw refuse(`the expression is ${expr.length} characters long, more than ${EVAL_EXPRESSION_LENGTH_MAX}: pass data as arguments (...)`);
  }
  let chunk: { readonly expressions: readonly Statement[]; readonly returns: boolean };
  try {
    chunk = parseChunk(expr, args);
  } catch (error) {
    if (!(error instanceof ParseError)) throw error;
    throw refuse(`${error.message} in: ${excerpt(expr)}`);
  }
  const { expressions, returns } = chunk;
  if (!returns) {
    const [statement] = expressions;
    if (statement!.kind !== 'call') throw refuse(`a value needs 'return' in front of it: ${excerpt(expr)}`);
    await run(statement!, context);
    return [];
  }
  // `return a, b`: every expression but the last gives its first value (nil if none), as in Lua.
  const values: MpValue[] = [];
  for (const [i, statement] of expressions.entries()) {
    const result = await run(statement, context);
    if (i < expressions.length - 1) values.push(result[0] ?? null);
    else for (const value of result) values.push(value);
  }
  return values;
}

async function run(statement: Statement, context: EvalContext): Promise<readonly MpValue[]> {
  try {
    switch (statement.kind) {
      case 'values':
        return statement.values;
      case 'path':
        return await valueAt(statement.path, context);
      case 'call':
        return callFields(statement, await runCall(statement, context));
    }
  } catch (error) {
    if (error instanceof LuaIndexError) throw refuse(error.message);
    throw error;
  }
}

/**
 * `f().a[2]`: a call's results, or with `fields` the field of its first result, as Lua indexes
 * the call's first value (the console applies it to its own calls too).
 */
export function callFields(call: Extract<Statement, { kind: 'call' }>, results: readonly MpValue[]): readonly MpValue[] {
  if (call.fields === undefined) return results;
  const where = `${call.path.join('.')}${call.method === null ? '' : `:${call.method}`}()`;
  let value: MpValue = results[0] ?? null;
  for (const [i, key] of call.fields.entries()) value = luaField(value, key, [where, ...call.fields.slice(0, i)].join('.'));
  return [value];
}

async function runCall(statement: Extract<Statement, { kind: 'call' }>, context: EvalContext): Promise<readonly MpValue[]> {
  const [root, second, spaceName] = statement.path;
  if (root === 'box' && second === 'space' && spaceName !== undefined) {
    const target = resolveBoxTarget(context.box, statement.path);
    if (typeof target === 'string') throw refuse(`attempt to index field '${target}' (a nil value)`);
    if (statement.method === null) throw refuse(`box.space.${statement.path.slice(2).join('.')} is not a function: use a method, like :select{}`);
    return boxMethod(target, statement.method, statement.args);
  }
  if (statement.method !== null) throw refuse(`unknown method ${statement.path.join('.')}:${statement.method}()`);
  return context.invoke(statement.path.join('.'), statement.args);
}

/** `box.space.<name>[.index.<name>]:<method>` as a CALL name (names of identifiers or ids). */
const BOX_METHOD_NAME = /^box\.space\.([A-Za-z_][A-Za-z0-9_]*|\d+)(?:\.index\.([A-Za-z_][A-Za-z0-9_]*|\d+))?:([a-z_]+)$/;

/**
 * CALL of `box.space.<name>[.index.<name>]:<method>`, which Tarantool resolves as a method call
 * (`conn:call('box.space.test:select', {{1}})`, net.box's `index:count()`, vshard's routed
 * calls); undefined for any other name, and the call answers NO_SUCH_PROC when the space or
 * index is missing, as Tarantool's name lookup does.
 */
export function boxMethodByName(name: string): ((box: Box, args: readonly MpValue[]) => Promise<MpValue[]>) | undefined {
  const m = BOX_METHOD_NAME.exec(name);
  if (m === null) return undefined;
  const [, spaceRef, indexRef, method] = m as unknown as [string, string, string | undefined, string];
  if (!(indexRef === undefined ? EVAL_SPACE_METHODS : EVAL_INDEX_METHODS).some((x) => x === method)) return undefined;
  const path = indexRef === undefined ? ['box', 'space', spaceRef] : ['box', 'space', spaceRef, 'index', indexRef];
  return async (box, args) => {
    const target = resolveBoxTarget(box, path);
    if (typeof target === 'string') throw iprotoError(ErrorCode.NO_SUCH_PROC, name);
    return runBoxMethod(target, method, args); // `method` was checked against the same lists above
  };
}

type BoxTarget = { readonly kind: 'space'; readonly space: BoxSpace } | { readonly kind: 'index'; readonly index: BoxIndex };

/** The space or index a `box.space...` path names, or the path segment that is missing. */
function resolveBoxTarget(box: Box, path: readonly string[]): BoxTarget | string {
  const spaceName = path[2]!;
  const space = lookup(() => box.space(nameOrId(spaceName)), BoxCode.ER_NO_SUCH_SPACE);
  if (space === null) return spaceName;
  const rest = path.slice(3);
  if (rest.length === 0) return { kind: 'space', space };
  if (rest[0] !== 'index') return rest[0]!;
  const indexName = rest[1];
  if (indexName === undefined) return 'index';
  const index = lookup(() => space.index(nameOrId(indexName)), BoxCode.ER_NO_SUCH_INDEX_ID, BoxCode.ER_NO_SUCH_INDEX_NAME);
  if (index === null) return indexName;
  if (rest.length > 2) return rest[2]!;
  return { kind: 'index', index };
}

/** `box.space[512]` and `.index[0]` name by id; anything else is a name. */
function nameOrId(ref: string): string | number {
  return /^\d+$/.test(ref) ? Number(ref) : ref;
}

/** `find()`, or null when it fails with one of `missing` (other failures are real errors). */
function lookup<T>(find: () => T, ...missing: number[]): T | null {
  try {
    return find();
  } catch (error) {
    if (error instanceof BoxError && missing.includes(error.code)) return null;
    throw error;
  }
}

function boxMethod(target: BoxTarget, method: string, args: readonly MpValue[]): Promise<MpValue[]> {
  const allowed: readonly string[] = target.kind === 'space' ? EVAL_SPACE_METHODS : EVAL_INDEX_METHODS;
  if (!allowed.includes(method)) throw refuse(`attempt to call method '${method}' (a nil value); a ${target.kind} has ${allowed.join(', ')}`);
  return runBoxMethod(target, method, args);
}

/** A method of the space or index, `method` being one of its EVAL_*_METHODS. */
function runBoxMethod(target: BoxTarget, method: string, args: readonly MpValue[]): Promise<MpValue[]> {
  const [a, b] = args;
  return target.kind === 'space' ? spaceMethod(target.space, method, a, b) : keyedMethod(target.index, method, a, b);
}

/** What a space and an index both answer (a space on its primary index). */
type KeyedTarget = Pick<BoxIndex, 'select' | 'get' | 'count' | 'len' | 'min' | 'max' | 'update' | 'delete'>;

async function spaceMethod(space: BoxSpace, method: string, a: MpValue, b: MpValue): Promise<MpValue[]> {
  switch (method) {
    case 'insert':
      return [await space.insert(tupleArg(a))];
    case 'replace':
    case 'put':
      return [await space.replace(tupleArg(a))];
    case 'upsert':
      await space.upsert(tupleArg(a), operationsArg(b, 'upsert'), { indexBase: 1 });
      return [];
    default:
      return keyedMethod(space, method, a, b);
  }
}

async function keyedMethod(target: KeyedTarget, method: string, a: MpValue, b: MpValue): Promise<MpValue[]> {
  switch (method) {
    case 'select':
      return [target.select(a, selectOptions(b))];
    case 'get':
      return tupleOrNothing(target.get(a));
    case 'count':
      return [target.count(a, selectOptions(b))];
    case 'len':
      return [target.len()];
    case 'min':
      return tupleOrNothing(target.min(a));
    case 'max':
      return tupleOrNothing(target.max(a));
    case 'update':
      return tupleOrNothing(await target.update(a, operationsArg(b, 'update'), { indexBase: 1 }));
    case 'delete':
      return tupleOrNothing(await target.delete(a));
    default:
      throw refuse(`unsupported method ${method}()`);
  }
}

/** Tarantool returns no value at all, not nil, when a lookup finds nothing. */
function tupleOrNothing(tuple: MpValue | null): MpValue[] {
  return tuple === null ? [] : [tuple];
}

type SelectOptions = { iterator?: string | number; limit?: number; offset?: number };

/**
 * Select options as box takes them: nothing or `{}` (which arrives as an empty array), an
 * iterator alone (`'GE'`, `box.index.GE`), or `{iterator = ..., limit = ..., offset = ...}`.
 */
function selectOptions(value: MpValue): SelectOptions {
  if (value === undefined || value === null || (Array.isArray(value) && value.length === 0)) return {};
  if (typeof value === 'string' || typeof value === 'number') return { iterator: value };
  if (typeof value !== 'object' || Array.isArray(value) || value instanceof Map || value instanceof Uint8Array) {
    throw boxErrors.illegalParams('select options must be a table {iterator = ..., limit = ..., offset = ...}');
  }
  const o = value as Record<string, MpValue>;
  const options: SelectOptions = {};
  const iterator = o['iterator'];
  if (iterator !== undefined && iterator !== null) {
    if (typeof iterator !== 'string' && typeof iterator !== 'number') throw boxErrors.illegalParams('options.iterator must be a name or a number');
    options.iterator = iterator;
  }
  for (const name of ['limit', 'offset'] as const) {
    const n = o[name];
    if (n === undefined || n === null) continue;
    if (typeof n !== 'number' || !Number.isInteger(n) || n < 0) throw boxErrors.illegalParams(`options.${name} must be a non-negative integer`);
    options[name] = n;
  }
  return options;
}

function tupleArg(value: MpValue): MpValue[] {
  if (!Array.isArray(value)) throw boxErrors.tupleNotArray();
  return value as MpValue[];
}

function operationsArg(value: MpValue, what: 'update' | 'upsert'): MpValue[] {
  if (!Array.isArray(value)) throw boxErrors.illegalParams(`${what} operations must be an array {{op,..}, {op,..}}`);
  return value as MpValue[];
}

/** The start of a refused expression, for the error message (it may be 64 Ki characters). */
const EXCERPT_LENGTH_MAX = 200;

function excerpt(expr: string): string {
  return expr.length <= EXCERPT_LENGTH_MAX ? expr : `${expr.slice(0, EXCERPT_LENGTH_MAX)}...`;
}

function refuse(message: string): Error {
  return iprotoError(ErrorCode.PROC_LUA, `eval: ${message}`);
}
