/**
 * npm run bench:iproto [-- --json] [--ops N] [--only select|ping] [--windows]
 *
 * The server's own per-request work, without sockets: frames of the shapes net.box sends are fed
 * to a ServerSession over a NodeBackend on a real Box (LMDB, WAL `write`), through an in-process
 * Connection that, like the real network's, hands frames over as ranges of one buffer and takes
 * replies in its output arena, and then drops them. What it measures is the JavaScript between a frame
 * arriving and its reply being queued (decode, dispatch, box, WAL group commit, encode), in
 * µs per request of this process's CPU: the part of bench:peers' `oursCpuUsPerOp` that is ours
 * rather than the kernel's or Node's socket layer. Frames are fed in batches of FRAMES_PER_BATCH,
 * as a read of the real network delivers them. Replace always runs (it fills the space the select
 * reads); `--windows` prints each case's time window on CLOCK_MONOTONIC (µs), to cut a
 * `node --cpu-prof` profile down to one case.
 */

import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { Box, WAL_STORE } from '../core/box/box.ts';
import type { MpValue } from '../core/codec/msgpack.ts';
import { quietLog } from './lib/quiet-log.ts';
import type { CloseReason, Connection } from '../core/env/network.ts';
import { BodyKey, RequestType } from '../core/iproto/constants.ts';
import { encodeRequestFrame, selectBody } from '../core/iproto/request-encode.ts';
import { ReplyArena } from '../core/iproto/reply-arena.ts';
import { ServerSession } from '../core/iproto/session.ts';
import { NodeBackend } from '../core/node/backend.ts';
import type { Node } from '../core/node/node.ts';
import { LmdbDisk } from '../runtime-real/disk.ts';
import { hasFlag, option, printReport, type BenchResult } from './report.ts';

const FRAMES_PER_BATCH = 32;

/** Takes frames as ranges and replies in an output arena, as the real network's connections do. */
class CollectingConnection implements Connection {
  readonly remoteAddress = 'bench';
  readonly greeting = new Uint8Array(0);
  readonly isClosed = false;
  replies = 0;
  readonly output = ReplyArena.output(() => this.replies++);
  private handler: ((bytes: Uint8Array, start: number, end: number) => void) | null = null;
  send(frame: Uint8Array): boolean {
    this.output.appendFrame(frame);
    return true;
  }
  onFrame(): void {
    throw new Error('the session takes frames as ranges');
  }
  onFrameRange(handler: (bytes: Uint8Array, start: number, end: number) => void): void {
    this.handler = handler;
  }
  onClose(_handler: (reason: CloseReason) => void): void {}
  close(): void {}
  feed(bytes: Uint8Array, start: number, end: number): void {
    this.handler!(bytes, start, end);
  }
  /** What a flush does with the replies: takes them (and drops them here). */
  flush(): void {
    this.output.takeCommitted();
  }
}

/** Frames laid out back to back in one buffer, as a read of the real network holds them. */
interface FrameRun {
  readonly bytes: Uint8Array;
  /** Start of frame i at offsets[i], its end at offsets[i + 1]. */
  readonly offsets: Int32Array;
  readonly count: number;
}

function layOut(count: number, encode: (i: number) => Uint8Array): FrameRun {
  const frames = Array.from({ length: count }, (_, i) => encode(i));
  const offsets = new Int32Array(count + 1);
  for (let i = 0; i < count; i++) offsets[i + 1] = offsets[i]! + frames[i]!.length;
  const bytes = new Uint8Array(offsets[count]!);
  for (let i = 0; i < count; i++) bytes.set(frames[i]!, offsets[i]!);
  return { bytes, offsets, count };
}

async function run(name: string, connection: CollectingConnection, frames: FrameRun): Promise<BenchResult> {
  const target = connection.replies + frames.count;
  const { bytes, offsets } = frames;
  const startedUs = Number(process.hrtime.bigint() / 1000n);
  const cpuStart = process.cpuUsage();
  const started = performance.now();
  for (let i = 0; i < frames.count; i += FRAMES_PER_BATCH) {
    const end = Math.min(frames.count, i + FRAMES_PER_BATCH);
    for (let j = i; j < end; j++) connection.feed(bytes, offsets[j]!, offsets[j + 1]!);
    connection.flush();
    // The real network's turn of the event loop: microtasks (WAL commit, replies) run between reads.
    await new Promise<void>((resolve) => setImmediate(resolve));
  }
  while (connection.replies < target) await new Promise<void>((resolve) => setImmediate(resolve));
  connection.flush();
  const cpu = process.cpuUsage(cpuStart);
  const seconds = (performance.now() - started) / 1000;
  // With --cpu-prof, the window of this case on the profile's clock (µs of CLOCK_MONOTONIC).
  if (hasFlag('--windows')) console.error(`window ${name} ${Math.round(startedUs)} ${Number(process.hrtime.bigint() / 1000n)}`);
  return {
    name,
    opsPerSec: Math.round(frames.count / seconds),
    cpuUsPerOp: Math.round(((cpu.user + cpu.system) / frames.count) * 100) / 100,
  };
}

async function main(): Promise<void> {
  const ops = Number(option('--ops', '300000'));
  const dir = mkdtempSync(join(tmpdir(), 'bench-iproto-'));
  const disk = LmdbDisk.open(dir, { appendLogStores: [WAL_STORE] });
  try {
    const box = await Box.open({ disk, log: quietLog, walMode: 'write', checkpointWalRowsMax: 0 });
    const test = await box.createSpace('test');
    await test.createIndex('pk', { parts: [[0, 'unsigned']] });
    const spaceId = box.spaceObject('test').id;
    const backend = new NodeBackend({ box } as unknown as Node);
    const connection = new CollectingConnection();
    const session = new ServerSession(1, connection, backend, new Uint8Array(20), quietLog);
    session.start(() => undefined);
    const schemaVersion = box.schemaVersion;
    // net.box's shapes: 100 fibers each walking its own key range (bench/netbox-client.lua).
    const key = (i: number): number => 1 + (i % 100) * Math.ceil(ops / 100) + Math.floor(i / 100);
    const replaces = layOut(ops, (i) =>
      encodeRequestFrame(RequestType.REPLACE, i + 1, new Map<number, MpValue>([[BodyKey.SPACE_ID, spaceId], [BodyKey.TUPLE, [key(i), 'x']]]), schemaVersion),
    );
    const selects = layOut(ops, (i) => encodeRequestFrame(RequestType.SELECT, ops + i + 1, selectBody({ spaceId, key: [key(i)] }), schemaVersion));
    const pings = layOut(ops, (i) => encodeRequestFrame(RequestType.PING, 2 * ops + i + 1, undefined, schemaVersion));
    const only = option('--only', 'all');
    const results: BenchResult[] = [];
    results.push(await run('replace', connection, replaces));
    if (only === 'all' || only === 'select') results.push(await run('select', connection, selects));
    if (only === 'all' || only === 'ping') results.push(await run('ping', connection, pings));
    printReport('iproto', results, hasFlag('--json'));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

await main();
