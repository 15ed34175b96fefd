/**
 * A small in-memory IprotoBackend for the protocol tests: a few spaces with a unique tree-like
 * primary key on field 0 (plus an optional secondary), the `_vspace`/`_vindex` views drivers use
 * to resolve names, a few callable functions, and two users (guest without password, `test` with
 * password `secret`). It is deliberately simple: the real backend is box + the pico API.
 */

import type { MpValue } from '../../core/codec/msgpack.ts';
import type { IprotoBackend, IprotoSession, UserCredentials } from '../../core/iproto/backend.ts';
import { chapSha1PasswordHash } from '../../core/lib/chap-sha1.ts';
import { ErrorCode, Iterator } from '../../core/iproto/constants.ts';
import { iprotoError } from '../../core/iproto/errors.ts';
import type { ExecuteResult } from '../../core/iproto/response.ts';
import type {
  CallRequest,
  DeleteRequest,
  EvalRequest,
  ExecuteRequest,
  InsertRequest,
  SelectRequest,
  UpdateRequest,
  UpsertRequest,
} from '../../core/iproto/request.ts';

export const VSPACE_ID = 281;
export const VINDEX_ID = 289;
export const TEST_SPACE_ID = 512;

interface IndexDef {
  readonly id: number;
  readonly name: string;
  /** 0-based field numbers forming the key. */
  readonly fields: readonly number[];
  readonly types: readonly string[];
}

interface SpaceDef {
  readonly id: number;
  readonly name: string;
  readonly format: ReadonlyArray<{ name: string; type: string }>;
  readonly indexes: readonly IndexDef[];
}

interface Space {
  readonly def: SpaceDef;
  /** Tuples by primary key (JSON of the key parts). */
  readonly tuples: Map<string, MpValue[]>;
}

export type TestFunction = (args: readonly MpValue[], session: IprotoSession) => MpValue[] | Promise<MpValue[]>;

export class MemoryBackend implements IprotoBackend {
  readonly spaces = new Map<number, Space>();
  readonly functions = new Map<string, TestFunction>();
  readonly users = new Map<string, UserCredentials>([
    ['guest', { chapSha1Hash: undefined }],
    ['test', { chapSha1Hash: chapSha1PasswordHash('secret') }],
  ]);
  version = 80;
  closedSessions = 0;

  constructor() {
    this.addSpace({
      id: TEST_SPACE_ID,
      name: 'test',
      format: [{ name: 'id', type: 'unsigned' }, { name: 'value', type: 'any' }],
      indexes: [{ id: 0, name: 'pk', fields: [0], types: ['unsigned'] }, { id: 1, name: 'value', fields: [1], types: ['scalar'] }],
    });
    this.addSpace({ id: 513, name: 'other', format: [], indexes: [{ id: 0, name: 'primary', fields: [0], types: ['scalar'] }] });
    this.functions.set('echo', (args) => [...args]);
    this.functions.set('sum', (args) => [args.reduce<number>((a, b) => a + (b as number), 0)]);
    this.functions.set('pair', () => [[1, 2]]);
    this.functions.set('tuples', () => [[[1], [2]]]);
    this.functions.set('multi', () => [1, [2, 3]]);
    this.functions.set('nothing', () => []);
    this.functions.set('whoami', (_args, session) => [session.user]);
    this.functions.set('boom', () => {
      throw new Error('kaboom');
    });
    this.functions.set('readonly', () => {
      throw iprotoError(ErrorCode.READONLY);
    });
    this.functions.set('private', (_args, session) => {
      if (session.user !== 'test') throw iprotoError(ErrorCode.ACCESS_DENIED, 'Execute', 'function', 'private', session.user);
      return ['secret data'];
    });
  }

  addSpace(def: SpaceDef): void {
    this.spaces.set(def.id, { def, tuples: new Map() });
  }

  /** Every tuple of every user space, for "rejected requests change nothing" checks. */
  snapshot(): string {
    return JSON.stringify([...this.spaces.values()].map((s) => [s.def.id, [...s.tuples.entries()].sort()]));
  }

  schemaVersion(): number {
    return this.version;
  }

  credentials(user: string): UserCredentials | undefined {
    return this.users.get(user);
  }

  select(request: SelectRequest): MpValue[] {
    const { tuples, index } = this.view(request.spaceId, request.indexId);
    const matching = tuples
      .map((tuple) => ({ tuple, key: index.fields.map((f) => tuple[f]) }))
      .sort((a, b) => compareKeys(a.key, b.key));
    const wanted = matching.filter(({ key }) => iteratorAccepts(request.iterator, compareKeys(key.slice(0, request.key.length), request.key), request.key.length));
    if (request.iterator === Iterator.LT || request.iterator === Iterator.LE || request.iterator === Iterator.REQ) wanted.reverse();
    return wanted.slice(request.offset, request.offset + request.limit).map(({ tuple }) => tuple);
  }

  /**
   * Every index here is unique: a full key is a point lookup, answered by `select` itself, so
   * the two routes agree and the tests over this backend exercise the session's point route.
   */
  selectPoint(spaceId: number, indexId: number, key: MpValue[]): readonly MpValue[] | null | undefined {
    if (key.length !== this.view(spaceId, indexId).index.fields.length) return undefined;
    const [tuple] = this.select({ kind: 'select', spaceId, indexId, limit: 1, offset: 0, iterator: Iterator.EQ, key }) as MpValue[][];
    return tuple ?? null;
  }

  insert(request: InsertRequest): MpValue {
    const space = this.userSpace(request.spaceId);
    const key = primaryKey(space, request.tuple);
    if (request.kind === 'insert' && space.tuples.has(key)) {
      throw iprotoError(ErrorCode.TUPLE_FOUND, space.def.indexes[0]!.name, space.def.name);
    }
    space.tuples.set(key, request.tuple);
    return request.tuple;
  }

  update(request: UpdateRequest): MpValue | undefined {
    const space = this.userSpace(request.spaceId);
    primaryOnly(space, request.indexId);
    const key = JSON.stringify(request.key);
    const old = space.tuples.get(key);
    if (old === undefined) return undefined;
    const updated = applyOps(old, request.ops, request.indexBase);
    space.tuples.set(key, updated);
    return updated;
  }

  delete(request: DeleteRequest): MpValue | undefined {
    const space = this.userSpace(request.spaceId);
    primaryOnly(space, request.indexId);
    const key = JSON.stringify(request.key);
    const old = space.tuples.get(key);
    space.tuples.delete(key);
    return old;
  }

  upsert(request: UpsertRequest): void {
    const space = this.userSpace(request.spaceId);
    const key = primaryKey(space, request.tuple);
    const old = space.tuples.get(key);
    space.tuples.set(key, old === undefined ? request.tuple : applyOps(old, request.ops, request.indexBase));
  }

  call(request: CallRequest, session: IprotoSession): MpValue[] | Promise<MpValue[]> {
    const fn = this.functions.get(request.functionName);
    if (fn === undefined) throw iprotoError(ErrorCode.NO_SUCH_PROC, request.functionName);
    return fn(request.args, session);
  }

  eval(request: EvalRequest): MpValue[] {
    if (request.expr.trim() === 'return ...') return [...request.args];
    throw iprotoError(ErrorCode.PROC_LUA, `eval is not supported by the test backend: ${request.expr}`);
  }

  /** Just enough SQL for connector tests: `SELECT * FROM "<space>"` and `DELETE FROM "<space>"`. */
  execute(request: ExecuteRequest): ExecuteResult {
    const match = /^\s*(SELECT \* FROM|DELETE FROM)\s+"([^"]+)"\s*$/i.exec(request.sqlText ?? '');
    const space = match === null ? undefined : [...this.spaces.values()].find((s) => s.def.name === match[2]);
    if (match === null || space === undefined) throw iprotoError(ErrorCode.UNSUPPORTED, 'Test backend', `SQL ${request.sqlText ?? ''}`);
    if (match[1]!.toUpperCase().startsWith('DELETE')) {
      const rowCount = space.tuples.size;
      space.tuples.clear();
      return { kind: 'changed', rowCount };
    }
    const rows = [...space.tuples.values()].sort((x, y) => compareKeys([x[0]], [y[0]]));
    return { kind: 'rows', metadata: space.def.format.map((f) => ({ name: f.name.toUpperCase(), type: f.type })), rows };
  }

  sessionClosed(): void {
    this.closedSessions++;
  }

  private userSpace(spaceId: number): Space {
    const space = this.spaces.get(spaceId);
    if (space === undefined) throw iprotoError(ErrorCode.NO_SUCH_SPACE, String(spaceId));
    return space;
  }

  /** The tuples and index of a user space or of the _vspace/_vindex system views. */
  private view(spaceId: number, indexId: number): { tuples: MpValue[][]; index: IndexDef } {
    if (spaceId === VSPACE_ID) return { tuples: this.vspace(), index: pick(VSPACE_INDEXES, indexId, '_vspace') };
    if (spaceId === VINDEX_ID) return { tuples: this.vindex(), index: pick(VINDEX_INDEXES, indexId, '_vindex') };
    const space = this.userSpace(spaceId);
    return { tuples: [...space.tuples.values()], index: pick(space.def.indexes, indexId, space.def.name) };
  }

  private vspace(): MpValue[][] {
    return [...this.spaces.values()].map(({ def }) => [def.id, 1, def.name, 'memtx', 0, {}, def.format.map((f) => ({ ...f }))]);
  }

  private vindex(): MpValue[][] {
    return [...this.spaces.values()].flatMap(({ def }) =>
      def.indexes.map((index) => [def.id, index.id, index.name, 'tree', { unique: true }, index.fields.map((f, i) => [f, index.types[i]!])]),
    );
  }
}

const VSPACE_INDEXES: readonly IndexDef[] = [
  { id: 0, name: 'primary', fields: [0], types: ['unsigned'] },
  { id: 2, name: 'name', fields: [2], types: ['string'] },
];
const VINDEX_INDEXES: readonly IndexDef[] = [
  { id: 0, name: 'primary', fields: [0, 1], types: ['unsigned', 'unsigned'] },
  { id: 2, name: 'name', fields: [0, 2], types: ['unsigned', 'string'] },
];

function pick(indexes: readonly IndexDef[], indexId: number, spaceName: string): IndexDef {
  const index = indexes.find((i) => i.id === indexId);
  if (index === undefined) throw iprotoError(ErrorCode.NO_SUCH_INDEX_ID, indexId, spaceName);
  return index;
}

function primaryOnly(space: Space, indexId: number): void {
  pick(space.def.indexes, indexId, space.def.name);
  if (indexId !== 0) throw iprotoError(ErrorCode.UNSUPPORTED, 'Test backend', 'updates by a secondary index');
}

function primaryKey(space: Space, tuple: readonly MpValue[]): string {
  return JSON.stringify(space.def.indexes[0]!.fields.map((f) => tuple[f]));
}

function iteratorAccepts(iterator: number, order: number, keyParts: number): boolean {
  if (keyParts === 0) return true;
  switch (iterator) {
    case Iterator.EQ:
    case Iterator.REQ:
      return order === 0;
    case Iterator.ALL:
      return true;
    case Iterator.LT:
      return order < 0;
    case Iterator.LE:
      return order <= 0;
    case Iterator.GE:
      return order >= 0;
    case Iterator.GT:
      return order > 0;
    default:
      throw iprotoError(ErrorCode.UNSUPPORTED, 'Test backend', `iterator ${iterator}`);
  }
}

function compareKeys(a: readonly MpValue[], b: readonly MpValue[]): number {
  for (let i = 0; i < Math.min(a.length, b.length); i++) {
    const x = a[i];
    const y = b[i];
    if (x === y) continue;
    if (typeof x === typeof y && (typeof x === 'number' || typeof x === 'string')) return x! < y! ? -1 : 1;
    return typeof x < typeof y ? -1 : 1;
  }
  return a.length - b.length;
}

/** `=`, `+`, `-`, `!`, `#` update operations; field numbers count from `indexBase`. */
function applyOps(tuple: readonly MpValue[], ops: readonly MpValue[], indexBase: number): MpValue[] {
  const out = [...tuple];
  for (const op of ops) {
    if (!Array.isArray(op) || typeof op[0] !== 'string' || typeof op[1] !== 'number') throw iprotoError(ErrorCode.ILLEGAL_PARAMS, 'update operation must be an array {op,..}');
    const field = op[1] - indexBase;
    const at = field < 0 ? out.length + field + indexBase : field;
    if (at < 0 || at > out.length) throw iprotoError(ErrorCode.NO_SUCH_FIELD_NO, op[1]);
    switch (op[0]) {
      case '=':
        out[at] = op[2] as MpValue;
        break;
      case '+':
      case '-':
        if (typeof out[at] !== 'number' || typeof op[2] !== 'number') throw iprotoError(ErrorCode.UPDATE_FIELD, op[1], 'Argument type in operation on field does not match field type: expected a number');
        out[at] = op[0] === '+' ? (out[at] as number) + op[2] : (out[at] as number) - op[2];
        break;
      case '!':
        out.splice(at, 0, op[2] as MpValue);
        break;
      case '#':
        out.splice(at, typeof op[2] === 'number' ? op[2] : 1);
        break;
      default:
        throw iprotoError(ErrorCode.UNKNOWN_UPDATE_OP);
    }
  }
  return out;
}
