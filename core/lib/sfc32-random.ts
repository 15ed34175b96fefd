import { assert } from './assert.ts';
import type { Random } from '../env/random.ts';

/**
 * A small fast PRNG (sfc32) implementing Random, seeded from a label path. The simulator seeds it
 * from the run's seed; the real runtime seeds it from the OS's entropy. `fork(label)` derives a child from the parent's *seed path*,
 * not from its draws, so subsystems stay independent: adding a draw in the network model does not
 * reshuffle the disk faults of the same seed.
 */
export class Sfc32Random implements Random {
  readonly path: string;
  private a: number;
  private b: number;
  private c: number;
  private d: number;

  constructor(path: string) {
    this.path = path;
    const [h1, h2, h3, h4] = hashString128(path);
    this.a = h1;
    this.b = h2;
    this.c = h3;
    this.d = h4;
    for (let i = 0; i < 15; i++) this.next();
  }

  static fromSeed(seed: number | string): Sfc32Random {
    return new Sfc32Random(`seed:${seed}`);
  }

  /** Next 32-bit unsigned value. */
  next(): number {
    this.a >>>= 0;
    this.b >>>= 0;
    this.c >>>= 0;
    this.d >>>= 0;
    const t = (this.a + this.b) | 0;
    this.a = this.b ^ (this.b >>> 9);
    this.b = (this.c + (this.c << 3)) | 0;
    this.c = (this.c << 21) | (this.c >>> 11);
    this.d = (this.d + 1) | 0;
    const out = (t + this.d) | 0;
    this.c = (this.c + out) | 0;
    return out >>> 0;
  }

  float(): number {
    return this.next() / 4294967296;
  }

  int(maxExclusive: number): number {
    assert(maxExclusive > 0 && Number.isSafeInteger(maxExclusive), `int(${maxExclusive})`);
    if (maxExclusive <= 0x100000000) return Math.floor(this.float() * maxExclusive);
    return Math.floor((this.next() * 4294967296 + this.next()) / 2 ** 64 * maxExclusive);
  }

  /** Uniform in [min, max]. */
  range(min: number, max: number): number {
    assert(max >= min, 'range max < min');
    return min + this.int(max - min + 1);
  }

  chance(probability: number): boolean {
    return probability > 0 && this.float() < probability;
  }

  /** Exponentially distributed with the given mean. */
  exponential(mean: number): number {
    return -Math.log(1 - this.float()) * mean;
  }

  pick<T>(items: readonly T[]): T {
    assert(items.length > 0, 'pick from an empty list');
    return items[this.int(items.length)]!;
  }

  shuffle<T>(items: T[]): T[] {
    for (let i = items.length - 1; i > 0; i--) {
      const j = this.int(i + 1);
      const t = items[i]!;
      items[i] = items[j]!;
      items[j] = t;
    }
    return items;
  }

  bytes(count: number): Uint8Array {
    const out = new Uint8Array(count);
    for (let i = 0; i < count; i += 4) {
      let v = this.next();
      for (let k = 0; k < 4 && i + k < count; k++) {
        out[i + k] = v & 0xff;
        v >>>= 8;
      }
    }
    return out;
  }

  uuid(): string {
    const b = this.bytes(16);
    b[6] = (b[6]! & 0x0f) | 0x40;
    b[8] = (b[8]! & 0x3f) | 0x80;
    let hex = '';
    for (let i = 0; i < 16; i++) hex += b[i]!.toString(16).padStart(2, '0');
    return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
  }

  fork(label: string): Sfc32Random {
    return new Sfc32Random(`${this.path}/${label}`);
  }
}

/** cyrb128: a fast, well-mixed 128-bit string hash used only to seed sfc32. */
function hashString128(text: string): [number, number, number, number] {
  let h1 = 1779033703;
  let h2 = 3144134277;
  let h3 = 1013904242;
  let h4 = 2773480762;
  for (let i = 0; i < text.length; i++) {
    const k = text.charCodeAt(i);
    h1 = h2 ^ Math.imul(h1 ^ k, 597399067);
    h2 = h3 ^ Math.imul(h2 ^ k, 2869860233);
    h3 = h4 ^ Math.imul(h3 ^ k, 951274213);
    h4 = h1 ^ Math.imul(h4 ^ k, 2716044179);
  }
  h1 = Math.imul(h3 ^ (h1 >>> 18), 597399067);
  h2 = Math.imul(h4 ^ (h2 >>> 22), 2869860233);
  h3 = Math.imul(h1 ^ (h3 >>> 17), 951274213);
  h4 = Math.imul(h2 ^ (h4 >>> 19), 2716044179);
  return [(h1 ^ h2 ^ h3 ^ h4) >>> 0, (h2 ^ h1) >>> 0, (h3 ^ h1) >>> 0, (h4 ^ h1) >>> 0];
}
