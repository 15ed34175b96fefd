/**
 * The daemon as an operator meets it, on real processes: usage errors exit 2 before the data
 * directory is touched; a single instance configured through PICODATA_* variables boots with a
 * TypeScript --script, serves /health, /metrics and /api/v1/cluster, answers the console and
 * `picodata status`, logs the operator events in JSON, and stops on SIGINT with exit code 0;
 * on a pseudo-terminal the console completes names on Tab and keeps a history across sessions;
 * a failing script aborts the start; --log-level is honoured.
 */

import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { createServer, type Server } from 'node:net';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { IprotoClient } from '../../core/iproto/client.ts';
import { RealClock } from '../../runtime-real/clock.ts';
import { RealNetwork } from '../../runtime-real/network.ts';
import { Cluster, freePort, picodataBundle, runCli, SCRIPT_TS, until, type Instance } from './harness.ts';

/** The value of the one sample `name{labels}` in a scrape; fails when it is missing. */
function sample(text: string, name: string, labels = ''): number {
  const line = text.split('\n').find((l) => l.startsWith(`${name}${labels} `));
  expect(line, `${name}${labels} in the scrape`).toBeDefined();
  return Number(line!.slice(line!.lastIndexOf(' ') + 1));
}

describe('picodata CLI usage errors', () => {
  const cluster = new Cluster('usage');
  beforeAll(() => picodataBundle());
  afterAll(() => cluster.destroy());

  const cases: Array<[string, string[], Record<string, string>, RegExp]> = [
    ['an unknown option', ['run', '--bogus'], {}, /unknown option '--bogus'/],
    ['a bad log level', ['run', '--log-level', 'loud'], {}, /invalid log level "loud"/],
    ['a bad log level from PICODATA_LOG_LEVEL', ['run'], { PICODATA_LOG_LEVEL: 'loud' }, /invalid log level "loud"/],
    ['a listen address with two colons', ['run', '--listen', 'a:b:1'], {}, /invalid listen address "a:b:1": too many colons/],
    ['a port above 65535', ['run', '--peer', 'host:70000'], {}, /invalid peer address "host:70000": bad port/],
    ['a replication factor of 0', ['run', '--init-replication-factor', '0'], {}, /invalid init replication factor "0"/],
    ['a failure domain without =', ['run', '--failure-domain', 'planet'], {}, /KEY=VALUE/],
    ['a bad WAL mode', ['run', '--wal-mode', 'sometimes'], {}, /invalid wal mode "sometimes"/],
    ['an empty instance id', ['run', '--instance-id', ' '], {}, /invalid instance id: empty/],
    ['expel without --instance-id', ['expel'], {}, /required option '--instance-id <name>' not specified/],
    ['status with a bad peer', ['status', '--peer', 'x:99999'], {}, /invalid peer address/],
    ['connect without an address', ['connect'], {}, /missing required argument 'address'/],
  ];

  for (const [what, args, env, message] of cases) {
    it(`${what}: exit code 2, a clear message, nothing created`, async () => {
      const dataDir = join(cluster.dir, what.replace(/\W+/g, '-'));
      const withDir = args[0] === 'run' ? [...args, '--data-dir', dataDir] : args;
      const { code, stderr } = await runCli(withDir, { env });
      expect(stderr).toMatch(message);
      expect(code).toBe(2);
      expect(existsSync(dataDir)).toBe(false);
    });
  }

  it('--help exits 0 and lists every run option with its variable', async () => {
    const { code, stdout } = await runCli(['run', '--help']);
    expect(code).toBe(0);
    for (const option of ['--instance-id', '--listen', '--advertise', '--peer', '--cluster-id', '--data-dir', '--failure-domain', '--init-replication-factor', '--replicaset-id', '--log-level', '--script', '--http-listen', '--wal-mode']) {
      expect(stdout).toContain(option);
    }
    expect(stdout).toContain('PICODATA_FAILURE_DOMAIN');
  });

  it('a missing script, a busy HTTP or iproto port stops the start (exit 1) before the data directory is touched', async () => {
    const dataDir = join(cluster.dir, 'never');
    const missing = await runCli(['run', '--listen', `127.0.0.1:${await freePort()}`, '--data-dir', dataDir, '--script', join(cluster.dir, 'nope.mjs')]);
    expect(missing.code).toBe(1);
    expect(missing.stderr).toContain('nope.mjs: no such file');
    const busy: Server = createServer();
    await new Promise<void>((resolve) => busy.listen(0, '127.0.0.1', resolve));
    const port = (busy.address() as { port: number }).port;
    try {
      const taken = await runCli(['run', '--listen', `127.0.0.1:${await freePort()}`, '--data-dir', dataDir, '--http-listen', `127.0.0.1:${port}`]);
      expect(taken.code).toBe(1);
      expect(taken.stderr).toContain(`cannot listen for HTTP on 127.0.0.1:${port}: EADDRINUSE`);
      const iprotoTaken = await runCli(['run', '--listen', `127.0.0.1:${port}`, '--data-dir', dataDir]);
      expect(iprotoTaken.code).toBe(1);
      expect(iprotoTaken.stderr).toContain(`cannot listen on 127.0.0.1:${port}: EADDRINUSE`);
    } finally {
      busy.close();
    }
    expect(existsSync(dataDir)).toBe(false);
  });
});

describe('a stop signal during start-up', () => {
  it('SIGTERM while the --script loads exits 0 and leaves no data directory', async () => {
    const bundle = await picodataBundle();
    const dataDir = join(mkdtempSync(join(tmpdir(), 'pico-early-')), 'data');
    const script = fileURLToPath(new URL('./fixtures/slow-load.mjs', import.meta.url));
    const child = spawn(process.execPath, [bundle, 'run', '--listen', `127.0.0.1:${await freePort()}`, '--data-dir', dataDir, '--script', script], { stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr.setEncoding('utf8').on('data', (c: string) => (stderr += c));
    const started = Date.now();
    while (!stderr.includes('picodata starting') && Date.now() - started < 10_000) await new Promise((r) => setTimeout(r, 20));
    child.kill('SIGTERM');
    const [code, signal] = await new Promise<[number | null, NodeJS.Signals | null]>((resolve) => child.on('exit', (c, s) => resolve([c, s])));
    expect({ code, signal }).toEqual({ code: 0, signal: null });
    expect(stderr).toContain('stopped during start-up, before the data directory was opened');
    expect(existsSync(dataDir)).toBe(false);
  });
});

describe('a single instance: env options, TS script, HTTP, console, status, logs, SIGINT', () => {
  const cluster = new Cluster('single');
  let i1: Instance;
  let http: string;

  beforeAll(async () => {
    await picodataBundle();
    const httpPort = await freePort();
    http = `http://127.0.0.1:${httpPort}`;
    i1 = await cluster.add('i1', { script: null });
    // Everything but the address comes from PICODATA_* variables.
    await i1.start({
      env: {
        PICODATA_INSTANCE_ID: 'barsik',
        PICODATA_CLUSTER_ID: 'testcluster',
        PICODATA_PEER: i1.address,
        PICODATA_SCRIPT: SCRIPT_TS,
        PICODATA_HTTP_LISTEN: `127.0.0.1:${httpPort}`,
        PICODATA_WAL_MODE: 'fsync',
      },
    });
    await i1.waitOnline(30_000);
  }, 60_000);
  afterAll(() => cluster.destroy());

  it('took its identity from the environment and runs the script\'s stored procedures', async () => {
    expect(await i1.call('pico.whoami')).toEqual([{ raft_id: 1, cluster_id: 'testcluster', instance_id: 'barsik' }]);
    expect(await i1.call('sum', [1, 2, 3])).toEqual([6]);
    expect(await i1.call('whereami')).toEqual(['barsik']);
    const starting = i1.events('picodata starting')[0]!;
    expect(starting).toMatchObject({ level: 'info', cluster_id: 'testcluster', wal_mode: 'fsync' });
  });

  it('/health is 200 with a JSON body while Online', async () => {
    const response = await fetch(`${http}/health`);
    expect(response.status).toBe(200);
    expect(await response.json()).toMatchObject({ status: 'Online', instance_id: 'barsik', raft_state: 'Leader', current_grade: { variant: 'Online', incarnation: 1 } });
  });

  it('/metrics is Prometheus text with raft, grades, buckets and request metrics', async () => {
    for (let i = 0; i < 5; i++) await i1.call('sum', [i]);
    const response = await fetch(`${http}/metrics`);
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toContain('text/plain; version=0.0.4');
    const text = await response.text();
    expect(text).toMatch(/^picodata_raft_term 2$/m);
    expect(text).toMatch(/^picodata_raft_applied_index \d+$/m);
    expect(text).toMatch(/^picodata_raft_commit_index \d+$/m);
    expect(text).toMatch(/^picodata_raft_leader_id 1$/m);
    expect(text).toContain('picodata_raft_state{state="Leader"} 1');
    expect(text).toContain('picodata_instance_current_grade{instance_id="barsik",grade="Online"} 1');
    expect(text).toContain('picodata_buckets{status="active"} 3000');
    expect(text).toMatch(/^picodata_iproto_requests_total\{type="call"\} ([1-9]\d*)$/m);
    expect(text).toMatch(/^picodata_iproto_request_duration_seconds_bucket\{type="call",le="\+Inf"\} [1-9]\d*$/m);
    expect(text).toMatch(/^# TYPE picodata_iproto_request_duration_seconds histogram$/m);
    expect(text).toMatch(/^picodata_box_committed_lsn \d+$/m);
    expect(sample(text, 'picodata_raft_apply_lag_entries')).toBe(0);
    expect(sample(text, 'picodata_raft_commit_lag_entries')).toBe(0);
  });

  it('/metrics WAL families follow writes: rows, group commits, fsyncs, their latency, nothing pending after', async () => {
    const scrape = async (): Promise<string> => (await fetch(`${http}/metrics`)).text();
    const connected = await IprotoClient.connect({ net: new RealNetwork(), clock: new RealClock() }, i1.address);
    if (!connected.ok) throw new Error(JSON.stringify(connected.error));
    const client = connected.value;
    try {
      const found = await client.select({ spaceId: 281, indexId: 2, key: ['test'] }); // _vspace by name
      if (!found.ok) throw new Error(JSON.stringify(found.error));
      const spaceId = (found.value[0] as [number])[0];
      const before = await scrape();
      expect(before).toContain('picodata_wal_mode{mode="fsync"} 1');
      expect(before).toMatch(/^# TYPE picodata_wal_rows_written_total counter$/m);
      const rows = 20;
      // Concurrent requests: the WAL groups them into fewer records than rows.
      const inserted = await Promise.all(Array.from({ length: rows }, (_, k) => client.insert(spaceId, [1000 + k, 'metrics'])));
      expect(inserted.every((r) => r.ok)).toBe(true);
      const after = await scrape();
      const delta = (name: string): number => sample(after, name) - sample(before, name);
      expect(delta('picodata_wal_rows_written_total')).toBe(rows);
      expect(delta('picodata_wal_transactions_written_total')).toBe(rows);
      const batches = delta('picodata_wal_batches_written_total');
      expect(batches).toBeGreaterThanOrEqual(1);
      expect(batches).toBeLessThanOrEqual(rows);
      expect(delta('picodata_wal_syncs_total')).toBe(batches); // fsync mode: one per record
      expect(delta('picodata_wal_bytes_written_total')).toBeGreaterThan(rows * 8);
      expect(delta('picodata_wal_write_duration_seconds_count')).toBe(batches);
      expect(sample(after, 'picodata_wal_write_duration_seconds_sum')).toBeGreaterThan(0);
      expect(sample(after, 'picodata_wal_write_errors_total')).toBe(0);
      expect(sample(after, 'picodata_wal_pending_rows')).toBe(0);
      expect(sample(after, 'picodata_raft_apply_lag_entries')).toBe(0);
      // Leave `test` as the console test below expects it.
      for (let k = 0; k < rows; k++) expect((await client.delete(spaceId, 0, [1000 + k])).ok).toBe(true);
    } finally {
      client.close();
    }
  });

  it('/api/v1/cluster lists instances and replicasets; unknown paths are 404', async () => {
    const cluster = (await (await fetch(`${http}/api/v1/cluster`)).json()) as Record<string, unknown>;
    expect(cluster).toMatchObject({
      cluster_id: 'testcluster',
      instance_id: 'barsik',
      raft: { leader_id: 1, raft_state: 'Leader', voters: [1], learners: [] },
      instances: [{ instance_id: 'barsik', raft_id: 1, replicaset_id: 'r1', current_grade: { variant: 'Online' }, raft_role: 'voter', peer_address: i1.address }],
      replicasets: [{ replicaset_id: 'r1', master_id: 'barsik', weight: 1 }],
    });
    expect((await fetch(`${http}/nope`)).status).toBe(404);
    expect((await fetch(`${http}/metrics`, { method: 'POST' })).status).toBe(405);
  });

  it('picodata connect -u tester evaluates API calls and box.space DML, printing YAML', async () => {
    const input = ['secret', 'pico.raft_status()', "box.space.test:insert{1, 'one'}", 'box.space.test:replace{2, {a = 1}}', 'box.space.test:select()', "box.space.test:update({1}, {{'=', 2, 'ONE'}})", 'box.space.test:get{1}', 'sum(40, 2)', 'box.space.nope:select()', "vshard.router.callrw(1, 'sum', {40, 2})", 'vshard.router.bucket_id_mpcrc32(1)', 'box.space.test:fselect()', 'box.space.test.index.pk:fselect({2}, nil, {max_width = 10})', "vshard.router.callrw(1, 'box.space.test:insert', {{3, 'three'}})", 'box.info.status', 'box.cfg.listen', 'pico.whoami().raft_id', 'pico.whoami().raft_id.x', 'box.info.replication[1].uuid == nil', '\\q'].join('\n');
    const { code, stdout, stderr } = await runCli(['connect', i1.address, '-u', 'tester'], { input: `${input}\n` });
    expect(stderr).toBe('');
    expect(code).toBe(0);
    expect(stdout).toContain('Enter password for tester: ');
    expect(stdout).toContain(`connected to ${i1.address}`);
    expect(stdout).toContain(`${i1.address}> pico.raft_status()\n---\n- id: 1\n  term: 2\n  leader_id: 1\n  raft_state: Leader\n`);
    expect(stdout).toContain("box.space.test:insert{1, 'one'}\n---\n- [1, 'one']\n...\n");
    expect(stdout).toContain("box.space.test:select()\n---\n- - [1, 'one']\n  - [2, {'a': 1}]\n...\n");
    expect(stdout).toContain("box.space.test:get{1}\n---\n- [1, 'ONE']\n...\n");
    expect(stdout).toContain('sum(40, 2)\n---\n- 42\n...\n');
    // Plain, as Tarantool's console prints it (quotes inside do not make YAML quote the whole).
    expect(stdout).toContain("box.space.nope:select()\n---\n- error: Space 'nope' does not exist\n...\n");
    // vshard's router on the instance: the bucket's master runs the script's function.
    expect(stdout).toContain("vshard.router.callrw(1, 'sum', {40, 2})\n---\n- 42\n...\n");
    expect(stdout).toContain('vshard.router.bucket_id_mpcrc32(1)\n---\n- 1614\n...\n');
    // fselect as in the admin guide (15.3, 15.7): field names, centred JSON cells, piped output 140 wide.
    expect(stdout).toContain(
      'box.space.test:fselect()\n---\n- - +--+-------+\n  - |id| value |\n  - +--+-------+\n  - |1 | "ONE" |\n  - |2 |{"a":1}|\n  - +--+-------+\n...\n',
    );
    expect(stdout).toContain('box.space.test.index.pk:fselect({2}, nil, {max_width = 10})\n---\n- - +--+-----+\n  - |id|value|\n  - +--+-----+\n  - |2 |{"a":|\n  - +--+-----+\n...\n');
    // The admin guide's way of writing through the router (15.5).
    expect(stdout).toContain("vshard.router.callrw(1, 'box.space.test:insert', {{3, 'three'}})\n---\n- [3, 'three']\n...\n");
    // box.info and box.cfg fields, read by the server (EVAL).
    expect(stdout).toContain('box.info.status\n---\n- running\n...\n');
    expect(stdout).toContain('pico.whoami().raft_id\n---\n- 1\n...\n');
    // Indexed by the console itself (its calls' results), in Lua's words, without EVAL's prefix.
    expect(stdout).toContain("pico.whoami().raft_id.x\n---\n- error: attempt to index field 'x' of pico.whoami().raft_id (a number value)\n...\n");
    expect(stdout).toContain(`box.cfg.listen\n---\n- ${i1.address}\n...\n`);
    expect(stdout).toMatch(/box\.info\.replication\[1\]\.uuid == nil\n---\n- error: .*eval: /);
  });

  // util-linux `script` gives the console a pseudo-terminal, so readline runs as it does for a
  // person: raw mode, Tab completion, the up arrow, the history file.
  it.skipIf(!HAS_SCRIPT)('picodata connect on a terminal: Tab completes, history is written and read back', async () => {
    const history = join(cluster.dir, 'console-history');
    const env = { PICODATA_CONSOLE_HISTORY: history };
    const first = await TerminalSession.open(['connect', i1.address, '-u', 'tester'], env);
    await first.waitFor('Enter password for tester: ');
    first.type('secret\r');
    await first.waitFor(`${i1.address}> `);
    first.type('pico.raft_st\t'); // the only candidate: completed with its parenthesis
    await first.waitFor('pico.raft_status(');
    first.type(')\r');
    await first.waitFor('raft_state: Leader');
    first.type('box.space.test:co\t'); // a live space name and method
    await first.waitFor('box.space.test:count(');
    first.type(')\r');
    await first.waitFor(/box\.space\.test:count\(\)\r\r\n---\r\n- \d+\r\n\.\.\./);
    first.type('\\q\r');
    expect(await first.exit()).toBe(0);
    // Entered statements only: not the password, not \q.
    expect(readFileSync(history, 'utf8')).toBe('pico.raft_status()\nbox.space.test:count()\n');

    const second = await TerminalSession.open(['connect', i1.address], env);
    await second.waitFor(`${i1.address}> `);
    second.type('\x1b[A\x1b[A'); // up twice: the previous session's first statement
    await second.waitFor('pico.raft_status()');
    second.type('\r');
    await second.waitFor('raft_state: Leader');
    second.type('\\q\r');
    expect(await second.exit()).toBe(0);
    expect(readFileSync(history, 'utf8')).toBe('pico.raft_status()\nbox.space.test:count()\npico.raft_status()\n');
  });

  it.skipIf(!HAS_SCRIPT)('picodata run on a terminal logs readable lines, and Ctrl-C stops it gracefully', async () => {
    const dataDir = join(cluster.dir, 'on-a-terminal');
    const address = `127.0.0.1:${await freePort()}`;
    const run = await TerminalSession.open(['run', '--instance-id', 't1', '--listen', address, '--peer', address, '--data-dir', dataDir], {});
    await run.waitFor(/\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{3} INFO +picodata starting version=\S+ listen=127\.0\.0\.1:\d+/);
    // Its own view, not the governor's proposal: a stop before it has applied Online takes the
    // "no quorum" way out (no Online voter), which exits 0 without the Offline hand-over.
    await run.waitFor(/INFO +own current grade changed from=\S+ to=Online\(1\)/);
    run.type('\x03'); // the terminal sends SIGINT
    await run.waitFor(/INFO +shutting down signal=SIGINT/);
    await run.waitFor(/INFO +current grade is Offline, exiting/);
    expect(await run.exit()).toBe(0);
    expect(run.shown()).not.toContain('{"level"');
  });

  it('picodata connect refuses a wrong password with exit code 1', async () => {
    const { code, stderr } = await runCli(['connect', `tester@${i1.address}`], { input: 'wrong\n' });
    expect(code).toBe(1);
    expect(stderr).toContain("Incorrect password supplied for user 'tester'");
  });

  it('picodata status --json and the logs of the operator events', async () => {
    const { code, stdout } = await runCli(['status', '--peer', i1.address, '--json']);
    expect(code).toBe(0);
    expect(JSON.parse(stdout)).toMatchObject({ cluster_id: 'testcluster', replication_factor: 1, instances: [{ instance_id: 'barsik' }] });
    for (const msg of ['picodata starting', 'http listening', 'discovery finished', 'cluster bootstrapped', 'running the postjoin script', 'postjoin script finished', 'instance is serving', 'own current grade changed', 'replicaset master changed', 'raft leader changed', 'grade changed']) {
      expect(i1.events(msg).length, msg).toBeGreaterThan(0);
    }
    expect(i1.events('own current grade changed').map((e) => e['to'])).toEqual(['Offline(0)', 'RaftSynced(1)', 'Replicated(1)', 'ShardingInitialized(1)', 'Online(1)']);
  });

  it('SIGINT stops it gracefully with exit code 0', async () => {
    expect(await i1.stop('SIGINT')).toEqual({ code: 0, signal: null });
    expect(i1.events('shutting down')[0]).toMatchObject({ signal: 'SIGINT' });
    expect(i1.events('data directory closed, process exits')).toHaveLength(1);
    expect(i1.log).not.toContain('on_shutdown triggers failed');
  });
});

describe('start-up failures and log levels', () => {
  const cluster = new Cluster('failures');
  beforeAll(() => picodataBundle());
  afterAll(() => cluster.destroy());

  it('a throwing postjoin script aborts the start with a non-zero exit code; --log-level warn hides info', async () => {
    const i1 = await cluster.add('i1', { logLevel: 'warn', env: { PICODATA_TEST_SCRIPT_FAIL: '1' } });
    await i1.start({ peers: [i1.address] });
    const status = await i1.waitExit(20_000);
    expect(status.code).toBe(1);
    expect(i1.log).toContain('postjoin script failed: the script was asked to fail');
    const levels = i1.log.split('\n').filter(Boolean).map((l) => (JSON.parse(l) as { level: string }).level);
    expect(levels.length).toBeGreaterThan(0);
    expect(levels.every((l) => ['warn', 'error', 'crit', 'system', 'fatal'].includes(l))).toBe(true);
  }, 30_000);

  it('a damaged WAL stops the start with exit code 74, names the segment and leaves it as it was', async () => {
    const i3 = await cluster.add('i3', { logLevel: 'warn' });
    await i3.start({ peers: [i3.address] });
    await i3.waitOnline(30_000);
    expect(await i3.stop('SIGTERM')).toEqual({ code: 0, signal: null });
    const walDir = join(i3.dataDir, 'log-wal');
    const segment = join(walDir, readdirSync(walDir).filter((f) => f.endsWith('.log')).sort()[0]!);
    const bytes = readFileSync(segment);
    expect(bytes.length).toBeGreaterThan(100); // more than one frame: the first has others after it
    bytes[14] = bytes[14]! ^ 0xff; // inside the first frame's checksummed header
    writeFileSync(segment, bytes);
    await i3.start({ peers: [i3.address] });
    const status = await i3.waitExit(20_000);
    expect(status.code).toBe(74);
    expect(i3.log).toContain(`segment ${segment} is corrupt at byte 0`);
    expect(readFileSync(segment)).toEqual(bytes);
  }, 40_000);

  it('--log-level verbose shows the governor steps; --checkpoint-interval snapshots the storage', async () => {
    const i2 = await cluster.add('i2', { logLevel: 'verbose', script: null, extraArgs: ['--checkpoint-interval', '0.5'] });
    await i2.start({ peers: [i2.address] });
    await i2.waitOnline(30_000);
    await until('a governor step logged', () => (i2.events('governor step').length > 0 ? true : undefined), 5_000);
    expect(i2.log).toContain('"level":"verbose"');
    await until('a checkpoint', () => (i2.events('checkpoint done').length > 0 ? true : undefined), 5_000);
    expect(await i2.stop('SIGTERM')).toEqual({ code: 0, signal: null });
  }, 40_000);
});

const HAS_SCRIPT = spawnSync('script', ['--version'], { stdio: 'ignore' }).status === 0;

/** `picodata ARGS` on a pseudo-terminal (util-linux `script`), typed into and read like a person would. */
class TerminalSession {
  private output = '';
  private seen = 0;
  private readonly exited: Promise<number | null>;
  private readonly child;

  static async open(args: readonly string[], env: Record<string, string>): Promise<TerminalSession> {
    return new TerminalSession([process.execPath, await picodataBundle(), ...args], env);
  }

  private constructor(argv: readonly string[], env: Record<string, string>) {
    // `script` runs the command through $SHELL -c. dash (the /bin/sh CI gets when SHELL is unset)
    // stays as the parent, so Ctrl-C would kill the shell too and `script` would report 130:
    // `exec` makes the picodata process the terminal's only foreground process.
    const command = `exec ${argv.map((a) => `'${a}'`).join(' ')}`;
    this.child = spawn('script', ['-qfec', command, '/dev/null'], { stdio: ['pipe', 'pipe', 'pipe'], env: { ...process.env, TERM: 'xterm', ...env } });
    this.child.stdout.setEncoding('utf8').on('data', (c: string) => (this.output += c));
    this.child.stderr.setEncoding('utf8').on('data', (c: string) => (this.output += c));
    this.exited = new Promise((resolve) => this.child.once('exit', (code) => resolve(code)));
  }

  type(keys: string): void {
    this.child.stdin.write(keys);
  }

  /** Waits for `text` in what the terminal showed since the previous wait. */
  async waitFor(text: string | RegExp): Promise<void> {
    const found = (): number | undefined => {
      const rest = this.output.slice(this.seen);
      const at = typeof text === 'string' ? rest.indexOf(text) : rest.search(text);
      return at < 0 ? undefined : at;
    };
    try {
      const at = await until(`${String(text)} on the terminal`, found, 10_000, 20);
      this.seen += at;
    } catch (error) {
      this.child.kill('SIGKILL');
      throw new Error(`${String(error)}\n${JSON.stringify(this.output)}`);
    }
  }

  /** Everything the terminal showed. */
  shown(): string {
    return this.output;
  }

  async exit(): Promise<number | null> {
    const timer = setTimeout(() => this.child.kill('SIGKILL'), 10_000);
    try {
      return await this.exited;
    } finally {
      clearTimeout(timer);
    }
  }
}
