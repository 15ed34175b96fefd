/**
 * ReadIndex bookkeeping (Raft thesis §6.4). With `safe`, the leader records its commit index for
 * each request and answers once a quorum has answered a heartbeat carrying the request's context,
 * which proves it was still leader when the request arrived. With `leaseBased`, it answers at once,
 * trusting check-quorum's lease (unsafe under unbounded clock drift).
 */
import { assert } from '../lib/assert.ts';
import type { ReadIndexMessage } from './messages.ts';
import type { LogIndex, RaftId } from './types.ts';

export type ReadOnlyOption = 'safe' | 'leaseBased';

export interface ReadIndexStatus {
  readonly request: ReadIndexMessage;
  readonly index: LogIndex;
  readonly acks: Set<RaftId>;
}

/** Requests are keyed by their context bytes; equal contexts collapse into one request. */
export function contextKey(context: Uint8Array): string {
  let key = '';
  for (const byte of context) key += byte.toString(16).padStart(2, '0');
  return key;
}

export class ReadOnly {
  readonly option: ReadOnlyOption;
  private readonly pending = new Map<string, ReadIndexStatus>();
  /** Keys in arrival order; answering one answers every earlier one too. */
  private queue: string[] = [];

  constructor(option: ReadOnlyOption) {
    this.option = option;
  }

  get pendingCount(): number {
    return this.queue.length;
  }

  /** Records a request seen at commit `index`. A duplicate context is ignored. */
  addRequest(index: LogIndex, request: ReadIndexMessage): void {
    const key = contextKey(request.context);
    if (this.pending.has(key)) return;
    this.pending.set(key, { request, index, acks: new Set() });
    this.queue.push(key);
    assert(this.pending.size === this.queue.length, 'read-only queue and map must agree');
  }

  /** Records a heartbeat ack for `context`; returns everyone who acked it, or undefined. */
  recvAck(id: RaftId, context: Uint8Array): ReadonlySet<RaftId> | undefined {
    const status = this.pending.get(contextKey(context));
    if (status === undefined) return undefined;
    status.acks.add(id);
    return status.acks;
  }

  /** Dequeues the request with `context` and every request queued before it. */
  advance(context: Uint8Array): ReadIndexStatus[] {
    const key = contextKey(context);
    const position = this.queue.indexOf(key);
    if (position < 0) return [];
    const done = this.queue.slice(0, position + 1);
    this.queue = this.queue.slice(position + 1);
    const statuses = done.map((k) => this.pending.get(k)!);
    for (const k of done) this.pending.delete(k);
    assert(this.pending.size === this.queue.length, 'read-only queue and map must agree');
    return statuses;
  }

  /** Context of the newest pending request, to piggyback on heartbeats; empty if none. */
  lastPendingContext(): Uint8Array {
    const key = this.queue[this.queue.length - 1];
    if (key === undefined) return new Uint8Array(0);
    return this.pending.get(key)!.request.context;
  }
}
