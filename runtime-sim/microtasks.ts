import { promiseHooks } from 'node:v8';

/**
 * Draining the microtask queue between simulation events.
 *
 * `async` code in core/ continues in promise reaction jobs. The scheduler must let every job an
 * event caused run before it starts the next event, or a continuation would observe a later
 * event first. V8 runs reaction jobs FIFO, so: count reactions with a promise hook, await once,
 * and if anything other than our own continuation ran meanwhile, the queue was not empty: repeat.
 * This is exact for promise jobs (the only microtasks core/ can create: queueMicrotask and
 * process.nextTick are banned there) and costs one await per event.
 */

let reactions = 0;
let installed = false;

export function installMicrotaskCounter(): void {
  if (installed) return;
  installed = true;
  promiseHooks.onBefore(() => {
    reactions++;
  });
}

export async function drainMicrotasks(): Promise<void> {
  for (;;) {
    const seen = reactions;
    await null;
    if (reactions === seen + 1) return;
  }
}
