/**
 * Appends every item to `target` in place. `target.push(...items)` passes the items as call
 * arguments, and past roughly 100k of them V8 throws "Maximum call stack size exceeded": use
 * this wherever the count is not bounded by a small constant (WAL spans, log entries, lines).
 */
export function pushAll<T>(target: T[], items: readonly T[]): void {
  for (let i = 0; i < items.length; i++) target.push(items[i]!);
}
