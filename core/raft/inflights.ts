/**
 * A bounded window of append messages sent to one follower in Replicate state and not yet
 * acknowledged, remembered by the last index each carried. When the window is full the leader
 * stops sending, so a slow follower cannot make it buffer unbounded messages.
 */
import { assert } from '../lib/assert.ts';
import type { LogIndex } from './types.ts';

export class Inflights {
  readonly capacity: number;
  /** Ring buffer of last indexes, oldest at `start`. Indexes increase along the ring. */
  private readonly buffer: LogIndex[] = [];
  private start = 0;
  private count = 0;

  constructor(capacity: number) {
    assert(Number.isSafeInteger(capacity) && capacity > 0, 'inflight capacity must be positive');
    this.capacity = capacity;
  }

  get size(): number {
    return this.count;
  }

  full(): boolean {
    return this.count === this.capacity;
  }

  /** Records a message whose last entry is `lastIndex`. */
  add(lastIndex: LogIndex): void {
    assert(!this.full(), 'cannot add to a full inflight window');
    if (this.count > 0) {
      const newest = this.buffer[(this.start + this.count - 1) % this.capacity]!;
      assert(lastIndex > newest, () => `inflight ${lastIndex} must exceed newest ${newest}`);
    }
    this.buffer[(this.start + this.count) % this.capacity] = lastIndex;
    this.count++;
  }

  /** Frees every message whose last index is <= `index` (the follower acknowledged them). */
  freeLE(index: LogIndex): void {
    while (this.count > 0 && this.buffer[this.start]! <= index) {
      this.start = (this.start + 1) % this.capacity;
      this.count--;
    }
    if (this.count === 0) this.start = 0;
  }

  /** Frees the oldest message: a heartbeat response shows the follower is alive. */
  freeFirstOne(): void {
    if (this.count === 0) return;
    this.freeLE(this.buffer[this.start]!);
  }

  /** An independent copy (configuration changes build new trackers instead of mutating). */
  clone(): Inflights {
    const copy = new Inflights(this.capacity);
    for (let i = 0; i < this.count; i++) copy.add(this.buffer[(this.start + i) % this.capacity]!);
    return copy;
  }

  reset(): void {
    this.start = 0;
    this.count = 0;
  }
}
