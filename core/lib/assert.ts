/**
 * Always-on assertions. A failed assertion is a bug in this program, never an operating error:
 * operating errors (bad input, a dead peer, a full disk) come back as typed results instead.
 */

export class AssertionError extends Error {
  override readonly name = 'AssertionError';
}

export function assert(condition: unknown, message?: string | (() => string)): asserts condition {
  if (!condition) {
    const text = typeof message === 'function' ? message() : message;
    throw new AssertionError(text ?? 'assertion failed');
  }
}

/** Marks a branch the type checker proves impossible; throws if it is reached anyway. */
export function unreachable(value: never, message = 'unreachable'): never {
  throw new AssertionError(`${message}: ${String(value)}`);
}

/** Unwraps a value the caller knows is present. */
export function must<T>(value: T | undefined | null, message?: string): T {
  if (value === undefined || value === null) {
    throw new AssertionError(message ?? 'value must be present');
  }
  return value;
}

export function assertInteger(value: number, name: string): void {
  if (!Number.isSafeInteger(value)) throw new AssertionError(`${name} must be a safe integer, got ${value}`);
}

export function assertNonNegativeInteger(value: number, name: string): void {
  if (!Number.isSafeInteger(value) || value < 0) {
    throw new AssertionError(`${name} must be a non-negative integer, got ${value}`);
  }
}
