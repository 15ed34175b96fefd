import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { PROBES, type ProbeName } from '../../core/lib/probe.ts';
import { REPORT_TABLE_ROWS_MAX, escapeHtml, renderRunReport } from '../../runtime-sim/report.ts';
import { runScenario, type RunSummary } from '../../runtime-sim/runner.ts';
import type { TraceLine } from '../../runtime-sim/trace.ts';
import { findScenario } from '../../scenarios/index.ts';

/** The hover titles of the timeline's marks, unescaped. */
function markTitles(html: string): string[] {
  const titles = [...html.matchAll(/<g class="mark [^"]*"[^>]*>.*?<title>([^<]*)<\/title><\/g>/g)].map((m) => m[1]!);
  return titles.map((t) => t.replace(/&#(\d+);/g, (_, code: string) => String.fromCharCode(Number(code))));
}

function summaryOf(overrides: Partial<RunSummary>): RunSummary {
  const probes = Object.fromEntries(PROBES.map((name) => [name, 0])) as Record<ProbeName, number>;
  return {
    scenario: 'crafted', seed: 1, nodes: 2, ok: true, events: 0, virtualMs: 10_000, wallMs: 5,
    traceHash: '0123456789abcdef', violations: [], probes, hosts: ['client', 'i1'], ...overrides,
  };
}

describe('sim run --report: the HTML report of a real run', () => {
  const events: TraceLine[] = [];
  let summary: RunSummary;
  let html: string;

  beforeAll(async () => {
    const scenario = findScenario('raft-safety')!;
    summary = await runScenario(scenario, { seed: 3, traceSink: (line) => events.push(line) });
    html = renderRunReport(summary, events);
  });

  it('collecting the events in memory leaves the trace hash as it is', async () => {
    const plain = await runScenario(findScenario('raft-safety')!, { seed: 3 });
    expect(summary.traceHash).toBe(plain.traceHash);
    expect(summary.events).toBe(plain.events);
    expect(events.length).toBeGreaterThan(1000);
  });

  it('has a header with the run and the exact replay command', () => {
    expect(html.startsWith('<!DOCTYPE html>')).toBe(true);
    expect(html).toContain('<tr><td>scenario</td><td>raft-safety</td></tr>');
    expect(html).toContain('<tr><td>seed</td><td>3</td></tr>');
    expect(html).toContain(`<tr><td>nodes</td><td>${summary.nodes}</td></tr>`);
    expect(html).toContain(`<code>${summary.traceHash}</code>`);
    expect(html).toContain(`<code>npm run sim -- run raft-safety --seed 3 --nodes ${summary.nodes}</code>`);
    expect(html).toContain(summary.ok ? '<span class="ok">ok</span>' : 'FAILED');
    // Self-contained and static: no script, nothing loaded from elsewhere.
    expect(html).not.toMatch(/<script|<link|src=|https?:\/\/(?!www\.w3\.org\/2000\/svg)/);
  });

  it('draws one lane per host, named as the run named them', () => {
    const lanes = [...html.matchAll(/data-host="([^"]*)"/g)].map((m) => m[1]);
    expect(lanes).toEqual(summary.hosts);
    expect(lanes.length).toBe(summary.nodes + 1); // the instances and the scenario's client host
  });

  it('marks a fault and process transitions from the trace, with their text as hover', () => {
    const titles = markTitles(html);
    const fault = events.find((e) => e.kind === 'fault' && String(e.text).startsWith('partition'))!;
    expect(fault).toBeDefined();
    expect(titles.some((t) => t.includes(`${(fault.t / 1000).toFixed(3)} s network: ${fault.text}`))).toBe(true);
    const crash = events.find((e) => e.kind === 'process' && String(e.text).startsWith('crash '))!;
    const host = summary.hosts[crash.node as number]!;
    expect(titles.some((t) => t.includes(`${(crash.t / 1000).toFixed(3)} s ${host}: ${crash.text}`))).toBe(true);
    const exit = events.find((e) => e.kind === 'process' && String(e.text).startsWith('exit '));
    if (exit !== undefined) expect(titles.some((t) => t.includes(`: ${exit.text}`))).toBe(true);
    expect(titles.some((t) => t.includes('raft role changed'))).toBe(true);
    // Deliveries, timers and disk operations are counted, never drawn one by one.
    expect(titles.length).toBeLessThan(events.length / 10);
    expect(html).not.toMatch(/<g class="mark (deliver|timer)/);
    expect(html).toMatch(/frames delivered<\/title>/);
  });

  it('lists the notable events and every coverage probe, zero hits greyed', () => {
    expect(html).toContain('<th>time (s)</th><th>host</th><th>kind</th><th>text</th>');
    for (const name of PROBES) {
      const row = new RegExp(`<tr( class="zero")?><td><code>${name.replace(/\./g, '\\.')}</code></td><td class="num">(\\d+)</td></tr>`).exec(html);
      expect(row, name).not.toBeNull();
      expect(row![1] !== undefined, name).toBe(summary.probes[name] === 0);
      expect(Number(row![2])).toBe(summary.probes[name]);
    }
  });
});

describe('the report on crafted events', () => {
  it('escapes every text from the trace and the summary', () => {
    const evil = '<script>alert("x")</script> & \'q\'';
    const events: TraceLine[] = [
      { i: 1, t: 100, kind: 'log', node: 1, text: `error ${evil}`, h: '' },
      { i: 2, t: 200, kind: 'scenario', node: 0, text: `violation ${evil}`, h: '' },
      { i: 3, t: 300, kind: 'fault', node: 1, text: `isolate`, h: '' },
    ];
    const html = renderRunReport(summaryOf({ ok: false, violations: [`${evil}\nsecond line`], scenario: 'a<b' }), events);
    expect(html).not.toContain('<script');
    expect(html).not.toContain('a<b');
    expect(html).toContain(escapeHtml(evil));
    expect(escapeHtml(evil)).toBe('&#60;script&#62;alert(&#34;x&#34;)&#60;/script&#62; &#38; &#39;q&#39;');
    expect(html).toContain('<section class="violations" id="violations">');
    expect(markTitles(html).some((t) => t.includes(`i1: error ${evil}`))).toBe(true);
    expect(html).toContain('<g class="mark violation"');
  });

  it('caps the table and clusters marks that fall together', () => {
    const events: TraceLine[] = [];
    for (let i = 0; i < REPORT_TABLE_ROWS_MAX + 500; i++) events.push({ i, t: i, kind: 'log', node: 1, text: `warn step failed n=${i}`, h: '' });
    for (let i = 0; i < 5000; i++) events.push({ i, t: 5000, kind: 'deliver', conn: 1, to: 'i1', bytes: 10, h: '' });
    const html = renderRunReport(summaryOf({}), events);
    expect(html.match(/<tr class="warn">/g)!.length).toBe(REPORT_TABLE_ROWS_MAX);
    expect(html).toContain(`The first ${REPORT_TABLE_ROWS_MAX} rows are shown; 500 more notable events were left out`);
    // 2,500 ms of warnings span 250 px: about 60 marks of 4 px, each listing its events.
    const marks = markTitles(html);
    expect(marks.length).toBeLessThan(100);
    expect(marks.some((t) => /… and \d+ more/.test(t))).toBe(true);
    expect(html).toContain('i1: 5000 frames delivered');
  });
});

describe('sim run --report (CLI)', () => {
  it('writes the file and exits with the run\'s code, the JSON line still last', () => {
    const dir = mkdtempSync(join(tmpdir(), 'sim-report-'));
    try {
      const file = join(dir, 'run.html');
      const run = spawnSync(process.execPath, ['--import', 'tsx', 'runtime-sim/cli.ts', 'run', 'raft-safety', '--seed', '3', '--report', file, '--json'], { encoding: 'utf8' });
      expect(run.status, run.stderr).toBe(0);
      const lines = run.stdout.trim().split('\n');
      const json = JSON.parse(lines[lines.length - 1]!) as { ok: boolean; traceHash: string };
      expect(json.ok).toBe(true);
      expect(run.stdout).toContain(`report written to ${file}`);
      const html = readFileSync(file, 'utf8');
      expect(html).toContain(`<code>${json.traceHash}</code>`);
      expect(html).toContain('<code>npm run sim -- run raft-safety --seed 3 --nodes 6</code>');

      const bad = join(dir, 'bad.html');
      const usage = spawnSync(process.execPath, ['--import', 'tsx', 'runtime-sim/cli.ts', 'run', 'no-such-scenario', '--seed', '3', '--report', bad], { encoding: 'utf8' });
      expect(usage.status).toBe(2);
      expect(existsSync(bad)).toBe(false);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
