/**
 * SHA-1 (FIPS 180-4), in plain TypeScript: core/ may not import node:crypto, and Tarantool's
 * chap-sha1 authentication needs it. Not for anything security-critical beyond that protocol.
 */

import { assert } from './assert.ts';

/** Digest length of SHA-1. */
export const SHA1_DIGEST_BYTES = 20;
const BLOCK_BYTES = 64;

/** SHA-1 of `data`. */
export function sha1(data: Uint8Array): Uint8Array {
  const padded = pad(data);
  assert(padded.length % BLOCK_BYTES === 0, 'padding must fill whole blocks');
  const state = new Uint32Array([0x67452301, 0xefcdab89, 0x98badcfe, 0x10325476, 0xc3d2e1f0]);
  const words = new Uint32Array(80);
  const view = new DataView(padded.buffer, padded.byteOffset, padded.byteLength);
  for (let block = 0; block < padded.length; block += BLOCK_BYTES) {
    compress(state, words, view, block);
  }
  const out = new Uint8Array(SHA1_DIGEST_BYTES);
  const outView = new DataView(out.buffer);
  for (let i = 0; i < 5; i++) outView.setUint32(4 * i, state[i]!);
  return out;
}

/** Message || 0x80 || zeros || 64-bit big-endian bit length, to a multiple of 64 bytes. */
function pad(data: Uint8Array): Uint8Array {
  const totalBytes = Math.ceil((data.length + 9) / BLOCK_BYTES) * BLOCK_BYTES;
  const out = new Uint8Array(totalBytes);
  out.set(data);
  out[data.length] = 0x80;
  const view = new DataView(out.buffer);
  const bitLength = data.length * 8;
  view.setUint32(totalBytes - 8, Math.floor(bitLength / 0x100000000));
  view.setUint32(totalBytes - 4, bitLength >>> 0);
  return out;
}

function rotl(x: number, bits: number): number {
  return (x << bits) | (x >>> (32 - bits));
}

function compress(state: Uint32Array, w: Uint32Array, view: DataView, offset: number): void {
  for (let t = 0; t < 16; t++) w[t] = view.getUint32(offset + 4 * t);
  for (let t = 16; t < 80; t++) w[t] = rotl(w[t - 3]! ^ w[t - 8]! ^ w[t - 14]! ^ w[t - 16]!, 1);
  let a = state[0]!;
  let b = state[1]!;
  let c = state[2]!;
  let d = state[3]!;
  let e = state[4]!;
  for (let t = 0; t < 80; t++) {
    let f: number;
    let k: number;
    if (t < 20) {
      f = (b & c) | (~b & d);
      k = 0x5a827999;
    } else if (t < 40) {
      f = b ^ c ^ d;
      k = 0x6ed9eba1;
    } else if (t < 60) {
      f = (b & c) | (b & d) | (c & d);
      k = 0x8f1bbcdc;
    } else {
      f = b ^ c ^ d;
      k = 0xca62c1d6;
    }
    const temp = (rotl(a, 5) + f + e + k + w[t]!) >>> 0;
    e = d;
    d = c;
    c = rotl(b, 30) >>> 0;
    b = a;
    a = temp;
  }
  state[0] = (state[0]! + a) >>> 0;
  state[1] = (state[1]! + b) >>> 0;
  state[2] = (state[2]! + c) >>> 0;
  state[3] = (state[3]! + d) >>> 0;
  state[4] = (state[4]! + e) >>> 0;
}
