/**
 * A real Tarantool (Debian's package, installed by scripts/install-test-deps.sh) running a
 * reference Lua script, for the differential tests. The script gets `<port> <work_dir>` and
 * prints READY once it listens.
 */

import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort } from '../../scripts/free-port.ts';

const START_TIMEOUT_MS = 20_000;

export function tarantoolPresent(): boolean {
  try {
    execFileSync('tarantool', ['--version']);
    return true;
  } catch {
    return false;
  }
}

export interface TarantoolProcess {
  readonly port: number;
  readonly child: ChildProcess;
  stop(): void;
}

export async function startTarantool(script: string): Promise<TarantoolProcess> {
  const port = await freePort();
  const dir = mkdtempSync(join(tmpdir(), 'iproto-ref-'));
  const child = spawn('tarantool', [script, String(port), dir], { stdio: ['ignore', 'pipe', 'pipe'] });
  const stop = (): void => {
    child.kill('SIGKILL');
    rmSync(dir, { recursive: true, force: true });
  };
  await new Promise<void>((resolve, reject) => {
    let output = '';
    const timer = setTimeout(() => {
      stop(); // never leave a half-started server behind
      reject(new Error(`tarantool did not start: ${output}`));
    }, START_TIMEOUT_MS);
    child.stdout!.on('data', (chunk: Buffer) => {
      output += chunk.toString();
      if (output.includes('READY')) {
        clearTimeout(timer);
        resolve();
      }
    });
    child.stderr!.on('data', (chunk: Buffer) => (output += chunk.toString()));
  });
  return { port, child, stop };
}
