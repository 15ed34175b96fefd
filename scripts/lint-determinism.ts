/**
 * The static half of the determinism contract (DESIGN.md): code that runs inside the simulation
 * (core/ and scenarios/) must reach time, randomness, scheduling and I/O only through the Env
 * interfaces. Run: `npm run lint:determinism` (exit 1 and a list of places on a violation).
 * The runtime half is runtime-sim/guard.ts, which also catches library code.
 */

import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';

export interface LintViolation {
  readonly file: string;
  readonly line: number;
  readonly rule: string;
  readonly text: string;
}

const NODE_BUILTINS = [
  'fs', 'fs/promises', 'net', 'dgram', 'http', 'https', 'http2', 'dns', 'child_process', 'worker_threads', 'os',
  'crypto', 'timers', 'timers/promises', 'perf_hooks', 'cluster', 'readline', 'v8', 'vm', 'async_hooks', 'process', 'tls',
];

const RULES: ReadonlyArray<{ rule: string; pattern: RegExp }> = [
  { rule: 'Date (use env.clock)', pattern: /\bDate\s*\.\s*now\b|\bnew\s+Date\b|(?<![\w.])Date\s*\(/ },
  { rule: 'Math.random (use env.random)', pattern: /\bMath\s*\.\s*random\b/ },
  { rule: 'performance.now (use env.clock)', pattern: /\bperformance\s*\.\s*now\b/ },
  { rule: 'timers and microtask scheduling (use env.clock)', pattern: /\b(setTimeout|setInterval|setImmediate|clearTimeout|clearInterval|clearImmediate|queueMicrotask)\b/ },
  { rule: 'process (use env.process)', pattern: /(?<![\w.])process\s*\./ },
  { rule: 'weak references and shared memory', pattern: /\b(WeakRef|FinalizationRegistry|SharedArrayBuffer|Atomics)\b/ },
  { rule: 'crypto randomness (use env.random)', pattern: /\bcrypto\s*\.\s*(getRandomValues|randomUUID|randomBytes|randomInt)\b/ },
  { rule: 'globalThis', pattern: /\bglobalThis\b/ },
  { rule: 'locale-dependent formatting', pattern: /\b(Intl\s*\.|toLocale\w*String\b|localeCompare\b)/ },
  { rule: 'require/dynamic import', pattern: /\brequire\s*\(|\bimport\s*\(/ },
];

/** Blanks comments and string literals (keeping line breaks) so rules only see code. */
export function stripCommentsAndStrings(source: string): string {
  let out = '';
  let i = 0;
  while (i < source.length) {
    const c = source[i]!;
    const next = source[i + 1];
    if (c === '/' && next === '/') {
      while (i < source.length && source[i] !== '\n') i++;
    } else if (c === '/' && next === '*') {
      i += 2;
      while (i < source.length && !(source[i] === '*' && source[i + 1] === '/')) out += source[i++] === '\n' ? '\n' : '';
      i += 2;
    } else if (c === '"' || c === "'") {
      out += c;
      i++;
      while (i < source.length && source[i] !== c && source[i] !== '\n') i += source[i] === '\\' ? 2 : 1;
      out += c;
      i++;
    } else {
      out += c;
      i++;
    }
  }
  return out;
}

function importViolations(file: string, source: string): LintViolation[] {
  const out: LintViolation[] = [];
  const lines = source.split('\n');
  lines.forEach((text, index) => {
    const m = /^\s*(?:import|export)\b[^'"]*\bfrom\s*['"]([^'"]+)['"]|^\s*import\s*['"]([^'"]+)['"]/.exec(text);
    const target = m?.[1] ?? m?.[2];
    if (target === undefined) return;
    if (target.startsWith('./') || target.startsWith('../')) return;
    const bare = target.replace(/^node:/, '');
    const rule = NODE_BUILTINS.includes(bare) || target.startsWith('node:') ? 'node built-in module' : 'third-party import (core/ imports only relative modules)';
    out.push({ file, line: index + 1, rule, text: text.trim() });
  });
  return out;
}

export function lintSource(file: string, source: string, allowThirdParty: boolean): LintViolation[] {
  const violations = importViolations(file, source).filter((v) => !(allowThirdParty && v.rule.startsWith('third-party')));
  const code = stripCommentsAndStrings(source).split('\n');
  code.forEach((text, index) => {
    if (/^\s*(import|export)\b.*\bfrom\b/.test(text)) return;
    for (const { rule, pattern } of RULES) {
      if (pattern.test(text)) violations.push({ file, line: index + 1, rule, text: source.split('\n')[index]!.trim() });
    }
  });
  return violations;
}

function tsFiles(dir: string): string[] {
  const out: string[] = [];
  for (const name of readdirSync(dir)) {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) out.push(...tsFiles(path));
    else if (name.endsWith('.ts')) out.push(path);
  }
  return out.sort();
}

/** Lints `core/` strictly and `scenarios/` (which may import the simulator and its own libs). */
export function lintTree(root: string): LintViolation[] {
  const violations: LintViolation[] = [];
  for (const [dir, allowThirdParty] of [['core', false], ['scenarios', true]] as const) {
    let files: string[];
    try {
      files = tsFiles(join(root, dir));
    } catch {
      continue;
    }
    for (const file of files) violations.push(...lintSource(relative(root, file), readFileSync(file, 'utf8'), allowThirdParty));
  }
  return violations;
}

const invokedDirectly = process.argv[1] !== undefined && import.meta.url.endsWith(process.argv[1].split('/').pop()!);
if (invokedDirectly) {
  const root = process.argv[2] ?? process.cwd();
  const violations = lintTree(root);
  for (const v of violations) console.log(`${v.file}:${v.line}: ${v.rule}: ${v.text}`);
  if (violations.length > 0) {
    console.log(`determinism lint: ${violations.length} violation(s)`);
    process.exitCode = 1;
  } else {
    console.log('determinism lint: clean');
  }
}
