import type { MpValue } from '../codec/msgpack.ts';
import { ErrorCode } from '../iproto/constants.ts';
import { iprotoError } from '../iproto/errors.ts';
import type { Node } from '../node/node.ts';

/** What a `vshard.*` function served over iproto works with. */
export interface VshardContext {
  readonly node: Node;
  /** The session's user, for the access errors of the functions it may not run through vshard. */
  readonly user: string;
  /**
   * Calls a function this instance serves (a `--script` function, `pico.*`, `vshard.*`) by name,
   * with the caller's rights, as a CALL would: its return values, or a throw with its error.
   */
  invoke(name: string, args: readonly MpValue[]): Promise<readonly MpValue[]>;
}

export type VshardFunction = (context: VshardContext, args: readonly MpValue[]) => MpValue[] | Promise<MpValue[]>;

/**
 * vshard runs application functions where their buckets are. The instance's own RPCs (`.proc_*`)
 * are refused whoever asks: the call travels to the storage over a connection of the cluster,
 * not of the caller, so it must not reach what the caller could not call directly.
 */
export function checkRoutable(name: string, user: string): void {
  if (name.startsWith('.')) throw iprotoError(ErrorCode.ACCESS_DENIED, 'Execute', 'function', name, user);
}
