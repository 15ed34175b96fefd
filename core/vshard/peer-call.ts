/**
 * A vshard function called on another instance, by instance id, within a time budget. Failures
 * come back as values, never throws: an error reply of the callee (`transport: false`), or no
 * reply at all (`transport: true`: a timeout or a lost connection, after which the call may or
 * may not have run there).
 */

import type { MpValue } from '../codec/msgpack.ts';
import type { Cancel } from '../env/clock.ts';
import type { Node } from '../node/node.ts';

/** ER_TIMEOUT: a callee that did not answer before the deadline. */
export const ER_TIMEOUT = 78;
/** ER_NO_CONNECTION: a callee that could not be reached. */
export const ER_NO_CONNECTION = 77;

export type PeerOutcome = { readonly ok: true; readonly values: MpValue[] } | { readonly ok: false; readonly error: MpValue; readonly transport: boolean };

export async function callInstance(node: Node, instanceId: string, fn: string, args: MpValue[], timeoutMs: number): Promise<PeerOutcome> {
  const instance = node.tables.instance(instanceId);
  const address = instance === undefined ? undefined : node.peerAddress(instance.raftId);
  if (address === undefined) return { ok: false, error: { type: 'ClientError', code: ER_NO_CONNECTION, message: `no address known for instance ${instanceId}` }, transport: true };
  // The pool's own connect wait is not bounded by this call's budget: the deadline is kept here.
  const budgetMs = Math.max(1, timeoutMs);
  let cancel: Cancel = () => undefined;
  const expired = new Promise<null>((resolve) => {
    cancel = node.env.clock.after(budgetMs, () => resolve(null));
  });
  const result = await Promise.race([node.pool.call(address, fn, args, budgetMs), expired]);
  cancel();
  if (result === null) return { ok: false, error: { type: 'ClientError', code: ER_TIMEOUT, message: 'Timeout exceeded' }, transport: true };
  if (result.ok) return { ok: true, values: result.value };
  const failure = result.error;
  switch (failure.kind) {
    case 'server':
      return { ok: false, error: { type: 'ClientError', code: failure.code, message: failure.message }, transport: false };
    case 'timeout':
      return { ok: false, error: { type: 'ClientError', code: ER_TIMEOUT, message: 'Timeout exceeded' }, transport: true };
    case 'closed':
      return { ok: false, error: { type: 'ClientError', code: ER_NO_CONNECTION, message: failure.message }, transport: true };
  }
}
