import { createServer, connect as tcpConnect, type Server, type Socket } from 'node:net';
import {
  CONNECT_TIMEOUT_MS_DEFAULT,
  FRAME_SIZE_BYTES_MAX,
  NetError,
  type Address,
  type CloseReason,
  type Connection,
  type ConnectOptions,
  type Listener,
  type ListenOptions,
  type Network,
  type NetErrorCode,
} from '../core/env/network.ts';
import { ReplyArena } from '../core/iproto/reply-arena.ts';
import { assert } from '../core/lib/assert.ts';

/**
 * TCP with iproto framing: every frame goes out as `ce <u32 length>` + payload (the form every
 * Tarantool client reads), and any msgpack uint is accepted as an incoming length.
 *
 * Output is coalesced in the connection's output arena (core/iproto/reply-arena.ts): frames
 * sit there back to back with their length prefixes, whether the server encoded them in place
 * (`output`) or `send` copied them in, and a flush writes them as they lie, one `socket.write`
 * per arena they span (no per-frame Buffer, copy or stream bookkeeping). A flush happens
 * - once per event-loop iteration for every connection with pending frames (one `setImmediate`
 *   shared by all connections, the way Tarantool's iproto thread flushes its output buffer once
 *   per loop), one iteration late and a few more while the peer keeps sending
 *   (`deferredConnections`): the replies produced by the reads of those iterations and by the
 *   WAL completions that settled in them leave together, in the check phase;
 * - as soon as FLUSH_FRAMES_EARLY frames (or FLUSH_BYTES_EARLY bytes) are pending, so that a
 *   client waiting for replies to send its next requests (net.box fibers, a driver's in-flight
 *   window) gets the first ones while the server still works on the rest. It equals
 *   FRAMES_PER_SLICE: a slice's replies (and a WAL batch's, which is at most a slice of
 *   requests) leave in one write. Every write is a syscall that also runs the peer's TCP receive
 *   on loopback; with 8 frames per write, net.box replace made 25.6k writes per 200k requests,
 *   with 32 it makes 7.3k, the client's request reads staying at ~3.5k (strace -c);
 * - at each slice boundary of input (below).
 *
 * Input is delivered in slices of FRAMES_PER_SLICE frames, one slice per event-loop iteration:
 * a read holding many requests (a client pipelining 100 of them) is not executed all at once
 * before the first reply can leave. The first slice of a read is shorter (FIRST_SLICE_FRAMES): a
 * client that sent a batch and waits for all of it (net.box's 100 fibers send their next
 * requests together) is idle until the first replies come, and then works on them while the
 * server does the rest, so only the first slice's work is exposed to it. Paired rounds against
 * the same server with 32-frame first slices, net.box 100 fibers select (medians of per-round
 * ratios, 16 and 20 rounds): 8 -> 1.07 and 1.08, 16 -> 1.04, 4 -> 1.01 (the client's extra reads eat the
 * gain); replace 8 -> 1.06. Between slices the microtasks the slice started run (WAL
 * writes, promise replies), its replies are flushed, and other connections get their turn. Reads
 * that arrive while a read is still being sliced wait behind it, in order; past
 * INPUT_BACKLOG_BYTES_MAX of them the socket stops reading (TCP backpressure) until they drain.
 * A close waits for the slicing to finish, so every frame that arrived is delivered before it.
 * A frame goes to the `onFrame` handler as a view of the read, or to an `onFrameRange` handler
 * (the iproto server's) as a range of it, without a view of its own; a read buffer is never
 * reused, so both stay valid.
 *
 * Measured with bench:peers' clients on 2 cores (ops/s, our server only, A/B interleaved):
 * net.box 100 fibers select 104k without either mechanism -> 115-139k; replace 51-59k -> 62-84k;
 * tarantool-driver (100 in flight, client-bound) unchanged.
 */

/** A peer that does not read is cut off once this much output is queued for it (by default). */
export const OUTPUT_QUEUED_BYTES_MAX_DEFAULT = 256 * 1024 * 1024;
/** Frames of one read delivered per event-loop iteration. */
const FRAMES_PER_SLICE = 32;
/** Frames delivered at once when a read arrives: the replies a waiting client gets first. */
const FIRST_SLICE_FRAMES = 8;
/** Pending frames (or bytes) that are flushed at once rather than at the end of the iteration. */
const FLUSH_FRAMES_EARLY = FRAMES_PER_SLICE;
const FLUSH_BYTES_EARLY = 64 * 1024;
/** Reads waiting behind a sliced one, in bytes, beyond which the socket stops reading. */
const INPUT_BACKLOG_BYTES_MAX = 4 * 1024 * 1024;

/** Connections with frames waiting for the end of this event-loop iteration. */
const dirtyConnections = new Set<TcpConnection>();
let flushScheduled = false;

function scheduleFlush(connection: TcpConnection): void {
  dirtyConnections.add(connection);
  if (flushScheduled) return;
  flushScheduled = true;
  setImmediate(flushAll);
}

/**
 * Connections whose frames wait for a later iteration: their flush comes at the end of the
 * iteration after the one that produced the frames, so the requests that arrived in between
 * (read by that iteration's poll, which does not block while an immediate is pending) answer in
 * the same write; and while a connection keeps receiving input it waits again, up to
 * FLUSH_DEFERRALS_WHILE_RECEIVING_MAX more iterations. Frames still leave at once past
 * FLUSH_FRAMES_EARLY or FLUSH_BYTES_EARLY.
 *
 * Why: a client that sends each request as its previous one is answered (a driver's in-flight
 * window) is bound by its own CPU per request, which falls when it gets more replies per read
 * and when its writes find the server awake rather than having to wake it (a server slowed by a
 * 0.5 µs busy loop per select served tarantool-driver 6% faster). bench:peers, 4 paired runs of
 * 16 rounds, ratio to Tarantool: flushing in the producing iteration gave driver_select
 * 0.96-0.98; one iteration late 0.96-0.99; waiting while input arrives 1.00-1.02, with
 * driver_ping 1.02-1.13 (one late: 0.97-1.05) and net.box unchanged. The cost is latency: a
 * reply waits at most 1 + FLUSH_DEFERRALS_WHILE_RECEIVING_MAX iterations, each a non-blocking
 * poll, and the extra ones only while its peer keeps the connection busy.
 */
const FLUSH_DEFERRALS_WHILE_RECEIVING_MAX = 4;
const deferredConnections = new Set<TcpConnection>();

function flushAll(): void {
  flushScheduled = false;
  // Deleting the entry being visited is safe in a Set's iteration, and flush() adds none.
  for (const connection of deferredConnections) {
    if (connection.receivedSinceFlushCheck && connection.flushDeferrals < FLUSH_DEFERRALS_WHILE_RECEIVING_MAX) {
      connection.receivedSinceFlushCheck = false;
      connection.flushDeferrals++;
      continue;
    }
    deferredConnections.delete(connection);
    connection.flush(); // with whatever it committed since it was deferred
  }
  // A flush cannot add connections (sends during it schedule the next iteration's flush).
  for (const connection of dirtyConnections) {
    if (deferredConnections.has(connection)) continue;
    connection.receivedSinceFlushCheck = false;
    connection.flushDeferrals = 0;
    deferredConnections.add(connection);
  }
  dirtyConnections.clear();
  if (deferredConnections.size > 0) {
    flushScheduled = true;
    setImmediate(flushAll);
  }
}

export function parseHostPort(address: Address): { host: string; port: number } {
  const colon = address.lastIndexOf(':');
  if (colon < 0) throw new NetError('EHOSTUNREACH', `address ${address} has no port`);
  const host = address.slice(0, colon) || 'localhost';
  const port = Number(address.slice(colon + 1));
  if (!Number.isInteger(port) || port < 0 || port > 65535) throw new NetError('EHOSTUNREACH', `bad port in ${address}`);
  return { host, port };
}

function netErrorCode(error: NodeJS.ErrnoException): NetErrorCode {
  switch (error.code) {
    case 'ECONNREFUSED':
    case 'ETIMEDOUT':
    case 'EHOSTUNREACH':
    case 'EADDRINUSE':
    case 'EADDRNOTAVAIL':
      return error.code;
    case 'ENOTFOUND':
    case 'EAI_AGAIN':
    case 'ENETUNREACH':
      return 'EHOSTUNREACH';
    default:
      return 'ECONNRESET';
  }
}

export interface RealNetworkOptions {
  /** Output queued for a peer (in Node and not yet flushed) beyond which it is cut off. */
  readonly outputQueuedBytesMax?: number;
}

export class RealNetwork implements Network {
  private readonly outputQueuedBytesMax: number;

  constructor(options: RealNetworkOptions = {}) {
    this.outputQueuedBytesMax = options.outputQueuedBytesMax ?? OUTPUT_QUEUED_BYTES_MAX_DEFAULT;
  }

  listen(address: Address, onConnection: (conn: Connection) => void, options?: ListenOptions): Promise<Listener> {
    const { host, port } = parseHostPort(address);
    const server: Server = createServer({ noDelay: true }, (socket) => {
      socket.setNoDelay(true);
      const conn = new TcpConnection(socket, `${socket.remoteAddress}:${socket.remotePort}`, 0, this.outputQueuedBytesMax);
      const greeting = options?.greeting?.();
      if (greeting !== undefined && greeting.length > 0) socket.write(greeting);
      onConnection(conn);
    });
    return new Promise((resolve, reject) => {
      server.once('error', (error: NodeJS.ErrnoException) => reject(new NetError(netErrorCode(error), `listen on ${address}: ${error.message}`)));
      server.listen(port, host, () => {
        const bound = server.address();
        const actual = typeof bound === 'object' && bound !== null ? `${host}:${bound.port}` : address;
        resolve({ address: actual, close: () => server.close() });
      });
    });
  }

  connect(address: Address, options?: ConnectOptions): Promise<Connection> {
    const { host, port } = parseHostPort(address);
    const timeoutMs = options?.timeoutMs ?? CONNECT_TIMEOUT_MS_DEFAULT;
    const greetingBytes = options?.greetingBytes ?? 0;
    return new Promise((resolve, reject) => {
      const socket = tcpConnect({ host, port, noDelay: true });
      let settled = false;
      const fail = (code: NetErrorCode, message: string): void => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        socket.destroy();
        reject(new NetError(code, message));
      };
      const timer = setTimeout(() => fail('ETIMEDOUT', `connect to ${address} timed out after ${timeoutMs} ms`), timeoutMs);
      socket.once('error', (error: NodeJS.ErrnoException) => fail(netErrorCode(error), `connect to ${address}: ${error.message}`));
      socket.once('connect', () => {
        const conn = new TcpConnection(socket, address, greetingBytes, this.outputQueuedBytesMax);
        conn.whenGreeted(() => {
          if (settled) return;
          settled = true;
          clearTimeout(timer);
          resolve(conn);
        });
      });
    });
  }
}

export class TcpConnection implements Connection {
  readonly remoteAddress: Address;
  greeting: Uint8Array = new Uint8Array(0);
  private readonly socket: Socket;
  private closed = false;
  /** For flushAll: input arrived since it last looked, and how often it has deferred the flush. */
  receivedSinceFlushCheck = false;
  flushDeferrals = 0;
  private frameHandler: ((frame: Uint8Array) => void) | null = null;
  private rangeHandler: ((bytes: Uint8Array, start: number, end: number) => void) | null = null;
  private closeHandler: ((reason: CloseReason) => void) | null = null;
  private readonly backlog: Uint8Array[] = [];
  private pendingClose: CloseReason | null = null;
  /** Bytes received but not yet parsed into frames (the start of a split frame). */
  private tail: Buffer[] = [];
  private tailBytes = 0;
  /** Bytes the split frame needs in total (prefix included), when known. */
  private tailNeededBytes = 0;
  private greetingBytesLeft: number;
  private onGreeted: (() => void) | null = null;
  /**
   * Frames sent or committed and not yet flushed. Created when first asked for (a server
   * session asks at once), it allocates its buffer at the first frame.
   */
  private outputArena: ReplyArena | null = null;
  private closeReason: CloseReason | null = null;
  /** A read is being delivered in slices (see deliverFrom); reads arriving meanwhile wait here. */
  private slicing = false;
  private inputBacklog: Buffer[] = [];
  private inputBacklogBytes = 0;
  /** The socket closed while a read was being sliced: the close is reported after it. */
  private finishAfterSlices: CloseReason | null = null;

  private readonly outputQueuedBytesMax: number;

  constructor(socket: Socket, remoteAddress: Address, greetingBytes: number, outputQueuedBytesMax: number) {
    assert(outputQueuedBytesMax > 0, 'output queue limit');
    this.outputQueuedBytesMax = outputQueuedBytesMax;
    this.socket = socket;
    this.remoteAddress = remoteAddress;
    this.greetingBytesLeft = greetingBytes;
    socket.on('data', (chunk: Buffer) => this.receive(chunk));
    socket.on('error', (error: Error) => {
      this.closeReason ??= { kind: 'reset', message: error.message };
    });
    socket.on('close', () => this.finish(this.closeReason ?? { kind: 'remote' }));
  }

  get isClosed(): boolean {
    return this.closed;
  }

  whenGreeted(fn: () => void): void {
    if (this.greetingBytesLeft === 0) fn();
    else this.onGreeted = fn;
  }

  get output(): ReplyArena {
    this.outputArena ??= ReplyArena.output(() => this.committed());
    return this.outputArena;
  }

  send(frame: Uint8Array): boolean {
    if (this.closed) return false;
    this.output.appendFrame(frame);
    return !this.socket.destroyed; // a peer that does not read is cut off at a flush
  }

  /**
   * A frame was committed to the output arena (by `send` or in place). Frames wait at most
   * until FLUSH_FRAMES_EARLY or FLUSH_BYTES_EARLY of them are pending, so the check of the
   * peer's backlog waits for the flush too.
   */
  private committed(): void {
    const output = this.outputArena!;
    if (this.closed) {
      output.takeCommitted(); // nobody reads them any more
      return;
    }
    const frames = output.pendingFrames;
    if (frames === 1) scheduleFlush(this);
    if (frames >= FLUSH_FRAMES_EARLY || output.pendingBytes >= FLUSH_BYTES_EARLY) this.flush();
  }

  /** Writes every pending frame as it lies in the output arena. */
  flush(): void {
    const output = this.outputArena;
    if (output === null || output.pendingFrames === 0) return;
    const pendingBytes = output.pendingBytes;
    const runs = output.takeCommitted();
    if (this.socket.destroyed) return;
    if (this.socket.writableLength + pendingBytes > this.outputQueuedBytesMax) {
      this.abort({ kind: 'protocol', message: 'peer does not read its replies' });
      return;
    }
    for (const run of runs) this.socket.write(run);
  }

  onFrame(handler: (frame: Uint8Array) => void): void {
    assert(this.rangeHandler === null, 'frames go to one handler: onFrame or onFrameRange');
    this.frameHandler = handler;
    for (const frame of this.backlog.splice(0)) handler(frame);
  }

  onFrameRange(handler: (bytes: Uint8Array, start: number, end: number) => void): void {
    assert(this.frameHandler === null, 'frames go to one handler: onFrame or onFrameRange');
    this.rangeHandler = handler;
    for (const frame of this.backlog.splice(0)) handler(frame, 0, frame.length);
  }

  onClose(handler: (reason: CloseReason) => void): void {
    this.closeHandler = handler;
    if (this.pendingClose !== null) handler(this.pendingClose);
  }

  close(): void {
    if (this.closed) return;
    this.closeReason = { kind: 'local' };
    this.flush(); // frames sent before close() still go out, in order
    this.socket.end();
    this.socket.destroySoon();
  }

  private abort(reason: CloseReason): void {
    this.closeReason = reason;
    this.socket.destroy();
  }

  private finish(reason: CloseReason): void {
    if (this.closed) return;
    if (this.slicing) {
      this.finishAfterSlices = reason;
      return;
    }
    this.closed = true;
    if (this.closeHandler !== null) this.closeHandler(reason);
    else this.pendingClose = reason;
  }

  private receive(chunk: Buffer): void {
    this.receivedSinceFlushCheck = true;
    if (this.slicing) {
      this.inputBacklog.push(chunk);
      this.inputBacklogBytes += chunk.length;
      if (this.inputBacklogBytes > INPUT_BACKLOG_BYTES_MAX) this.socket.pause();
      return;
    }
    this.receiveChunk(chunk);
  }

  private receiveChunk(chunk: Buffer): void {
    if (this.tailBytes > 0) {
      // A frame is split across reads: collect until it is whole (no quadratic re-copying of a
      // large frame arriving in 64 KiB reads), then parse from one buffer.
      this.tail.push(chunk);
      this.tailBytes += chunk.length;
      if (this.tailBytes < this.tailNeededBytes) return;
      chunk = Buffer.concat(this.tail, this.tailBytes);
      this.tail = [];
      this.tailBytes = 0;
    }
    let data = chunk;
    if (this.greetingBytesLeft > 0) {
      const take = Math.min(this.greetingBytesLeft, data.length);
      this.greeting = concat(this.greeting, data.subarray(0, take));
      this.greetingBytesLeft -= take;
      data = data.subarray(take);
      if (this.greetingBytesLeft === 0) this.onGreeted?.();
    }
    this.deliverFrom(data, 0, FIRST_SLICE_FRAMES);
  }

  /**
   * Delivers the frames of `data` from `offset` on, `sliceFrames` of them now and the rest
   * in later event-loop iterations (see the module comment).
   */
  private deliverFrom(data: Buffer, offset: number, sliceFrames: number): void {
    let delivered = 0;
    // Frames are (views of) the read's memory; the `buffer` getter is a runtime call, so once per
    // read. A range handler gets a plain Uint8Array, the type every other frame has, so that the
    // decoder's element loads see one kind of array.
    const memory = data.buffer;
    const base = data.byteOffset;
    const ranged = this.rangeHandler !== null ? new Uint8Array(memory, base, data.length) : null;
    while (offset < data.length && !this.closed) {
      if (delivered === sliceFrames) {
        this.slicing = true;
        setImmediate(() => this.resume(data, offset));
        return;
      }
      const prefixBytes = readLength(data, offset);
      if (prefixBytes === LENGTH_INCOMPLETE) break;
      const length = lengthRead;
      if (prefixBytes === LENGTH_INVALID || length > FRAME_SIZE_BYTES_MAX) {
        this.abort({ kind: 'protocol', message: prefixBytes === LENGTH_INVALID ? 'packet length is not a msgpack uint' : `packet of ${length} bytes exceeds the limit` });
        return;
      }
      const end = offset + prefixBytes + length;
      if (end > data.length) break;
      // The read buffer is never reused by us: ranges and views of it stay valid.
      if (ranged !== null) this.rangeHandler!(ranged, offset + prefixBytes, end);
      else this.deliver(new Uint8Array(memory, base + offset + prefixBytes, length)); // cheaper than Buffer#subarray
      offset = end;
      delivered++;
    }
    if (offset < data.length && !this.closed) {
      // Keep the unparsed tail (a copy, so the big read buffer can be collected) and how many
      // bytes the frame it starts needs, when the prefix says so already.
      const rest = Buffer.from(data.subarray(offset));
      const prefixBytes = readLength(rest, 0);
      this.tail = [rest];
      this.tailBytes = rest.length;
      this.tailNeededBytes = prefixBytes > 0 ? prefixBytes + lengthRead : rest.length + 1;
    }
  }

  /**
   * The next slice of a read: first the replies of the previous slice go out, then the slice,
   * then (once the read is done) the reads that arrived meanwhile, then a close that came.
   */
  private resume(data: Buffer, offset: number): void {
    this.slicing = false;
    this.flush();
    this.deliverFrom(data, offset, FRAMES_PER_SLICE);
    while (!this.slicing && this.inputBacklog.length > 0) {
      const chunk = this.inputBacklog.shift()!;
      this.inputBacklogBytes -= chunk.length;
      this.receiveChunk(chunk);
    }
    if (this.slicing) return;
    if (this.socket.isPaused()) this.socket.resume();
    if (this.finishAfterSlices !== null) this.finish(this.finishAfterSlices);
  }

  private deliver(frame: Uint8Array): void {
    if (this.frameHandler !== null) this.frameHandler(frame);
    else this.backlog.push(frame);
  }
}

function concat(a: Uint8Array, b: Uint8Array): Uint8Array {
  const out = new Uint8Array(a.length + b.length);
  out.set(a);
  out.set(b, a.length);
  return out;
}

const LENGTH_INCOMPLETE = 0;
const LENGTH_INVALID = -1;
/** The length `readLength` read (a module variable: no object per frame on the hot path). */
let lengthRead = 0;

/**
 * Reads the msgpack uint that prefixes every iproto packet: returns the prefix size in bytes and
 * sets `lengthRead`, or LENGTH_INCOMPLETE / LENGTH_INVALID.
 */
function readLength(data: Buffer, offset: number): number {
  const type = data[offset]!;
  if (type <= 0x7f) {
    lengthRead = type;
    return 1;
  }
  let size: number;
  switch (type) {
    case 0xce:
      size = 4;
      break;
    case 0xcd:
      size = 2;
      break;
    case 0xcc:
      size = 1;
      break;
    case 0xcf:
      size = 8;
      break;
    default:
      return LENGTH_INVALID;
  }
  if (offset + 1 + size > data.length) return LENGTH_INCOMPLETE;
  if (size === 4) lengthRead = data.readUInt32BE(offset + 1);
  else if (size === 2) lengthRead = data.readUInt16BE(offset + 1);
  else if (size === 1) lengthRead = data[offset + 1]!;
  else lengthRead = Number(data.readBigUInt64BE(offset + 1));
  return 1 + size;
}
