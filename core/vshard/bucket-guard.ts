/**
 * What keeps a bucket from moving under a call, per instance and in memory (vshard's bucket refs,
 * REFERENCE 5.3): writes running on a bucket (`rw` refs), which a send waits out after marking
 * the bucket `sending` so that no admitted write is left behind; and the buckets this instance
 * is sending right now, which recovery leaves to the sender. Both vanish with the process, as
 * they should: after a restart no write is running and no send is under way.
 */

import { assert } from '../lib/assert.ts';
import type { Node } from '../node/node.ts';

export class BucketGuard {
  private readonly rwRefs = new Map<number, number>();
  private readonly sending = new Set<number>();

  refRw(bucketId: number): void {
    this.rwRefs.set(bucketId, (this.rwRefs.get(bucketId) ?? 0) + 1);
  }

  unrefRw(bucketId: number): void {
    const count = this.rwRefs.get(bucketId) ?? 0;
    assert(count > 0, `rw ref of bucket ${bucketId} released more often than taken`);
    if (count === 1) this.rwRefs.delete(bucketId);
    else this.rwRefs.set(bucketId, count - 1);
  }

  rwRefCount(bucketId: number): number {
    return this.rwRefs.get(bucketId) ?? 0;
  }

  /** Claims the bucket for a send; false when a send of it is already under way. */
  beginSend(bucketId: number): boolean {
    if (this.sending.has(bucketId)) return false;
    this.sending.add(bucketId);
    return true;
  }

  endSend(bucketId: number): void {
    this.sending.delete(bucketId);
  }

  isSending(bucketId: number): boolean {
    return this.sending.has(bucketId);
  }

  get sendsUnderWay(): number {
    return this.sending.size;
  }
}

const guards = new WeakMap<Node, BucketGuard>();

export function bucketGuard(node: Node): BucketGuard {
  let guard = guards.get(node);
  if (guard === undefined) {
    guard = new BucketGuard();
    guards.set(node, guard);
  }
  return guard;
}
