/**
 * Compatibility with Tarantool's own connector, net.box, run by Debian's `tarantool` binary
 * (`scripts/install-test-deps.sh` installs it) against our server on real TCP. net.box checks the
 * greeting, authenticates, loads the schema from _vspace/_vindex (pipelined selects that must
 * share a schema version), sends INDEX_BASE 1 on updates and uses CALL (10) for `conn:call`.
 * Skipped, loudly, only when the binary is absent.
 */

import { execFile, execFileSync, spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startRealServer, type RealServer } from './real-server.ts';

const SCRIPT = fileURLToPath(new URL('./netbox-client.lua', import.meta.url));

function tarantoolVersion(): string | undefined {
  try {
    return execFileSync('tarantool', ['--version'], { encoding: 'utf8' }).split('\n')[0];
  } catch {
    return undefined;
  }
}

const version = tarantoolVersion();
if (version === undefined) {
  console.warn('SKIPPED net.box compatibility: no `tarantool` binary on PATH; run scripts/install-test-deps.sh');
}

interface Step {
  readonly name: string;
  readonly ok: boolean;
  readonly value?: unknown[];
  readonly error?: string;
  readonly code?: number;
}

/** Runs the net.box script in a child process (async, so our server keeps serving meanwhile). */
function runNetBox(port: number, credentials: string[] = []): Promise<Map<string, Step>> {
  return new Promise((resolve, reject) => {
    execFile('tarantool', [SCRIPT, String(port), ...credentials], { timeout: 30_000 }, (error, stdout, stderr) => {
      if (error !== null) return reject(new Error(`tarantool failed: ${error.message}\n${stderr}`));
      const lines = stdout.trim().split('\n');
      const steps = JSON.parse(lines[lines.length - 1]!) as Step[];
      resolve(new Map(steps.map((s) => [s.name, s])));
    });
  });
}

function ok(steps: Map<string, Step>, name: string): unknown[] {
  const step = steps.get(name);
  expect(step, `step ${name}`).toBeDefined();
  expect(step!.ok, `step ${name}: ${step!.error}`).toBe(true);
  return step!.value!;
}

function failed(steps: Map<string, Step>, name: string): { error: string; code: number | undefined } {
  const step = steps.get(name)!;
  expect(step.ok, `step ${name} should fail`).toBe(false);
  return { error: step.error!, code: step.code };
}

describe.skipIf(version === undefined)(`net.box of ${version ?? 'tarantool (absent)'} against our server`, () => {
  let real: RealServer;
  beforeAll(async () => {
    real = await startRealServer();
  });
  afterAll(() => real.close());

  it('connects as guest, loads the schema, does DML, calls and evals', async () => {
    const steps = await runNetBox(real.port);
    expect(ok(steps, 'connected')).toEqual([true]);
    expect(ok(steps, 'ping')).toEqual([true]);
    expect(ok(steps, 'schema')).toEqual([true, 512, 0]);
    expect(ok(steps, 'insert')).toEqual([[1, 'one']]);
    expect(failed(steps, 'insert_dup')).toEqual({ error: "Duplicate key exists in unique index 'pk' in space 'test'", code: 3 });
    expect(ok(steps, 'replace')).toEqual([[2, 'two']]);
    expect(ok(steps, 'select_eq')).toEqual([[[1, 'one']]]);
    expect(ok(steps, 'select_all')).toEqual([[[1, 'one'], [2, 'two']]]);
    expect(ok(steps, 'select_by_name')).toEqual([[[2, 'two']]]);
    expect(ok(steps, 'get')).toEqual([[2, 'two']]);
    expect(ok(steps, 'update')).toEqual([[1, 'ONE']]);
    expect(ok(steps, 'upsert')).toEqual([]);
    expect(ok(steps, 'delete')).toEqual([[2, 'two']]);
    expect(ok(steps, 'call')).toEqual([6]);
    expect(ok(steps, 'call_multi')).toEqual([1, [2, 3]]);
    expect(ok(steps, 'call_whoami')).toEqual(['guest']);
    expect(failed(steps, 'call_missing')).toEqual({ error: "Procedure 'nope' is not defined", code: 33 });
    // A Lua-style failure travels as a LuajitError stack entry, as Tarantool sends it; net.box
    // rebuilds a LuajitError, which (unlike a ClientError) exposes no code to Lua.
    expect(failed(steps, 'call_boom')).toEqual({ error: 'kaboom', code: undefined });
    expect(ok(steps, 'eval')).toEqual([1, 'x']);
    expect(ok(steps, 'final')).toEqual([[[1, 'ONE'], [3, 'three']]]);
  });

  it('authenticates with a password (chap-sha1) and is refused with a wrong one', async () => {
    real.backend.spaces.get(512)!.tuples.clear();
    const steps = await runNetBox(real.port, ['test', 'secret']);
    expect(ok(steps, 'connected')).toEqual([true]);
    expect(ok(steps, 'call_whoami')).toEqual(['test']);
    const refused = await runNetBox(real.port, ['test', 'wrong']);
    const connected = ok(refused, 'connected');
    expect(connected[0]).toBe(false);
    expect(connected[1]).toBe("Incorrect password supplied for user 'test'");
  });

  it('the script really talks to a server: against a closed port it cannot connect', async () => {
    const probe = spawnSync('tarantool', [SCRIPT, '1'], { encoding: 'utf8', timeout: 30_000 });
    const steps = JSON.parse(probe.stdout.trim().split('\n').pop()!) as Step[];
    expect(steps[0]!.value![0]).toBe(false);
  });
});
