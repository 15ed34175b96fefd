import { assert } from './assert.ts';

/**
 * A Prometheus-style histogram of non-negative values: a count per upper bound (not cumulative;
 * the slot after the last bound is +Inf), how many values and their sum. Plain numbers, updated
 * without allocation, so it can sit on a hot path; a renderer turns it into `_bucket` lines.
 */
export class Histogram {
  /** Upper bounds, increasing, in the unit of the recorded values. */
  readonly bounds: readonly number[];
  readonly buckets: number[];
  count = 0;
  sum = 0;

  constructor(bounds: readonly number[]) {
    assert(bounds.every((b, i) => i === 0 || b > bounds[i - 1]!), 'histogram bounds must increase');
    this.bounds = bounds;
    this.buckets = new Array<number>(bounds.length + 1).fill(0);
  }

  record(value: number): void {
    assert(value >= 0, () => `negative histogram value ${value}`);
    let i = 0;
    while (i < this.bounds.length && value > this.bounds[i]!) i++;
    this.buckets[i]!++;
    this.count++;
    this.sum += value;
  }
}
