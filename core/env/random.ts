/**
 * A seeded random stream. Each subsystem forks its own stream by label, so that adding or
 * removing draws in one subsystem does not reshuffle the others (this is what makes a failing
 * simulation shrinkable).
 */
export interface Random {
  /** Uniform in [0, 1). */
  float(): number;
  /** Uniform integer in [0, maxExclusive). */
  int(maxExclusive: number): number;
  /** `count` random bytes. */
  bytes(count: number): Uint8Array;
  /** A random (version 4) UUID in canonical lowercase form. */
  uuid(): string;
  /** An independent stream derived from this one's seed and `label`; does not advance this stream. */
  fork(label: string): Random;
}
