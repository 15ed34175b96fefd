/**
 * `--script FILE` that cannot be loaded: the reason is named (missing, not a regular file,
 * unreadable), with the absolute path it was looked for at when FILE is relative. The daemon
 * logs it and exits 1 before the data directory is touched (test/real/daemon.test.ts).
 */

import { chmodSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { loadScript, ScriptError } from '../../runtime-real/script.ts';

const RUNNING_AS_ROOT = process.getuid?.() === 0;

describe('loadScript', () => {
  const dir = mkdtempSync(join(tmpdir(), 'script-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('names a missing file, with the absolute path a relative one was looked for at', async () => {
    const absolute = join(dir, 'nope.ts');
    await expect(loadScript(absolute)).rejects.toThrow(new ScriptError(`script ${absolute}: no such file`));
    const path = relative(process.cwd(), absolute);
    await expect(loadScript(path)).rejects.toThrow(`script ${path}: no such file (looked for ${absolute})`);
  });

  it('names a directory, and a path through a file, as what they are', async () => {
    mkdirSync(join(dir, 'app.mjs'));
    await expect(loadScript(join(dir, 'app.mjs'))).rejects.toThrow(`script ${join(dir, 'app.mjs')}: not a regular file`);
    writeFileSync(join(dir, 'plain'), '');
    await expect(loadScript(join(dir, 'plain', 'app.mjs'))).rejects.toThrow(`script ${join(dir, 'plain', 'app.mjs')}: cannot read it (ENOTDIR)`);
  });

  it.skipIf(RUNNING_AS_ROOT)('names a file it may not read', async () => {
    const path = join(dir, 'secret.mjs');
    writeFileSync(path, 'export function postjoin() {}\n');
    chmodSync(path, 0o000);
    await expect(loadScript(path)).rejects.toThrow(`script ${path}: cannot read it (EACCES)`);
  });

  it('loads a readable module and returns its postjoin', async () => {
    const path = join(dir, 'ok.mjs');
    writeFileSync(path, 'export function postjoin() { return 42; }\n');
    expect(await (await loadScript(path))({} as never)).toBe(42);
  });
});
