/**
 * Benchmark output contract (DESIGN.md): a human-readable table, then as the last line one JSON
 * object `{"bench": name, "results": [{name, ...figures}]}` with units in the keys.
 */

export type BenchResult = { readonly name: string } & Readonly<Record<string, string | number | boolean | null>>;

export function printReport(bench: string, results: readonly BenchResult[], json: boolean): void {
  const columns = [...new Set(results.flatMap((r) => Object.keys(r)))];
  const rows = results.map((r) => columns.map((c) => formatCell(r[c])));
  const widths = columns.map((c, i) => Math.max(c.length, ...rows.map((row) => row[i]!.length)));
  const line = (cells: string[]): string => cells.map((cell, i) => cell.padEnd(widths[i]!)).join('  ');
  console.log(line(columns));
  console.log(line(widths.map((w) => '-'.repeat(w))));
  for (const row of rows) console.log(line(row));
  if (json) console.log(JSON.stringify({ bench, results }));
}

function formatCell(value: unknown): string {
  if (value === undefined || value === null) return '';
  if (typeof value === 'number') return Number.isInteger(value) ? value.toLocaleString('en-US') : value.toFixed(2);
  return String(value);
}

export function peakRssMb(): number {
  return Math.round(process.resourceUsage().maxRSS / 1024);
}

export function hasFlag(flag: string): boolean {
  return process.argv.includes(flag);
}

/** The value after `name` on the command line (`--ops 1000`), or `fallback`. */
export function option(name: string, fallback: string): string {
  const at = process.argv.indexOf(name);
  return at >= 0 && process.argv[at + 1] !== undefined ? process.argv[at + 1]! : fallback;
}
