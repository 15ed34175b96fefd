/**
 * `sim run --report FILE`: one run as a self-contained static HTML page (inline CSS and SVG, no
 * script, nothing fetched) for an operator reproducing a failure from its seed. Sans-IO: it reads
 * the RunSummary and the trace events the run recorded (the `--trace` lines, handed over in
 * memory) and returns the page as a string.
 *
 * It shows the notable events only: process transitions, faults, disk faults, scenario notes,
 * violations, warn/error log lines and the info lines of the cluster's lifecycle. Deliveries,
 * timers, disk operations and connections are counted, never drawn one by one, and marks that
 * fall on the same few pixels of a lane are drawn once with all their texts in the hover title.
 */

import { replayCommand, type RunSummary } from './runner.ts';
import type { TraceKind, TraceLine } from './trace.ts';

/** Rows of the notable-event table; the rest is counted. */
export const REPORT_TABLE_ROWS_MAX = 2000;
/** Notable events kept in memory; beyond that they are only counted (a runaway warn loop). */
const NOTABLE_KEPT_MAX = 200_000;
/** Texts listed in one clustered mark's hover title. */
const TITLE_LINES_MAX = 12;
/** A table cell's text is cut there. */
const CELL_CHARS_MAX = 1000;
const VIOLATIONS_SHOWN_MAX = 100;

/** Info-level log lines that mark the cluster's lifecycle (warn and error lines are all kept). */
const LIFECYCLE_MESSAGES: ReadonlyArray<readonly [string, Mark]> = [
  ['raft role changed', 'role'],
  ['grade changed', 'grade'],
  ['replicaset master switched', 'lifecycle'],
  ['joined the cluster', 'lifecycle'],
  // vshard: a rebalancer round's routes, and transfers settled by recovery.
  ['rebalancing', 'lifecycle'],
  ['bucket send did not finish: the bucket is active here again', 'lifecycle'],
  ['bucket received, activated by recovery', 'lifecycle'],
  ['stale copy of a bucket dropped', 'lifecycle'],
];

export type Mark =
  | 'start' | 'crash' | 'exit' | 'signal' | 'process'
  | 'fault' | 'disk'
  | 'role' | 'grade' | 'lifecycle' | 'warn' | 'error'
  | 'note' | 'violation';

/** Where a notable event is drawn: a host's lane, the scenario lane, or across every host lane. */
export type Lane = { readonly host: number } | 'scenario' | 'network';

export interface NotableEvent {
  readonly i: number;
  readonly timeMs: number;
  readonly kind: TraceKind;
  readonly lane: Lane;
  readonly mark: Mark;
  readonly text: string;
}

/** What the report needs from a run's events, collected one event at a time. */
export class RunDigest {
  readonly notable: NotableEvent[] = [];
  notableDropped = 0;
  readonly kindCounts = new Map<string, number>();
  /** Frames delivered, by receiving host name. */
  readonly deliveredTo = new Map<string, number>();
  /** Host names learned from log lines (`host=`), a fallback when the summary has none. */
  readonly hostNames = new Map<number, string>();
  lastTimeMs = 0;

  add(line: TraceLine): void {
    this.kindCounts.set(line.kind, (this.kindCounts.get(line.kind) ?? 0) + 1);
    this.lastTimeMs = Math.max(this.lastTimeMs, line.t);
    if (line.kind === 'deliver' && typeof line.to === 'string') {
      this.deliveredTo.set(line.to, (this.deliveredTo.get(line.to) ?? 0) + 1);
      return;
    }
    if (line.kind === 'log' && typeof line.node === 'number' && typeof line.text === 'string' && !this.hostNames.has(line.node)) {
      const name = / host=(\S+)/.exec(line.text)?.[1];
      if (name !== undefined) this.hostNames.set(line.node, name);
    }
    const event = notableOf(line);
    if (event === null) return;
    if (this.notable.length < NOTABLE_KEPT_MAX) this.notable.push(event);
    else this.notableDropped++;
  }
}

/** The trace's own vocabulary: see world.ts (process), network.ts (fault), disk.ts (traceOp). */
export function notableOf(line: TraceLine): NotableEvent | null {
  const text = typeof line.text === 'string' ? line.text : null;
  const node = typeof line.node === 'number' ? line.node : 0;
  if (text === null) return null;
  const event = (lane: Lane, mark: Mark): NotableEvent => ({ i: line.i, timeMs: line.t, kind: line.kind, lane, mark, text });
  switch (line.kind) {
    case 'scenario':
      return event('scenario', text.startsWith('violation ') ? 'violation' : 'note');
    case 'process':
      return event({ host: node }, processMark(text));
    case 'fault':
      return event(text.startsWith('partition ') || text === 'heal' ? 'network' : { host: node }, 'fault');
    case 'disk':
      return event({ host: Math.floor(node / 16) }, 'disk'); // node = host id * 16 + operation code
    case 'log': {
      const mark = logMark(text);
      return mark === null ? null : event({ host: node }, mark);
    }
    default:
      return null;
  }
}

function processMark(text: string): Mark {
  const word = text.split(' ')[0];
  if (word === 'start') return 'start';
  if (word === 'crash' || word === 'crashed') return 'crash';
  if (word === 'exit') return 'exit';
  if (word === 'signal') return 'signal';
  return 'process';
}

/** A log text is `<level> <message> <fields>`. */
function logMark(text: string): Mark | null {
  const space = text.indexOf(' ');
  const level = text.slice(0, space);
  if (level === 'warn') return 'warn';
  if (level === 'error' || level === 'fatal') return 'error';
  if (level !== 'info') return null;
  const message = text.slice(space + 1);
  return LIFECYCLE_MESSAGES.find(([prefix]) => message.startsWith(prefix))?.[1] ?? null;
}

export function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

const MARK_STYLE: Record<Mark, { readonly color: string; readonly shape: 'circle' | 'square' | 'diamond' | 'tri' | 'cross' | 'bar'; readonly label: string }> = {
  start: { color: '#2e7d32', shape: 'tri', label: 'process start' },
  crash: { color: '#b71c1c', shape: 'cross', label: 'crash' },
  exit: { color: '#ef6c00', shape: 'square', label: 'exit (code)' },
  signal: { color: '#6a1b9a', shape: 'square', label: 'signal' },
  process: { color: '#757575', shape: 'square', label: 'pause/resume' },
  fault: { color: '#d84315', shape: 'bar', label: 'network fault' },
  disk: { color: '#795548', shape: 'bar', label: 'disk fault/crash' },
  role: { color: '#1565c0', shape: 'circle', label: 'raft role' },
  grade: { color: '#00897b', shape: 'circle', label: 'grade' },
  lifecycle: { color: '#5c6bc0', shape: 'circle', label: 'joined / master switched' },
  warn: { color: '#f9a825', shape: 'diamond', label: 'warn' },
  error: { color: '#c62828', shape: 'diamond', label: 'error' },
  note: { color: '#455a64', shape: 'bar', label: 'scenario note' },
  violation: { color: '#d50000', shape: 'bar', label: 'violation' },
};

/** Vertical place of a mark in its lane (fraction of the lane height): processes, logs, faults. */
function markRow(mark: Mark): number {
  if (mark === 'start' || mark === 'crash' || mark === 'exit' || mark === 'signal' || mark === 'process') return 0.3;
  if (mark === 'fault' || mark === 'disk') return 0.78;
  return 0.55;
}

interface HostLane {
  readonly id: number;
  readonly name: string;
}

function hostLanes(summary: RunSummary, digest: RunDigest): HostLane[] {
  const names: readonly string[] = summary.hosts ?? [];
  const ids = new Set<number>(names.map((_, id) => id));
  for (const e of digest.notable) if (typeof e.lane === 'object') ids.add(e.lane.host);
  return [...ids].sort((a, b) => a - b).map((id) => ({ id, name: names[id] ?? digest.hostNames.get(id) ?? `#${id}` }));
}

function seconds(ms: number): string {
  return (ms / 1000).toFixed(3);
}

function cut(text: string): string {
  return text.length <= CELL_CHARS_MAX ? text : `${text.slice(0, CELL_CHARS_MAX)}…`;
}

/** Renders the whole page. `events`: the run's trace lines, or a digest collected while it ran. */
export function renderRunReport(summary: RunSummary, events: Iterable<TraceLine> | RunDigest): string {
  let digest: RunDigest;
  if (events instanceof RunDigest) digest = events;
  else {
    digest = new RunDigest();
    for (const line of events) digest.add(line);
  }
  const lanes = hostLanes(summary, digest);
  const title = `${summary.scenario} seed ${summary.seed}: ${summary.ok ? 'ok' : 'FAILED'}`;
  return [
    '<!DOCTYPE html>',
    '<html lang="en"><head><meta charset="utf-8">',
    `<title>${escapeHtml(title)}</title>`,
    `<style>${CSS}</style></head><body>`,
    renderHeader(summary, digest),
    renderViolations(summary),
    '<h2>Timeline</h2>',
    renderTimeline(summary, digest, lanes),
    renderLegend(),
    renderTable(digest, lanes),
    renderProbes(summary),
    '</body></html>',
    '',
  ].join('\n');
}

const CSS = `
body{font:14px/1.4 system-ui,sans-serif;margin:1.5em;color:#212121}
h1{font-size:1.4em;margin:0 0 .4em}h2{font-size:1.15em;margin:1.4em 0 .4em}
.ok{color:#2e7d32}.failed{color:#d50000}
table{border-collapse:collapse}td,th{border:1px solid #ddd;padding:2px 6px;text-align:left;vertical-align:top}
th{background:#f5f5f5}td.num{text-align:right;font-variant-numeric:tabular-nums}
.header td:first-child{font-weight:600}
code,pre,.events td{font-family:ui-monospace,monospace;font-size:12px}
pre{white-space:pre-wrap;margin:0}
.violations{border:3px solid #d50000;background:#ffebee;padding:.6em 1em;margin:1em 0}
.violations h2{color:#d50000;margin-top:0}.violations li{margin:.3em 0}
.zero td{color:#9e9e9e}
.legend span{display:inline-block;margin-right:1em}.legend i{display:inline-block;width:10px;height:10px;margin-right:4px}
svg{max-width:100%;height:auto;font-family:system-ui,sans-serif}
.note{color:#616161;font-style:italic}
tr.violation td{background:#ffebee;color:#b71c1c}tr.error td{color:#c62828}tr.fault td,tr.disk td{color:#bf360c}
`;

function renderHeader(summary: RunSummary, digest: RunDigest): string {
  const status = summary.ok ? '<span class="ok">ok</span>' : `<span class="failed">FAILED (${summary.violations.length} violation${summary.violations.length === 1 ? '' : 's'})</span>`;
  const counts = [...digest.kindCounts].sort((a, b) => b[1] - a[1]).map(([kind, n]) => `${escapeHtml(kind)} ${n}`).join(', ');
  const rows: Array<[string, string]> = [
    ['scenario', escapeHtml(summary.scenario)],
    ['seed', String(summary.seed)],
    ['nodes', String(summary.nodes)],
    ['result', status],
    ['events', `${summary.events} (recorded: ${counts})`],
    ['virtual time', `${seconds(summary.virtualMs)} s`],
    ['wall time', `${seconds(summary.wallMs)} s`],
    ['trace hash', `<code>${escapeHtml(summary.traceHash)}</code>`],
    ['replay', `<code>${escapeHtml(replayCommand(summary.scenario, summary.seed, summary.nodes))}</code>`],
  ];
  return [
    `<h1>${escapeHtml(summary.scenario)} seed ${summary.seed}: ${status}</h1>`,
    '<table class="header">',
    ...rows.map(([k, v]) => `<tr><td>${k}</td><td>${v}</td></tr>`),
    '</table>',
  ].join('\n');
}

function renderViolations(summary: RunSummary): string {
  if (summary.violations.length === 0) return '<p class="ok">No violations.</p>';
  const shown = summary.violations.slice(0, VIOLATIONS_SHOWN_MAX);
  const more = summary.violations.length - shown.length;
  return [
    '<section class="violations" id="violations">',
    `<h2>${summary.violations.length} violation${summary.violations.length === 1 ? '' : 's'}</h2><ol>`,
    ...shown.map((v) => `<li><pre>${escapeHtml(v)}</pre></li>`),
    '</ol>',
    more > 0 ? `<p>… and ${more} more</p>` : '',
    '</section>',
  ].join('\n');
}

function renderLegend(): string {
  const items = (Object.keys(MARK_STYLE) as Mark[]).map((m) => `<span><i style="background:${MARK_STYLE[m].color}"></i>${MARK_STYLE[m].label}</span>`);
  return `<p class="legend">${items.join('')}<span><i style="background:#ffccbc"></i>partition / isolation / clog</span></p>`;
}

function laneLabel(lane: Lane, lanes: readonly HostLane[]): string {
  if (lane === 'scenario') return 'scenario';
  if (lane === 'network') return 'network';
  return lanes.find((l) => l.id === lane.host)?.name ?? `#${lane.host}`;
}

function renderTable(digest: RunDigest, lanes: readonly HostLane[]): string {
  const rows = digest.notable.slice(0, REPORT_TABLE_ROWS_MAX);
  const left = digest.notable.length - rows.length + digest.notableDropped;
  return [
    `<h2>Notable events (${digest.notable.length + digest.notableDropped})</h2>`,
    '<table class="events"><tr><th>#</th><th>time (s)</th><th>host</th><th>kind</th><th>text</th></tr>',
    ...rows.map((e) =>
      `<tr class="${e.mark}"><td class="num">${e.i}</td><td class="num">${seconds(e.timeMs)}</td><td>${escapeHtml(laneLabel(e.lane, lanes))}</td>` +
        `<td>${e.kind}</td><td>${escapeHtml(cut(e.text))}</td></tr>`),
    '</table>',
    left > 0 ? `<p class="note">The first ${rows.length} rows are shown; ${left} more notable events were left out (they are in the timeline and in <code>--trace</code>).</p>` : '',
  ].join('\n');
}

function renderProbes(summary: RunSummary): string {
  const entries = Object.entries(summary.probes) as Array<[string, number]>;
  const reached = entries.filter(([, n]) => n > 0).length;
  return [
    `<h2>Coverage probes (${reached} of ${entries.length} reached)</h2>`,
    '<table class="probes"><tr><th>probe</th><th>hits</th></tr>',
    ...entries.map(([name, n]) => `<tr${n === 0 ? ' class="zero"' : ''}><td><code>${escapeHtml(name)}</code></td><td class="num">${n}</td></tr>`),
    '</table>',
  ].join('\n');
}

// ---------------------------------------------------------------- timeline

const LABEL_W = 120;
const PLOT_W = 1000;
const BAR_W = 130;
const AXIS_H = 26;
/** Marks closer than this many pixels on one lane and of one kind are drawn once. */
const CLUSTER_PX = 4;

interface Geometry {
  readonly endMs: number;
  readonly laneH: number;
  readonly hostTop: (index: number) => number;
  readonly x: (timeMs: number) => number;
  readonly height: number;
  readonly hostsBottom: number;
}

function geometry(summary: RunSummary, digest: RunDigest, hostCount: number): Geometry {
  const endMs = Math.max(1, summary.virtualMs, digest.lastTimeMs);
  // Lanes shrink as hosts grow, so the picture stays a few thousand pixels tall at most.
  const laneH = hostCount <= 40 ? 22 : Math.max(6, Math.floor(900 / hostCount));
  const scenarioTop = AXIS_H;
  const firstHostTop = scenarioTop + 26;
  const hostsBottom = firstHostTop + hostCount * laneH;
  return {
    endMs,
    laneH,
    hostTop: (index) => firstHostTop + index * laneH,
    x: (timeMs) => LABEL_W + (Math.min(timeMs, endMs) / endMs) * PLOT_W,
    height: hostsBottom + 8,
    hostsBottom,
  };
}

function renderTimeline(summary: RunSummary, digest: RunDigest, lanes: readonly HostLane[]): string {
  const g = geometry(summary, digest, lanes.length);
  const width = LABEL_W + PLOT_W + BAR_W;
  const indexOf = new Map(lanes.map((l, index) => [l.id, index]));
  const parts: string[] = [
    `<svg xmlns="http://www.w3.org/2000/svg" class="timeline" width="${width}" height="${g.height}" viewBox="0 0 ${width} ${g.height}">`,
    ...renderLaneBackgrounds(g, lanes, digest),
    ...renderAxis(g),
    ...renderFaultBands(g, digest, indexOf),
    ...renderMarks(g, digest, lanes, indexOf),
    '</svg>',
  ];
  return parts.join('\n');
}

function niceStepMs(endMs: number): number {
  const raw = endMs / 10;
  const pow = 10 ** Math.floor(Math.log10(raw));
  for (const m of [1, 2, 5, 10]) if (m * pow >= raw) return m * pow;
  return 10 * pow;
}

function renderAxis(g: Geometry): string[] {
  const out: string[] = [];
  const step = niceStepMs(g.endMs);
  for (let t = 0; t <= g.endMs; t += step) {
    const x = g.x(t).toFixed(1);
    out.push(`<line x1="${x}" y1="${AXIS_H - 6}" x2="${x}" y2="${g.hostsBottom}" stroke="#eee"/>`);
    out.push(`<text x="${x}" y="${AXIS_H - 10}" font-size="11" text-anchor="middle" fill="#616161">${(t / 1000).toFixed(step < 1000 ? 1 : 0)} s</text>`);
  }
  out.push(`<text x="${LABEL_W + PLOT_W + 6}" y="${AXIS_H - 10}" font-size="11" fill="#616161">frames delivered</text>`);
  return out;
}

function renderLaneBackgrounds(g: Geometry, lanes: readonly HostLane[], digest: RunDigest): string[] {
  const out: string[] = [
    `<g class="lane" data-lane="scenario"><rect x="${LABEL_W}" y="${AXIS_H}" width="${PLOT_W}" height="22" fill="#eceff1"/>` +
      `<text x="${LABEL_W - 6}" y="${AXIS_H + 15}" font-size="12" text-anchor="end">scenario</text></g>`,
  ];
  const deliveredMax = Math.max(1, ...digest.deliveredTo.values());
  const fontSize = Math.min(12, g.laneH - 2);
  lanes.forEach((lane, index) => {
    const top = g.hostTop(index);
    const delivered = digest.deliveredTo.get(lane.name) ?? 0;
    const barW = (delivered / deliveredMax) * (BAR_W - 50);
    out.push(
      `<g class="lane" data-host="${escapeHtml(lane.name)}"><rect x="${LABEL_W}" y="${top}" width="${PLOT_W}" height="${g.laneH}" fill="${index % 2 === 0 ? '#fafafa' : '#f3f3f3'}"/>` +
        `<text x="${LABEL_W - 6}" y="${top + g.laneH / 2 + fontSize / 3}" font-size="${fontSize}" text-anchor="end">${escapeHtml(lane.name)}</text>` +
        `<rect x="${LABEL_W + PLOT_W + 6}" y="${top + 2}" width="${barW.toFixed(1)}" height="${Math.max(1, g.laneH - 4)}" fill="#90a4ae"><title>${escapeHtml(lane.name)}: ${delivered} frames delivered</title></rect>` +
        `<text x="${LABEL_W + PLOT_W + 10 + barW}" y="${top + g.laneH / 2 + fontSize / 3}" font-size="${fontSize}" fill="#616161">${delivered}</text></g>`,
    );
  });
  return out;
}

interface Band {
  readonly fromMs: number;
  readonly toMs: number;
  readonly host: number | null;
  readonly text: string;
}

/** Intervals a fault holds: a partition until the next heal or partition, isolation and one-way cuts until a heal, a clog until its time. */
function faultBands(digest: RunDigest, endMs: number): Band[] {
  const bands: Band[] = [];
  let open: Array<{ fromMs: number; host: number | null; text: string }> = [];
  for (const e of digest.notable) {
    if (e.kind !== 'fault') continue;
    const host = typeof e.lane === 'object' ? e.lane.host : null;
    const closeAll = e.text === 'heal' || e.text.startsWith('partition ');
    if (closeAll) {
      for (const o of e.text === 'heal' ? open : open.filter((o) => o.host === null)) bands.push({ ...o, toMs: e.timeMs });
      open = e.text === 'heal' ? [] : open.filter((o) => o.host !== null);
    }
    if (e.text.startsWith('partition ') || e.text === 'isolate' || e.text.startsWith('cut ')) open.push({ fromMs: e.timeMs, host, text: e.text });
    const until = /until (\d+(?:\.\d+)?)/.exec(e.text);
    if (until !== null) bands.push({ fromMs: e.timeMs, toMs: Number(until[1]), host, text: e.text });
  }
  for (const o of open) bands.push({ ...o, toMs: endMs });
  return bands;
}

function renderFaultBands(g: Geometry, digest: RunDigest, indexOf: ReadonlyMap<number, number>): string[] {
  const out: string[] = [];
  for (const band of faultBands(digest, g.endMs)) {
    const index = band.host === null ? undefined : indexOf.get(band.host);
    const top = index === undefined ? g.hostTop(0) : g.hostTop(index);
    const height = index === undefined ? g.hostsBottom - g.hostTop(0) : g.laneH;
    const x = g.x(band.fromMs);
    const w = Math.max(1, g.x(band.toMs) - x);
    const title = `${seconds(band.fromMs)}–${seconds(band.toMs)} s: ${band.text}`;
    out.push(`<rect class="band" x="${x.toFixed(1)}" y="${top}" width="${w.toFixed(1)}" height="${height}" fill="#ffccbc" fill-opacity="${index === undefined ? 0.35 : 0.6}"><title>${escapeHtml(title)}</title></rect>`);
  }
  return out;
}

interface Cluster {
  readonly lane: Lane;
  readonly mark: Mark;
  readonly x: number;
  readonly events: NotableEvent[];
}

function clusterMarks(g: Geometry, digest: RunDigest): Cluster[] {
  const clusters = new Map<string, Cluster>();
  for (const e of digest.notable) {
    const x = g.x(e.timeMs);
    const bucket = Math.floor(x / CLUSTER_PX);
    const laneKey = typeof e.lane === 'object' ? `h${e.lane.host}` : e.lane;
    const key = `${laneKey}/${e.mark}/${bucket}`;
    const cluster = clusters.get(key);
    if (cluster === undefined) clusters.set(key, { lane: e.lane, mark: e.mark, x, events: [e] });
    else cluster.events.push(e);
  }
  return [...clusters.values()];
}

/** Partitions and cuts name hosts by id in the trace; the hover text adds their names. */
function withHostNames(e: NotableEvent, lanes: readonly HostLane[]): string {
  const ids = e.kind === 'fault' ? /^(?:partition \S+|cut) (.+)$/.exec(e.text)?.[1] : undefined;
  if (ids === undefined) return e.text;
  return `${e.text} (${ids.replace(/\d+/g, (id) => laneLabel({ host: Number(id) }, lanes))})`;
}

function clusterTitle(cluster: Cluster, lanes: readonly HostLane[]): string {
  const lines = cluster.events.slice(0, TITLE_LINES_MAX).map((e) => `${seconds(e.timeMs)} s ${laneLabel(e.lane, lanes)}: ${cut(withHostNames(e, lanes))}`);
  const more = cluster.events.length - lines.length;
  if (more > 0) lines.push(`… and ${more} more`);
  return lines.join('\n');
}

function renderMarks(g: Geometry, digest: RunDigest, lanes: readonly HostLane[], indexOf: ReadonlyMap<number, number>): string[] {
  const out: string[] = [];
  for (const cluster of clusterMarks(g, digest)) {
    const title = `<title>${escapeHtml(clusterTitle(cluster, lanes))}</title>`;
    const style = MARK_STYLE[cluster.mark];
    const x = cluster.x;
    const attrs = `class="mark ${cluster.mark}" data-count="${cluster.events.length}"`;
    if (cluster.lane === 'network' || cluster.mark === 'violation') {
      // Drawn across every host lane, with a handle on the scenario lane for violations.
      const y1 = cluster.mark === 'violation' ? AXIS_H : g.hostTop(0);
      out.push(`<g ${attrs}><line x1="${x.toFixed(1)}" y1="${y1}" x2="${x.toFixed(1)}" y2="${g.hostsBottom}" stroke="${style.color}" stroke-width="${cluster.mark === 'violation' ? 2.5 : 1.5}" stroke-dasharray="${cluster.mark === 'violation' ? '' : '4 2'}"/>` +
        `<rect x="${(x - 3).toFixed(1)}" y="${y1}" width="6" height="${cluster.mark === 'violation' ? 22 : 6}" fill="${style.color}"/>${title}</g>`);
      continue;
    }
    const top = cluster.lane === 'scenario' ? AXIS_H : g.hostTop(indexOf.get(cluster.lane.host) ?? 0);
    const laneH = cluster.lane === 'scenario' ? 22 : g.laneH;
    const y = cluster.lane === 'scenario' ? top + 11 : top + laneH * markRow(cluster.mark);
    const r = Math.max(2, Math.min(5, laneH / 4)) + (cluster.events.length > 1 ? 1 : 0);
    out.push(`<g ${attrs}>${shape(style.shape, style.color, x, y, r, laneH)}${title}</g>`);
  }
  return out;
}

function shape(kind: (typeof MARK_STYLE)[Mark]['shape'], color: string, x: number, y: number, r: number, laneH: number): string {
  const f = (n: number): string => n.toFixed(1);
  switch (kind) {
    case 'circle':
      return `<circle cx="${f(x)}" cy="${f(y)}" r="${f(r)}" fill="${color}"/>`;
    case 'square':
      return `<rect x="${f(x - r)}" y="${f(y - r)}" width="${f(2 * r)}" height="${f(2 * r)}" fill="${color}"/>`;
    case 'diamond':
      return `<path d="M${f(x)} ${f(y - r)}L${f(x + r)} ${f(y)}L${f(x)} ${f(y + r)}L${f(x - r)} ${f(y)}Z" fill="${color}"/>`;
    case 'tri':
      return `<path d="M${f(x - r)} ${f(y - r)}L${f(x + r)} ${f(y)}L${f(x - r)} ${f(y + r)}Z" fill="${color}"/>`;
    case 'cross':
      return `<path d="M${f(x - r)} ${f(y - r)}L${f(x + r)} ${f(y + r)}M${f(x + r)} ${f(y - r)}L${f(x - r)} ${f(y + r)}" stroke="${color}" stroke-width="2.5"/>`;
    case 'bar':
      return `<rect x="${f(x - 1.5)}" y="${f(y - Math.min(r * 1.6, laneH / 2 - 1))}" width="3" height="${f(2 * Math.min(r * 1.6, laneH / 2 - 1))}" fill="${color}"/>`;
  }
}
