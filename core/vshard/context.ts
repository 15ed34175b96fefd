import type { MpValue } from '../codec/msgpack.ts';
import type { Node } from '../node/node.ts';

/** What a `vshard.*` function served over iproto works with. */
export interface VshardContext {
  readonly node: Node;
  /**
   * Calls a function this instance serves (a `--script` function, `pico.*`, `vshard.*`) by name,
   * with the caller's rights, as a CALL would: its return values, or a throw with its error.
   */
  invoke(name: string, args: readonly MpValue[]): Promise<readonly MpValue[]>;
}

export type VshardFunction = (context: VshardContext, args: readonly MpValue[]) => MpValue[] | Promise<MpValue[]>;
