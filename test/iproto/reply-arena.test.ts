/**
 * The reply arena against core/codec's MpWriter, the encoder it must agree with byte for byte,
 * and the arena's own promise: a frame handed out never changes, whatever is encoded after it.
 */

import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { MpExt, MpFloat64, MpWriter, MSGPACK_DEPTH_MAX, type MpValue } from '../../core/codec/msgpack.ts';
import { toHex } from '../../core/lib/bytes.ts';
import { OUTPUT_ARENA_FIRST_BYTES, REPLY_ARENA_BYTES, ReplyArena } from '../../core/iproto/reply-arena.ts';
import { writeDataReply, writeTupleReply } from '../../core/iproto/response.ts';
import { sharedReply } from './shared-reply.ts';

const edgeNumbers = [
  0, -0, 1, -1, 0x7f, 0x80, 0xff, 0x100, 0xffff, 0x10000, 0xffffffff, 0x100000000, 2 ** 53 - 1, -(2 ** 53 - 1),
  -32, -33, -0x80, -0x81, -0x8000, -0x8001, -0x80000000, -0x80000001, -(2 ** 52), 2 ** 53, -(2 ** 53), 0.5, -1.5,
  Number.NaN, Number.POSITIVE_INFINITY, Number.NEGATIVE_INFINITY, Number.MIN_VALUE,
];

const anyReplyValue: fc.Arbitrary<MpValue> = fc.letrec<{ value: MpValue }>((tie) => ({
  value: fc.oneof(
    { depthSize: 'small', withCrossShrink: true },
    fc.integer(),
    fc.maxSafeInteger(),
    fc.constantFrom(...edgeNumbers),
    fc.double(),
    fc.string({ maxLength: 40 }),
    fc.string({ unit: 'grapheme', maxLength: 8 }),
    fc.constantFrom('x'.repeat(31), 'x'.repeat(32), 'x'.repeat(255), 'x'.repeat(256), 'x'.repeat(0x10000), 'é'.repeat(20)),
    fc.bigInt({ min: -(2n ** 63n), max: 2n ** 64n - 1n }),
    fc.boolean(),
    fc.constantFrom(null, undefined),
    fc.uint8Array({ maxLength: 20 }),
    fc.uint8Array({ maxLength: 16 }).map((data) => new MpExt(4, data)),
    fc.double().map((d) => new MpFloat64(d)),
    fc.array(tie('value'), { maxLength: 20 }),
    fc.dictionary(fc.string({ maxLength: 4 }), tie('value'), { maxKeys: 3 }),
    fc.array(fc.tuple(tie('value'), tie('value')), { maxLength: 3 }).map((entries) => new Map(entries)),
  ),
})).value;

function viaMpWriter(value: MpValue): Uint8Array {
  const w = new MpWriter();
  w.value(value);
  return w.toBytes();
}

function viaArena(arena: ReplyArena, value: MpValue): Uint8Array {
  arena.begin();
  arena.value(value);
  return arena.finish();
}

describe('reply arena', () => {
  it('encodes every value exactly as MpWriter does', () => {
    const arena = new ReplyArena(64);
    fc.assert(
      fc.property(anyReplyValue, (value) => {
        expect(toHex(viaArena(arena, value))).toBe(toHex(viaMpWriter(value)));
      }),
      { numRuns: 5_000, seed: 7 },
    );
  });

  it('keeps every frame it handed out unchanged across arena rollovers', () => {
    const arena = new ReplyArena(64);
    const frames: Array<[Uint8Array, string]> = [];
    for (let i = 0; i < 5_000; i++) {
      const value: MpValue = [i, 'v'.repeat(i % 300), i % 7 === 0 ? new Map([[i, i]]) : -i];
      const frame = viaArena(arena, value);
      frames.push([frame, toHex(viaMpWriter(value))]);
    }
    for (const [frame, hex] of frames) expect(toHex(frame)).toBe(hex);
  });

  it('leaves nothing behind when a value cannot be encoded, and stays usable', () => {
    const arena = new ReplyArena(4096);
    let deep: MpValue = [];
    for (let i = 0; i <= MSGPACK_DEPTH_MAX + 1; i++) deep = [deep];
    const before = viaArena(arena, [1, 2, 3]);
    arena.begin();
    arena.value('prefix');
    expect(() => arena.value(deep)).toThrow(/nested too deeply/);
    arena.abandon();
    expect(() => viaArena(arena, [1, () => 1] as unknown as MpValue)).toThrow(/cannot encode a function/);
    arena.abandon();
    const after = viaArena(arena, [4, 5]);
    expect(toHex(before)).toBe('93010203');
    expect(toHex(after)).toBe('920405');
    // The failed frames' bytes were reused: the next frame starts where the abandoned ones did.
    expect(after.byteOffset).toBe(before.byteOffset + before.length);
  });

  it('encodes data replies that reject a value without disturbing later replies', () => {
    expect(() => sharedReply((w) => writeDataReply(w, 1, 1, [[() => 1] as unknown as MpValue]))).toThrow(/cannot encode/);
    const frame = sharedReply((w) => writeTupleReply(w, 7, 3, [1, 'x'], false));
    expect(toHex(frame)).toBe('8300ce0000000001cf000000000000000705ce0000000381' + '30dd00000001' + '9201a178');
    expect(toHex(sharedReply((w) => writeTupleReply(w, 8, 3, undefined, true)))).toBe('8300ce0000000001cf000000000000000805ce000000038130dd00000000');
    expect(toHex(sharedReply((w) => writeTupleReply(w, 8, 3, undefined, false)))).toBe(toHex(sharedReply((w) => writeDataReply(w, 8, 3, [undefined]))));
    expect(toHex(frame)).toBe(toHex(sharedReply((w) => writeDataReply(w, 7, 3, [[1, 'x']]))));
  });
});

describe('reply arena as a connection output', () => {
  /** Splits taken output into frames, checking each `ce u32` prefix against what follows. */
  function unframe(runs: Uint8Array[]): string[] {
    const all = Buffer.concat(runs);
    const frames: string[] = [];
    for (let at = 0; at < all.length; ) {
      expect(all[at]).toBe(0xce);
      const length = all.readUInt32BE(at + 1);
      frames.push(toHex(all.subarray(at + 5, at + 5 + length)));
      at += 5 + length;
    }
    return frames;
  }

  it('hands out committed frames, prefixed and in order, across rollovers, abandons and appends', () => {
    type Step = { kind: 'encode'; value: MpValue } | { kind: 'append'; bytes: Uint8Array } | { kind: 'abandon' } | { kind: 'take' };
    const step: fc.Arbitrary<Step> = fc.oneof(
      fc.record({ kind: fc.constant('encode' as const), value: anyReplyValue }),
      fc.record({ kind: fc.constant('append' as const), bytes: fc.uint8Array({ maxLength: 300 }) }),
      fc.constant({ kind: 'abandon' as const }),
      fc.constant({ kind: 'take' as const }),
    );
    fc.assert(
      fc.property(fc.array(step, { maxLength: 60 }), (steps) => {
        let commits = 0;
        const arena = ReplyArena.output(() => commits++, 64);
        const expected: string[] = [];
        const taken: Array<[Uint8Array, string]> = [];
        const take = (): void => {
          for (const run of arena.takeCommitted()) taken.push([run, toHex(run)]);
        };
        for (const s of steps) {
          if (s.kind === 'encode') {
            arena.begin();
            arena.value(s.value);
            arena.commit();
            expected.push(toHex(viaMpWriter(s.value)));
          } else if (s.kind === 'append') {
            arena.appendFrame(s.bytes);
            expected.push(toHex(s.bytes));
          } else if (s.kind === 'abandon') {
            arena.begin();
            arena.value('never sent');
            arena.abandon();
          } else {
            take();
          }
          expect(arena.pendingBytes).toBeGreaterThanOrEqual(arena.pendingFrames * 5);
        }
        take();
        expect(arena.pendingFrames).toBe(0);
        expect(arena.pendingBytes).toBe(0);
        expect(commits).toBe(expected.length);
        // Runs handed out earlier were not overwritten by anything encoded after them.
        for (const [run, hex] of taken) expect(toHex(run)).toBe(hex);
        expect(unframe(taken.map(([run]) => run))).toEqual(expected);
      }),
      { numRuns: 500, seed: 11 },
    );
  });

  it('counts pending frames and bytes until they are taken', () => {
    const arena = ReplyArena.output(() => undefined);
    arena.appendFrame(Uint8Array.of(1, 2, 3));
    arena.begin();
    arena.u8(9);
    // The frame being written is not pending until it is committed.
    expect([arena.pendingFrames, arena.pendingBytes]).toEqual([1, 8]);
    arena.commit();
    expect([arena.pendingFrames, arena.pendingBytes]).toEqual([2, 14]);
    expect(unframe(arena.takeCommitted())).toEqual(['010203', '09']);
    expect(arena.takeCommitted()).toEqual([]);
  });

  it('holds nothing before its first frame, grows by doubling, and drops a buffer grown for a large frame', () => {
    const arena = ReplyArena.output(() => undefined);
    expect(arena.capacityBytes).toBe(0);
    arena.appendFrame(Uint8Array.of(1));
    expect(arena.capacityBytes).toBe(OUTPUT_ARENA_FIRST_BYTES);
    const sizes = new Set<number>();
    for (let i = 0; i < 200; i++) {
      arena.appendFrame(new Uint8Array(1000));
      sizes.add(arena.capacityBytes);
      arena.takeCommitted();
    }
    expect([...sizes].sort((a, b) => a - b)).toEqual([4, 8, 16, 32, 64].map((k) => k * 1024));
    arena.appendFrame(new Uint8Array(1024 * 1024));
    expect(arena.capacityBytes).toBeGreaterThan(REPLY_ARENA_BYTES);
    expect(unframe(arena.takeCommitted())[0]!.length).toBe(2 * 1024 * 1024); // hex: twice the bytes
    expect(arena.capacityBytes).toBe(0);
    arena.appendFrame(Uint8Array.of(2));
    expect(arena.capacityBytes).toBeLessThanOrEqual(REPLY_ARENA_BYTES);
    expect(unframe(arena.takeCommitted())).toEqual(['02']);
  });

  it('refuses to mix the two ways of ending a frame', () => {
    const output = ReplyArena.output(() => undefined);
    output.begin();
    expect(() => output.finish()).toThrow(/commits its frames/);
    const shared = new ReplyArena();
    shared.begin();
    expect(() => shared.commit()).toThrow(/only an output arena/);
  });
});
