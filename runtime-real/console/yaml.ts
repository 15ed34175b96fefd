/**
 * Results printed the way Tarantool's console prints them: a YAML document per statement, one
 * list item per returned value, maps in block style, tuples (arrays of scalars) in flow style.
 *
 *   ---
 *   - term: 2
 *     leader_id: 1
 *     raft_state: Leader
 *   ...
 *
 * Plus `renderTable` for the instance and replicaset tables of `picodata status` (admin guide
 * 15.2, `fselect` style).
 */

import { MpExt, MpFloat64, type MpValue } from '../../core/codec/msgpack.ts';
import { pushAll } from '../../core/lib/arrays.ts';

/** Deeper structures are cut (a cycle cannot happen in decoded msgpack, but size can). */
const DEPTH_MAX = 32;

export function formatResults(values: readonly MpValue[]): string {
  if (values.length === 0) return '---\n...\n';
  const lines: string[] = ['---'];
  for (const value of values) pushAll(lines, item(value, 0));
  lines.push('...');
  return lines.join('\n') + '\n';
}

export function formatError(message: string): string {
  return `---\n- error: ${scalar(message, false)}\n...\n`;
}

/** A `- value` list item at `indent`. */
function item(value: MpValue, depth: number): string[] {
  const body = block(value, depth + 1);
  if (body.inline !== null) return [`- ${body.inline}`];
  return body.lines.map((line, i) => (i === 0 ? `- ${line}` : `  ${line}`));
}

interface Rendered {
  /** Set when the value fits on the line of its key or dash. */
  readonly inline: string | null;
  readonly lines: string[];
}

function block(value: MpValue, depth: number): Rendered {
  if (depth > DEPTH_MAX) return { inline: '<...>', lines: [] };
  if (Array.isArray(value)) {
    const list = value as readonly MpValue[];
    if (list.length === 0) return { inline: '[]', lines: [] };
    if (list.every(isFlowable)) return { inline: flow(list, depth), lines: [] };
    return { inline: null, lines: list.flatMap((v) => item(v, depth)) };
  }
  const entries = mapEntries(value);
  if (entries !== null) {
    if (entries.length === 0) return { inline: '{}', lines: [] };
    const lines: string[] = [];
    for (const [k, v] of entries) {
      const key = scalar(k, false);
      const inner = block(v, depth + 1);
      if (inner.inline !== null) lines.push(`${key}: ${inner.inline}`);
      else if (inner.lines[0]!.startsWith('|')) lines.push(`${key}: ${inner.lines[0]}`, ...inner.lines.slice(1).map((l) => `  ${l}`));
      else lines.push(`${key}:`, ...inner.lines.map((l) => `  ${l}`));
    }
    return { inline: null, lines };
  }
  if (typeof value === 'string' && value.includes('\n') && !/[\r\t]/.test(value)) {
    // A literal block, as Tarantool's console prints multi-line text (raft_log, fselect).
    const text = value.endsWith('\n') ? value.slice(0, -1) : value;
    return { inline: null, lines: [value.endsWith('\n') ? '|' : '|-', ...text.split('\n').map((l) => `  ${l}`)] };
  }
  return { inline: scalar(value, false), lines: [] };
}

/** Tuples and small maps of scalars print on one line. */
function isFlowable(value: MpValue): boolean {
  if (Array.isArray(value)) return (value as readonly MpValue[]).every((v) => !Array.isArray(v) && mapEntries(v) === null) || (value as readonly MpValue[]).length === 0;
  const entries = mapEntries(value);
  if (entries !== null) return entries.length === 0 || entries.every(([, v]) => !Array.isArray(v) && mapEntries(v) === null);
  return true;
}

function flow(value: MpValue, depth: number): string {
  if (depth > DEPTH_MAX) return '<...>';
  if (Array.isArray(value)) return `[${(value as readonly MpValue[]).map((v) => flow(v, depth + 1)).join(', ')}]`;
  const entries = mapEntries(value);
  if (entries !== null) return `{${entries.map(([k, v]) => `${scalar(k, true)}: ${flow(v, depth + 1)}`).join(', ')}}`;
  return scalar(value, true);
}

function mapEntries(value: MpValue): Array<[MpValue, MpValue]> | null {
  if (value instanceof Map) return [...value.entries()];
  if (value !== null && typeof value === 'object' && !Array.isArray(value) && !(value instanceof Uint8Array)) {
    if (value instanceof MpExt || value instanceof MpFloat64) return null;
    return Object.entries(value as Record<string, MpValue>);
  }
  return null;
}

/**
 * When Tarantool's console (lyaml over libyaml, 2.6) quotes a string in block context, measured
 * case by case with `yaml.encode` of Debian's tarantool: a string Lua would read as a number
 * (`'12'`, `'1.5'`, `'0x10'`, `'inf'`), the words null, ~, true, false, yes and no (lowercase
 * only), a leading or trailing blank, `: ` or ` #` inside or `:` at the end, and a first
 * character that starts YAML syntax (`-`, `?` and `:` before a blank or alone; `[ ] { } , & * ! |
 * > % @ \` # ' "`). Everything else prints plain: `127.0.0.1:3301`, `2026-01-01`, `Yes`,
 * `Space 'nope' does not exist`.
 */
function needsQuotes(text: string): boolean {
  if (text === '' || RESERVED.has(text) || LUA_NUMBER.test(text)) return true;
  if (/^\s|\s$/.test(text) || text.includes(': ') || text.includes(' #') || text.endsWith(':')) return true;
  const first = text[0]!;
  if ('-?:'.includes(first)) return text.length === 1 || /\s/.test(text[1]!);
  return '[]{},&*!|>%@`#\'"'.includes(first);
}

const RESERVED: ReadonlySet<string> = new Set(['null', '~', 'true', 'false', 'yes', 'no']);
/** What Lua's tonumber takes: decimal with optional fraction and exponent, hex, inf and nan. */
const LUA_NUMBER = /^[-+]?(0x[0-9a-f]+(\.[0-9a-f]*)?(p[-+]?\d+)?|(\d+\.?\d*|\.\d+)(e[-+]?\d+)?|inf(inity)?|nan|0b[01]+)$/i;

/** A scalar: strings quoted when YAML would read them as something else (always in flow). */
export function scalar(value: MpValue, inFlow: boolean): string {
  if (value === null || value === undefined) return 'null';
  if (typeof value === 'boolean') return value ? 'true' : 'false';
  if (typeof value === 'number') return Number.isInteger(value) ? String(value) : formatFloat(value);
  if (typeof value === 'bigint') return value.toString();
  if (typeof value === 'string') {
    // Control characters (a tab) always go quoted; a newline never reaches here in block style.
    const plain = !inFlow && !needsQuotes(value) && !/[\x00-\x1f\x7f]/.test(value);
    return plain ? value : `'${value.replace(/'/g, "''").replace(/\n/g, '\\n')}'`;
  }
  if (value instanceof Uint8Array) return `!!binary ${Buffer.from(value).toString('base64')}`;
  if (value instanceof MpFloat64) return formatFloat(value.value);
  if (value instanceof MpExt) return `!!ext${value.type} ${Buffer.from(value.data).toString('hex')}`;
  return `'${JSON.stringify(value, (_k, v: unknown) => (typeof v === 'bigint' ? v.toString() : v))}'`;
}

function formatFloat(value: number): string {
  if (Number.isNaN(value)) return 'nan';
  if (!Number.isFinite(value)) return value > 0 ? 'inf' : '-inf';
  return String(value);
}

export interface TableLayout {
  /** Blank characters added to every column's natural width (the status tables breathe). */
  readonly paddingChars?: number;
  /** Longest line: the widest columns give up a character each (the last of equals first) until it fits. */
  readonly lineWidthMax?: number;
}

/** A column gives up no more than this under `lineWidthMax`. */
const COLUMN_WIDTH_MIN = 1;

/**
 * `fselect`-style table: a header row and one row per record, cells centred (the extra space on
 * the right), cut at their column's width. Shrinking the last of the widest columns first gives
 * the admin guide's raft_group table (15.3) its widths from 100 characters.
 */
export function renderTable(columns: readonly string[], rows: ReadonlyArray<readonly string[]>, layout: TableLayout = {}): string[] {
  const padding = layout.paddingChars ?? 2;
  // A reduce, not Math.max(...cells): a space can hold more rows than a call takes arguments.
  const widths = columns.map((c, i) => rows.reduce((widest, r) => Math.max(widest, (r[i] ?? '').length), c.length) + padding);
  if (layout.lineWidthMax !== undefined) shrinkToFit(widths, layout.lineWidthMax);
  const rule = '+' + widths.map((w) => '-'.repeat(w)).join('+') + '+';
  const line = (cells: readonly string[]): string => '|' + widths.map((w, i) => centre((cells[i] ?? '').slice(0, w), w)).join('|') + '|';
  return [rule, line(columns), rule, ...rows.map(line), rule];
}

function shrinkToFit(widths: number[], lineWidthMax: number): void {
  let lineWidth = widths.reduce((sum, w) => sum + w + 1, 1);
  while (lineWidth > lineWidthMax) {
    let widest = widths.length - 1;
    for (let i = widths.length - 1; i >= 0; i--) if (widths[i]! > widths[widest]!) widest = i;
    if (widths[widest]! <= COLUMN_WIDTH_MIN) return;
    widths[widest]!--;
    lineWidth--;
  }
}

function centre(text: string, width: number): string {
  const left = Math.floor((width - text.length) / 2);
  return ' '.repeat(left) + text + ' '.repeat(width - text.length - left);
}

/** An fselect result as the guide shows it: one list of table lines, printed as they are. */
export function formatTable(lines: readonly string[]): string {
  return ['---', ...lines.map((l, i) => (i === 0 ? `- - ${l}` : `  - ${l}`)), '...'].join('\n') + '\n';
}
