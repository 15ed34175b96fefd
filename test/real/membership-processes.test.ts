import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';

/** A real OS process running the membership program on loopback. */
class Member {
  readonly address: string;
  readonly dataDir: string;
  private child: ChildProcess | null = null;
  lines: string[] = [];

  constructor(port: number, dataDir: string) {
    this.address = `127.0.0.1:${port}`;
    this.dataDir = dataDir;
  }

  start(peers: string): void {
    this.lines = [];
    this.child = spawn(process.execPath, ['--import', 'tsx', 'runtime-real/programs/membership-main.ts', '--listen', this.address, '--peer', peers, '--data-dir', this.dataDir], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    this.child.stdout!.setEncoding('utf8').on('data', (chunk: string) => this.lines.push(...chunk.split('\n').filter(Boolean)));
  }

  view(): string[] {
    const alive = this.lines.filter((l) => l.startsWith('membership alive ')).pop();
    return alive === undefined ? [] : alive.slice('membership alive '.length).split(',');
  }

  generation(): number | undefined {
    const started = this.lines.find((l) => l.startsWith('membership started '));
    return started === undefined ? undefined : Number(started.split(' ').pop());
  }

  async stop(signal: NodeJS.Signals): Promise<number | null> {
    const child = this.child;
    if (child === null || child.exitCode !== null || child.signalCode !== null) return child?.exitCode ?? null;
    const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
    child.kill(signal);
    return exited;
  }
}

async function until(predicate: () => boolean, timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (!predicate()) {
    if (Date.now() > deadline) return false;
    await new Promise((r) => setTimeout(r, 50));
  }
  return true;
}

describe('membership program on 3 real processes (TCP loopback, LMDB)', () => {
  const dir = mkdtempSync(join(tmpdir(), 'membership-'));
  const base = 20000 + (process.pid % 2000) * 10;
  const members = [0, 1, 2].map((i) => new Member(base + i, join(dir, `m${i}`)));
  const peers = members[0]!.address;

  afterAll(async () => {
    await Promise.all(members.map((m) => m.stop('SIGKILL')));
    rmSync(dir, { recursive: true, force: true });
  });

  it('converges, detects a killed member, and a restarted member comes back with a higher generation', async () => {
    for (const m of members) m.start(peers);
    const all = members.map((m) => m.address).sort();
    expect(await until(() => members.every((m) => m.view().join() === all.join()), 20_000)).toBe(true);

    const victim = members[2]!;
    const firstGeneration = victim.generation();
    expect(await victim.stop('SIGKILL')).toBe(null);
    const rest = all.filter((a) => a !== victim.address);
    expect(await until(() => members.slice(0, 2).every((m) => m.view().join() === rest.join()), 20_000)).toBe(true);

    victim.start(peers);
    expect(await until(() => members.every((m) => m.view().join() === all.join()), 20_000)).toBe(true);
    expect(victim.generation()).toBeGreaterThan(firstGeneration!);

    // SIGTERM is a graceful stop: exit code 0.
    expect(await members[1]!.stop('SIGTERM')).toBe(0);
  });
});
