/**
 * What the iproto server of an instance serves: data requests on box spaces by id, CALL of the
 * `.proc_*` RPCs, the `pico.*` API, vshard's router and storage calls (core/vshard/) and
 * functions registered by `--script`, and EVAL of the API slice of Lua (./eval.ts). Every failure
 * becomes an error reply with a Tarantool code (core/iproto/errors.ts).
 */

import type { MpValue } from '../codec/msgpack.ts';
import type { Space } from '../box/space.ts';
import type { Tuple } from '../box/tuple.ts';
import type { Txn } from '../box/txn.ts';
import { RaftNodeFailure } from '../cluster/raft-node.ts';
import { BOX } from '../api/box-info.ts';
import { PICO, type PicoFunction } from '../api/pico.ts';
import type { IprotoBackend, IprotoSession, UserCredentials } from '../iproto/backend.ts';
import { ErrorCode } from '../iproto/constants.ts';
import { IprotoError, iprotoError } from '../iproto/errors.ts';
import type { CallRequest, DeleteRequest, EvalRequest, InsertRequest, SelectRequest, UpdateRequest, UpsertRequest } from '../iproto/request.ts';
import { PROCS } from '../rpc/procs.ts';
import { ProcError } from '../rpc/proc-error.ts';
import type { VshardContext } from '../vshard/context.ts';
import { VSHARD } from '../vshard/functions.ts';
import { boxMethodByName, evaluate } from './eval.ts';
import type { Node } from './node.ts';

/** A stored procedure: an array result is its list of return values (Lua's multiple returns), anything else one value. */
export type UserFunction = (args: readonly MpValue[]) => MpValue[] | MpValue | Promise<MpValue[] | MpValue>;

export class NodeBackend implements IprotoBackend {
  private readonly node: Node;
  /** Functions registered by the `--script` module, callable by name. */
  readonly userFunctions = new Map<string, UserFunction>();

  constructor(node: Node) {
    this.node = node;
  }

  schemaVersion(): number {
    return this.node.box.schemaVersion;
  }

  credentials(user: string): UserCredentials | undefined {
    const tuple = this.node.box.userByName(user);
    if (tuple === null) return undefined;
    const auth = tuple[4];
    const hash = auth !== null && typeof auth === 'object' && !Array.isArray(auth) && !(auth instanceof Uint8Array) ? (auth as Record<string, MpValue>)['chap-sha1'] : undefined;
    return { chapSha1Hash: typeof hash === 'string' ? hash : undefined };
  }

  select(request: SelectRequest): readonly MpValue[] {
    // The space object itself, not a BoxSpace handle (one allocation less per request): same
    // lookup, same NO_SUCH_SPACE, and an iproto key is always an array already.
    return this.node.box.spaceObject(request.spaceId).select(request.key, {
      index: request.indexId,
      iterator: request.iterator,
      limit: request.limit,
      offset: request.offset,
    });
  }

  selectPoint(spaceId: number, indexId: number, key: MpValue[]): readonly MpValue[] | null | undefined {
    return this.node.box.spaceObject(spaceId).selectPoint(key, indexId);
  }

  insert(request: InsertRequest): Promise<MpValue> {
    // As in select: the space object, not a BoxSpace handle that would look it up again.
    const box = this.node.box;
    const space = box.spaceObject(request.spaceId);
    return box.writeWith(request.kind === 'insert' ? insertStatement : replaceStatement, space, request.tuple);
  }

  async update(request: UpdateRequest): Promise<MpValue | undefined> {
    const result = await this.node.box.space(request.spaceId).update(request.key, request.ops, { index: request.indexId, indexBase: request.indexBase === 1 ? 1 : 0 });
    return result ?? undefined;
  }

  async delete(request: DeleteRequest): Promise<MpValue | undefined> {
    const result = await this.node.box.space(request.spaceId).delete(request.key, { index: request.indexId });
    return result ?? undefined;
  }

  upsert(request: UpsertRequest): Promise<void> {
    return this.node.box.space(request.spaceId).upsert(request.tuple, request.ops, { indexBase: request.indexBase === 1 ? 1 : 0 });
  }

  async call(request: CallRequest, session: IprotoSession): Promise<readonly MpValue[]> {
    return this.invoke(request.functionName, request.args, session);
  }

  /** EVAL of the API slice of Lua (core/node/eval.ts): API calls, `box.space` methods, literals. */
  eval(request: EvalRequest, session: IprotoSession): Promise<readonly MpValue[]> {
    return evaluate(request.expr, request.args, {
      box: this.node.box,
      invoke: (name, args) => this.invoke(name, args, session),
      has: (name) => this.lookup(name, session) !== undefined,
    });
  }

  private async invoke(name: string, args: readonly MpValue[], session: IprotoSession): Promise<readonly MpValue[]> {
    const fn = this.lookup(name, session);
    if (fn === undefined) throw iprotoError(ErrorCode.NO_SUCH_PROC, name);
    if (name.startsWith('.proc_') && session.user !== 'guest' && session.user !== 'admin') {
      throw iprotoError(ErrorCode.ACCESS_DENIED, 'Execute', 'function', name, session.user);
    }
    try {
      return await fn(args);
    } catch (error) {
      throw asCodedError(error);
    }
  }

  private lookup(name: string, session: IprotoSession): ((args: readonly MpValue[]) => MpValue[] | Promise<MpValue[]>) | undefined {
    const proc = PROCS.get(name);
    if (proc !== undefined) return (args) => proc.handle(this.node, args);
    const pico: PicoFunction | undefined = PICO.get(name) ?? BOX.get(name);
    if (pico !== undefined) return (args) => pico(this.node, args);
    const vshard = VSHARD.get(name);
    if (vshard !== undefined) {
      // vshard.storage.call runs the named function here with the caller's rights.
      const context: VshardContext = { node: this.node, user: session.user, invoke: (inner, innerArgs) => this.invoke(inner, innerArgs, session) };
      return (args) => vshard(context, args);
    }
    const user = this.userFunctions.get(name);
    if (user !== undefined) {
      return async (args) => {
        const result = await user(args);
        return Array.isArray(result) ? (result as MpValue[]) : [result as MpValue];
      };
    }
    // Last: a script function's CALL should not pay for this name match.
    const boxMethod = boxMethodByName(name);
    if (boxMethod !== undefined) return (args) => boxMethod(this.node.box, args);
    return undefined;
  }
}

// Module-level statements: no closure per request (see Box.writeWith).
function insertStatement(txn: Txn, space: Space, tuple: readonly MpValue[]): Tuple {
  return space.insert(txn, tuple);
}

function replaceStatement(txn: Txn, space: Space, tuple: readonly MpValue[]): Tuple {
  return space.replace(txn, tuple);
}

/** Keeps Tarantool codes; turns the node's typed failures into ER_PROC_C / ER_TIMEOUT errors. */
function asCodedError(error: unknown): unknown {
  if (error instanceof IprotoError || error instanceof ProcError) return error;
  if (error instanceof RaftNodeFailure) return new ProcError(error.message, error.error.kind === 'timeout' ? 78 : 102);
  return error;
}
