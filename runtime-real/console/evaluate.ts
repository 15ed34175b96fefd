/**
 * Turns a console statement into iproto requests on one connection:
 * - `box.space.<name>[.index.<index>]:<method>(...)`: select, get, insert, replace, put, update,
 *   upsert, delete, count, len, min, max, format, with space and index names resolved through
 *   `_vspace` / `_vindex` like any connector (re-read once when a name is missing); update and
 *   upsert field numbers are 1-based as in Lua (sent with INDEX_BASE 1);
 * - `box.space.<name>` shows the space, `box.space` lists spaces;
 * - other bare paths (`box.info`, `box.cfg.listen`) go as EVAL of `return <path>`;
 * - any other call `a.b.c(args)` (`pico.raft_status()`, `vshard.router.callro(...)`) is a CALL
 *   of that name; a bare `pico.<name>` is a CALL without arguments (`pico.VERSION`);
 * - a literal evaluates to itself; anything the parser does not know goes as EVAL of the text.
 * Results are Lua-style value lists; failures come back as a message, never as an exception.
 */

import { MpExt, MpFloat64, type MpValue } from '../../core/codec/msgpack.ts';
import type { IprotoClient, Result } from '../../core/iproto/client.ts';
import { BodyKey, ErrorCode, Iterator, RequestType } from '../../core/iproto/constants.ts';
import { replyData } from '../../core/iproto/reply.ts';
import { SELECT_LIMIT_ALL } from '../../core/iproto/request-encode.ts';
import { parseStatement, ParseError, type Statement } from '../../core/api/statement.ts';
import { callFields, EVAL_VALUE_NAMES, LuaIndexError } from '../../core/node/eval.ts';
import { renderTable } from './yaml.ts';

const VSPACE = 281;
const VINDEX = 289;

export type Evaluation =
  /** `table`: an fselect result, printed as its lines (`values` holds the same lines). */
  | { readonly ok: true; readonly values: MpValue[]; readonly table?: readonly string[] }
  | { readonly ok: false; readonly error: string };

/** fselect's line width when the caller knows no terminal width. */
export const FSELECT_LINE_WIDTH_DEFAULT = 140;

interface SpaceInfo {
  readonly id: number;
  readonly name: string;
  readonly engine: string;
  readonly fieldCount: number;
  readonly format: MpValue;
  readonly indexes: Map<string, { id: number; type: string; unique: boolean; parts: MpValue }>;
}

/** A space's methods (Tarantool's space object has no min/max: its indexes do). */
export const SPACE_METHODS = ['select', 'fselect', 'get', 'insert', 'replace', 'put', 'update', 'upsert', 'delete', 'count', 'len', 'format'] as const;
export const INDEX_METHODS = ['select', 'fselect', 'get', 'update', 'delete', 'count', 'min', 'max'] as const;

/** The pico.* and vshard.* API names for completion (the server is the authority on what exists). */
export const KNOWN_FUNCTIONS = [
  'pico.VERSION', 'pico.args', 'pico.whoami', 'pico.instance_info', 'pico.raft_status', 'pico.raft_get_index', 'pico.raft_read_index',
  'pico.raft_wait_index', 'pico.raft_propose_nop', 'pico.raft_propose_info', 'pico.raft_timeout_now', 'pico.raft_tick',
  'pico.raft_compact_log', 'pico.raft_log', 'pico.cas', 'pico.expel', 'pico.exit', 'daemon.cluster_status',
  'vshard.router.callro', 'vshard.router.callrw', 'vshard.router.call', 'vshard.router.bucket_id_strcrc32',
  'vshard.router.bucket_id_mpcrc32', 'vshard.router.bucket_count', 'vshard.storage.call', 'vshard.storage.bucket_stat',
  'vshard.storage.info', 'vshard.storage.buckets_count', 'vshard.storage.bucket_send', 'vshard.storage.bucket_pin',
  'vshard.storage.bucket_unpin',
  'box.info', 'box.cfg',
];

/** Names completed without a parenthesis: the values the server's EVAL returns as they are. */
export const KNOWN_VALUES: ReadonlySet<string> = EVAL_VALUE_NAMES;

const ITERATORS: Readonly<Record<string, number>> = Iterator;

class EvalError extends Error {
  override readonly name = 'EvalError';
}

export class ConsoleEvaluator {
  private readonly client: IprotoClient;
  private spaces: Map<string, SpaceInfo> | null = null;
  private readonly timeoutMs: number;
  /** fselect's default line width (the terminal's, when there is one). */
  private readonly fselectLineWidthMax: () => number;

  constructor(client: IprotoClient, timeoutMs = 30_000, fselectLineWidthMax: () => number = () => FSELECT_LINE_WIDTH_DEFAULT) {
    this.client = client;
    this.timeoutMs = timeoutMs;
    this.fselectLineWidthMax = fselectLineWidthMax;
  }

  /** Space names known from the last schema load (for completion). */
  spaceNames(): string[] {
    return this.spaces === null ? [] : [...this.spaces.keys()].sort();
  }

  indexNames(space: string): string[] {
    return [...(this.spaces?.get(space)?.indexes.keys() ?? [])];
  }

  async evaluate(text: string): Promise<Evaluation> {
    let statement: Statement;
    try {
      statement = parseStatement(text);
    } catch (error) {
      if (!(error instanceof ParseError)) throw error;
      return this.eval(text);
    }
    try {
      if (statement.kind === 'call' && statement.method === 'fselect') {
        const table = await this.fselect(statement);
        return { ok: true, values: [table], table };
      }
      return { ok: true, values: await this.runWithFields(statement) };
    } catch (error) {
      if (error instanceof EvalError) return { ok: false, error: error.message };
      throw error;
    }
  }

  private async run(s: Statement): Promise<MpValue[]> {
    if (s.kind === 'values') return [...s.values];
    const [root, second, name] = s.path;
    if (root === 'box' && second === 'space') {
      if (name === undefined) {
        if (s.kind !== 'path') throw new EvalError('box.space is not callable');
        return [await this.listSpaces()];
      }
      return this.spaceStatement(s, name);
    }
    if (s.kind === 'path') {
      if (root === 'pico') return this.call(s.path.join('.'), []);
      // box.info, box.cfg.listen, ...: the server knows its values (core/node/eval.ts).
      const result = await this.client.eval(`return ${pathExpression(s.path)}`, [], { timeoutMs: this.timeoutMs });
      return unwrapOrThrow(result);
    }
    if (s.method !== null) throw new EvalError(`unknown method ${s.path.join('.')}:${s.method}()`);
    return this.call(s.path.join('.'), s.args);
  }

  /** `pico.instance_info('i1').raft_id`, `box.space.t:get{1}[2]`: fields of a call's first result. */
  private async runWithFields(s: Statement): Promise<MpValue[]> {
    const results = await this.run(s);
    if (s.kind !== 'call') return results;
    try {
      return [...callFields(s, results)];
    } catch (error) {
      if (error instanceof LuaIndexError) throw new EvalError(error.message);
      throw error;
    }
  }

  /**
   * `box.space.<name>[.index.<name>]:fselect(key, opts, {max_width = N})`: select, then the rows as
   * a table under the format's field names (1-based numbers past the format), values in JSON.
   */
  private async fselect(s: Extract<Statement, { kind: 'call' }>): Promise<string[]> {
    const [root, second, name] = s.path;
    if (root !== 'box' || second !== 'space' || name === undefined) throw new EvalError(`unknown method ${s.path.join('.')}:fselect()`);
    const [rows] = (await this.spaceStatement({ ...s, method: 'select', args: s.args.slice(0, 2) }, name)) as [MpValue[][]];
    const space = await this.space(name);
    const names = Array.isArray(space.format) ? (space.format as MpValue[]).map((f, i) => fieldName(f, i)) : [];
    const fieldCount = rows.reduce((most, r) => Math.max(most, r.length), names.length);
    const columns = Array.from({ length: fieldCount }, (_, i) => names[i] ?? String(i + 1));
    const options = s.args[2];
    const requested = options !== null && typeof options === 'object' && !Array.isArray(options) ? (options as Record<string, MpValue>)['max_width'] : undefined;
    const lineWidthMax = typeof requested === 'number' && requested > 0 ? requested : this.fselectLineWidthMax();
    return renderTable(columns, rows.map((r) => columns.map((_, i) => (i < r.length ? cellText(r[i]!) : ''))), { paddingChars: 0, lineWidthMax });
  }

  private async spaceStatement(s: Statement, name: string): Promise<MpValue[]> {
    const space = await this.space(name);
    const path = s.kind === 'values' ? [] : s.path;
    let indexId = 0;
    let onIndex = false;
    if (path.length > 3) {
      if (path[3] !== 'index' || path.length !== 5) throw new EvalError(`unknown field ${path.slice(3).join('.')} of a space`);
      const index = space.indexes.get(path[4]!) ?? [...space.indexes.values()].find((i) => String(i.id) === path[4]);
      if (index === undefined) throw new EvalError(`No index '${path[4]}' is defined in space '${space.name}'`);
      indexId = index.id;
      onIndex = true;
    }
    if (s.kind === 'path') return [describeSpace(space)];
    if (s.kind !== 'call' || s.method === null) throw new EvalError(`use a method: box.space.${name}:select{...}`);
    const allowed: readonly string[] = onIndex ? INDEX_METHODS : SPACE_METHODS;
    if (!allowed.includes(s.method)) throw new EvalError(`unsupported method ${s.method}() (supported: ${allowed.join(', ')})`);
    return this.spaceMethod(space, indexId, s.method, s.args);
  }

  private async spaceMethod(space: SpaceInfo, indexId: number, method: string, args: readonly MpValue[]): Promise<MpValue[]> {
    const [a, b] = args;
    switch (method) {
      case 'select':
        return [await this.select(space.id, indexId, a, b)];
      case 'get': {
        const found = await this.select(space.id, indexId, a, { iterator: 'EQ', limit: 1 });
        return found.length === 0 ? [] : [found[0]!];
      }
      case 'count':
        return [(await this.select(space.id, indexId, a, b)).length];
      case 'len':
        return [(await this.select(space.id, 0, [], undefined)).length];
      case 'min':
      case 'max': {
        const found = await this.select(space.id, indexId, a, { iterator: method === 'min' ? 'GE' : 'LE', limit: 1 });
        return found.length === 0 ? [] : [found[0]!];
      }
      case 'format':
        return [space.format];
      case 'insert':
      case 'replace':
      case 'put':
        return this.optionalTuple(this.request(method === 'insert' ? RequestType.INSERT : RequestType.REPLACE, [
          [BodyKey.SPACE_ID, space.id],
          [BodyKey.TUPLE, asTuple(a, 'tuple')],
        ]));
      case 'delete':
        return this.optionalTuple(this.request(RequestType.DELETE, [
          [BodyKey.SPACE_ID, space.id],
          [BodyKey.INDEX_ID, indexId],
          [BodyKey.KEY, asKey(a)],
        ]));
      case 'update':
        return this.optionalTuple(this.request(RequestType.UPDATE, [
          [BodyKey.SPACE_ID, space.id],
          [BodyKey.INDEX_ID, indexId],
          [BodyKey.INDEX_BASE, 1],
          [BodyKey.KEY, asKey(a)],
          [BodyKey.TUPLE, asTuple(b, 'update operations')],
        ]));
      case 'upsert':
        await this.request(RequestType.UPSERT, [
          [BodyKey.SPACE_ID, space.id],
          [BodyKey.INDEX_BASE, 1],
          [BodyKey.TUPLE, asTuple(a, 'tuple')],
          [BodyKey.OPS, asTuple(b, 'upsert operations')],
        ]);
        return [];
      default:
        throw new EvalError(`unsupported method ${method}()`);
    }
  }

  private async select(spaceId: number, indexId: number, keyArg: MpValue, optionsArg: MpValue): Promise<MpValue[]> {
    const key = asKey(keyArg);
    const options = optionsArg === undefined || optionsArg === null ? {} : optionsArg;
    if (Array.isArray(options) || typeof options !== 'object') throw new EvalError('select options must be a table {iterator=..., limit=..., offset=...}');
    const o = options as Record<string, MpValue>;
    let iterator = key.length === 0 ? Iterator.ALL : Iterator.EQ;
    if (o['iterator'] !== undefined && o['iterator'] !== null) {
      const it = o['iterator'];
      const code = typeof it === 'number' ? it : ITERATORS[String(it).toUpperCase()];
      if (code === undefined) throw new EvalError(`Unknown iterator type '${String(it)}'`);
      iterator = code as typeof iterator;
    }
    const limit = typeof o['limit'] === 'number' ? o['limit'] : SELECT_LIMIT_ALL;
    const offset = typeof o['offset'] === 'number' ? o['offset'] : 0;
    const result = await this.client.select({ spaceId, indexId, key, iterator, limit, offset }, { timeoutMs: this.timeoutMs });
    return unwrapOrThrow(result);
  }

  private async request(type: number, body: Array<[number, MpValue]>): Promise<MpValue[]> {
    const result = await this.client.request(type, new Map(body), { timeoutMs: this.timeoutMs });
    if (!result.ok) throw new EvalError(describe(result.error));
    return replyData(result.value);
  }

  private async optionalTuple(pending: Promise<MpValue[]>): Promise<MpValue[]> {
    const data = await pending;
    return data.length === 0 ? [] : [data[0]!];
  }

  private async call(name: string, args: readonly MpValue[]): Promise<MpValue[]> {
    return unwrapOrThrow(await this.client.call(name, args, { timeoutMs: this.timeoutMs }));
  }

  private async eval(text: string): Promise<Evaluation> {
    const expr = /^\s*return\b/.test(text) ? text : `return ${text}`;
    const result = await this.client.eval(expr, [], { timeoutMs: this.timeoutMs });
    return result.ok ? { ok: true, values: result.value } : { ok: false, error: describe(result.error) };
  }

  // --- schema ------------------------------------------------------------------------------------

  private async space(name: string): Promise<SpaceInfo> {
    let space = (await this.schema(false)).get(name);
    if (space === undefined) space = (await this.schema(true)).get(name);
    if (space === undefined) {
      const byId = [...(await this.schema(false)).values()].find((s) => String(s.id) === name);
      if (byId !== undefined) return byId;
      throw new EvalError(`Space '${name}' does not exist`);
    }
    return space;
  }

  /** Loads `_vspace` and `_vindex` (once, or again when `reload`). */
  async schema(reload: boolean): Promise<Map<string, SpaceInfo>> {
    if (this.spaces !== null && !reload) return this.spaces;
    const [spaces, indexes] = await Promise.all([
      this.client.select({ spaceId: VSPACE, iterator: Iterator.ALL }, { timeoutMs: this.timeoutMs }),
      this.client.select({ spaceId: VINDEX, iterator: Iterator.ALL }, { timeoutMs: this.timeoutMs }),
    ]);
    const byId = new Map<number, SpaceInfo>();
    for (const t of unwrapOrThrow(spaces) as MpValue[][]) {
      byId.set(t[0] as number, { id: t[0] as number, name: String(t[2]), engine: String(t[3]), fieldCount: Number(t[4]), format: t[6] ?? [], indexes: new Map() });
    }
    for (const t of unwrapOrThrow(indexes) as MpValue[][]) {
      const space = byId.get(t[0] as number);
      const opts = t[4];
      const unique = opts !== null && typeof opts === 'object' && !Array.isArray(opts) ? (opts as Record<string, MpValue>)['unique'] !== false : true;
      space?.indexes.set(String(t[2]), { id: t[1] as number, type: String(t[3]), unique, parts: t[5] ?? [] });
    }
    this.spaces = new Map([...byId.values()].map((s) => [s.name, s]));
    return this.spaces;
  }

  private async listSpaces(): Promise<MpValue> {
    const spaces = [...(await this.schema(true)).values()].sort((a, b) => a.id - b.id);
    const out: Record<string, MpValue> = {};
    for (const s of spaces) out[s.name] = s.id;
    return out;
  }
}

/** `a.b[1]` back from a parsed path (a bracketed segment came in as its text). */
function pathExpression(path: readonly string[]): string {
  return path.map((segment, i) => (i === 0 ? segment : /^[A-Za-z_][A-Za-z0-9_]*$/.test(segment) ? `.${segment}` : `[${JSON.stringify(segment)}]`)).join('');
}

function fieldName(field: MpValue, index: number): string {
  const name = field !== null && typeof field === 'object' && !Array.isArray(field) ? (field as Record<string, MpValue>)['name'] : undefined;
  return typeof name === 'string' ? name : String(index + 1);
}

/** A value as fselect prints it: JSON (strings quoted, big integers exact, bytes as hex). */
function cellText(value: MpValue): string {
  if (value === null || value === undefined) return 'null';
  if (typeof value === 'bigint') return value.toString();
  if (value instanceof MpFloat64) return String(value.value);
  if (value instanceof Uint8Array) return JSON.stringify(Buffer.from(value).toString('hex'));
  if (Array.isArray(value)) return `[${(value as MpValue[]).map(cellText).join(',')}]`;
  const entries = value instanceof Map ? [...value.entries()] : typeof value === 'object' && !(value instanceof MpExt) ? Object.entries(value) : null;
  if (entries !== null) return `{${entries.map(([k, v]) => `${typeof k === 'string' ? JSON.stringify(k) : cellText(k)}:${cellText(v)}`).join(',')}}`;
  if (value instanceof MpExt) return `ext${value.type}:${Buffer.from(value.data).toString('hex')}`;
  return JSON.stringify(value);
}

function describeSpace(space: SpaceInfo): MpValue {
  const indexes: Record<string, MpValue> = {};
  for (const [name, i] of space.indexes) indexes[name] = { id: i.id, type: i.type, unique: i.unique, parts: i.parts };
  return { id: space.id, name: space.name, engine: space.engine, field_count: space.fieldCount, format: space.format, index: indexes };
}

function asKey(value: MpValue): MpValue[] {
  if (value === undefined || value === null) return [];
  return Array.isArray(value) ? [...(value as MpValue[])] : [value];
}

function asTuple(value: MpValue, what: string): MpValue[] {
  if (!Array.isArray(value)) throw new EvalError(`${what} must be a table like {1, 'x'}`);
  return [...(value as MpValue[])];
}

function unwrapOrThrow(result: Result<MpValue[]>): MpValue[] {
  if (!result.ok) throw new EvalError(describe(result.error));
  return result.value;
}

function describe(error: { kind: string; message?: string; code?: number; timeoutMs?: number }): string {
  if (error.kind === 'timeout') return `timed out after ${error.timeoutMs} ms`;
  if (error.kind === 'server' && error.code === ErrorCode.NO_SUCH_PROC) return `${error.message} (no such function on the server)`;
  return error.message ?? 'unknown error';
}
