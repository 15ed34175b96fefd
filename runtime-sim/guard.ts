/**
 * Runtime half of the determinism contract: while simulated code runs, the ambient sources of
 * time, randomness and scheduling throw. The static half is scripts/lint-determinism.ts.
 * Library code that core/ calls is covered too, which the lint cannot see.
 */

type Saved = Array<[object, string, PropertyDescriptor | undefined]>;

function banned(name: string): () => never {
  return () => {
    throw new Error(`determinism violation: ${name} called inside the simulation; use the Env interfaces`);
  };
}

const TARGETS: Array<[() => object, string]> = [
  [() => Date, 'now'],
  [() => Math, 'random'],
  [() => performance, 'now'],
  [() => globalThis, 'setTimeout'],
  [() => globalThis, 'setInterval'],
  [() => globalThis, 'setImmediate'],
  [() => globalThis, 'queueMicrotask'],
  [() => process, 'nextTick'],
  [() => process, 'hrtime'],
  [() => globalThis.crypto, 'getRandomValues'],
  [() => globalThis.crypto, 'randomUUID'],
];

export class DeterminismGuard {
  private saved: Saved | null = null;

  install(): void {
    if (this.saved !== null) return;
    const saved: Saved = [];
    for (const [target, key] of TARGETS) {
      const object = target();
      saved.push([object, key, Object.getOwnPropertyDescriptor(object, key)]);
      Object.defineProperty(object, key, { value: banned(key === 'now' ? `${nameOf(object)}.now()` : key), configurable: true, writable: true });
    }
    this.saved = saved;
  }

  uninstall(): void {
    if (this.saved === null) return;
    for (const [object, key, descriptor] of this.saved) {
      if (descriptor === undefined) delete (object as Record<string, unknown>)[key];
      else Object.defineProperty(object, key, descriptor);
    }
    this.saved = null;
  }
}

function nameOf(object: object): string {
  if (object === Date) return 'Date';
  if (object === performance) return 'performance';
  return 'now';
}
