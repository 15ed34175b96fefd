import { isMpMap, mapGet, type MpValue } from '../codec/msgpack.ts';
import { ProcError } from '../rpc/proc-error.ts';

export type CallMode = 'read' | 'write';

/** vshard's `mode` argument: `'read'`, `'write'`, or a map `{mode = 'read' | 'write', ...}`. */
export function parseMode(value: MpValue): CallMode {
  const mode = isMpMap(value) ? mapGet(value, 'mode') : value;
  if (mode === 'read' || mode === 'write') return mode;
  throw new ProcError(`mode must be 'read' or 'write', got ${JSON.stringify(mode ?? null)}`);
}
