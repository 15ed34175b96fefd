import { assert } from '../core/lib/assert.ts';
import { drainMicrotasks, installMicrotaskCounter } from './microtasks.ts';

// Captured at load, before any determinism guard replaces the global.
const realSetImmediate = globalThis.setImmediate;

/** Whoever an event belongs to: a process incarnation. Events of a dead owner never run. */
export interface EventOwner {
  readonly alive: boolean;
  /** A paused (SIGSTOPped) owner's events are held, in order, until it resumes. */
  readonly paused?: boolean;
  /** Where the scheduler parks a paused owner's events. */
  hold?(event: SimEvent): void;
  /** An event of this owner threw: a bug in the program it runs. */
  fail(error: unknown): void;
}

export interface SimEvent {
  readonly atMs: number;
  readonly seq: number;
  readonly fn: () => void;
  readonly owner: EventOwner | null;
  cancelled: boolean;
}

export type RunEnd = 'until' | 'idle' | 'max_events' | 'max_virtual_time';

export interface RunLimits {
  /** Stop as soon as this returns true (checked after every event and its microtasks). */
  readonly until: () => boolean;
  readonly eventsMax: number;
  readonly virtualMsMax: number;
}

/** Events between real macrotask yields; deterministic (a count, not wall time). */
const EVENTS_PER_REAL_YIELD = 4096;

/**
 * Discrete-event scheduler on virtual time. One event at a time in (time, sequence) order; every
 * microtask an event causes finishes before the next event starts. Ties never break by identity.
 */
export class Scheduler {
  nowMs = 0;
  eventsRun = 0;
  private readonly heap: SimEvent[] = [];
  private seq = 0;
  /** Called around real yields so global stubs can be lifted while other code runs. */
  onYield: { before(): void; after(): void } | null = null;

  constructor() {
    installMicrotaskCounter();
  }

  get pending(): number {
    return this.heap.length;
  }

  schedule(atMs: number, fn: () => void, owner: EventOwner | null): SimEvent {
    assert(atMs >= this.nowMs, () => `cannot schedule in the past: ${atMs} < ${this.nowMs}`);
    const event: SimEvent = { atMs, seq: this.seq++, fn, owner, cancelled: false };
    this.push(event);
    return event;
  }

  /** Re-queues held events at the current time, keeping their relative order. */
  release(events: readonly SimEvent[]): void {
    for (const event of events) if (!event.cancelled) this.schedule(this.nowMs, event.fn, event.owner);
  }

  after(delayMs: number, fn: () => void, owner: EventOwner | null): SimEvent {
    assert(delayMs >= 0 && Number.isFinite(delayMs), () => `bad delay ${delayMs}`);
    return this.schedule(this.nowMs + delayMs, fn, owner);
  }

  async run(limits: RunLimits): Promise<RunEnd> {
    let sinceYield = 0;
    const startEvents = this.eventsRun;
    for (;;) {
      if (limits.until()) return 'until';
      if (this.eventsRun - startEvents >= limits.eventsMax) return 'max_events';
      const event = this.pop();
      if (event === undefined) return 'idle';
      if (event.atMs > limits.virtualMsMax) {
        this.push(event);
        return 'max_virtual_time';
      }
      if (event.cancelled || (event.owner !== null && !event.owner.alive)) continue;
      if (event.owner?.paused === true && event.owner.hold !== undefined) {
        event.owner.hold(event);
        continue;
      }
      this.nowMs = event.atMs;
      this.eventsRun++;
      this.runOne(event);
      await drainMicrotasks();
      if (++sinceYield >= EVENTS_PER_REAL_YIELD) {
        sinceYield = 0;
        await this.yieldToRealLoop();
      }
    }
  }

  private runOne(event: SimEvent): void {
    try {
      event.fn();
    } catch (error) {
      if (event.owner === null) throw error;
      event.owner.fail(error);
    }
  }

  /** Lets the host process breathe (test runner, I/O flushes); no simulated code runs meanwhile. */
  private async yieldToRealLoop(): Promise<void> {
    this.onYield?.before();
    await new Promise<void>((resolve) => realSetImmediate(resolve));
    this.onYield?.after();
  }

  private less(a: SimEvent, b: SimEvent): boolean {
    return a.atMs < b.atMs || (a.atMs === b.atMs && a.seq < b.seq);
  }

  private push(event: SimEvent): void {
    const heap = this.heap;
    heap.push(event);
    let i = heap.length - 1;
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (!this.less(event, heap[parent]!)) break;
      heap[i] = heap[parent]!;
      i = parent;
    }
    heap[i] = event;
  }

  private pop(): SimEvent | undefined {
    const heap = this.heap;
    if (heap.length === 0) return undefined;
    const top = heap[0]!;
    const last = heap.pop()!;
    if (heap.length === 0) return top;
    let i = 0;
    const n = heap.length;
    for (;;) {
      const l = 2 * i + 1;
      if (l >= n) break;
      const r = l + 1;
      const child = r < n && this.less(heap[r]!, heap[l]!) ? r : l;
      if (!this.less(heap[child]!, last)) break;
      heap[i] = heap[child]!;
      i = child;
    }
    heap[i] = last;
    return top;
  }
}
