/**
 * The server answers a point select (EQ on a full unique key) straight from the index through
 * `selectPoint`, and every other select through `select`. The two routes must not be told apart
 * by a client: random SELECT frames over memtx and vinyl spaces and the `_vspace` view, unique,
 * non-unique, nullable, two-part and HASH indexes, stale schema versions, offsets, limits and bad
 * or partial keys go to a session whose backend has `selectPoint` and to one whose backend lacks
 * it, and the replies must be byte-equal.
 */

import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { Box } from '../../core/box/box.ts';
import type { MpValue } from '../../core/codec/msgpack.ts';
import { RequestType } from '../../core/iproto/constants.ts';
import { encodeRequestFrame, selectBody } from '../../core/iproto/request-encode.ts';
import { ServerSession } from '../../core/iproto/session.ts';
import { NodeBackend } from '../../core/node/backend.ts';
import type { Node } from '../../core/node/node.ts';
import { createRealLog } from '../../runtime-real/log.ts';
import { captureLog, MemoryDisk } from '../box/helpers.ts';
import { RecordingConnection } from './recording-connection.ts';

interface Fixture {
  readonly box: Box;
  readonly memtxId: number;
  readonly vinylId: number;
}

async function fixture(): Promise<Fixture> {
  const box = await Box.open({ disk: new MemoryDisk(), log: captureLog() });
  const memtx = await box.createSpace('memtx', {
    format: [
      { name: 'id', type: 'unsigned' },
      { name: 'name', type: 'string' },
      { name: 'code', type: 'integer', is_nullable: true },
    ],
  });
  await memtx.createIndex('pk', { parts: [[0, 'unsigned']] });
  await memtx.createIndex('by_name', { parts: [[1, 'string']], unique: false });
  await memtx.createIndex('by_code', { parts: [{ field: 2, type: 'integer', is_nullable: true }], unique: true });
  await memtx.createIndex('hash', { type: 'HASH', parts: [[0, 'unsigned'], [1, 'string']] });
  await memtx.createIndex('by_name_id', { parts: [[1, 'string'], [0, 'unsigned']] });
  const vinyl = await box.createSpace('vinyl', { engine: 'vinyl' });
  await vinyl.createIndex('pk', { parts: [[0, 'unsigned']] });
  for (let id = 1; id <= 20; id++) {
    await memtx.insert([id, `n${id % 4}`, id % 3 === 0 ? null : id * 10]);
    await vinyl.insert([id, 'v']);
  }
  return { box, memtxId: box.spaceObject('memtx').id, vinylId: box.spaceObject('vinyl').id };
}

const keyPart: fc.Arbitrary<MpValue> = fc.oneof(
  { weight: 6, arbitrary: fc.integer({ min: 0, max: 25 }) },
  { weight: 2, arbitrary: fc.constantFrom('n0', 'n1', 'zz') },
  { weight: 1, arbitrary: fc.constantFrom<MpValue>(null, -1, 1.5, 200) },
);

/** Index ids of the memtx space, in creation order. */
const PK = 0;
const HASH = 3;
const BY_NAME_ID = 4;
/** `_vspace`: a view, reading through `_space`'s indexes. */
const VSPACE = 281;

function selectFrames(f: Fixture): fc.Arbitrary<Array<{ frame: Uint8Array }>> {
  const current = f.box.schemaVersion;
  // Keys that hit: a stored id, [id, name] (the HASH index), [name, id] (by_name_id), a space id (_vspace).
  const stored = fc.integer({ min: 1, max: 20 });
  const hits = fc.oneof(
    stored.map((id): MpValue[] => [id, `n${id % 4}`]),
    stored.map((id): MpValue[] => [`n${id % 4}`, id]),
    fc.constant<MpValue[]>([f.memtxId]),
  );
  const one = fc.record({
    spaceId: fc.oneof(
      { weight: 6, arbitrary: fc.constant(f.memtxId) },
      { weight: 2, arbitrary: fc.constant(f.vinylId) },
      { weight: 1, arbitrary: fc.constantFrom(VSPACE, 9999) },
    ),
    indexId: fc.oneof({ weight: 5, arbitrary: fc.constant(PK) }, { weight: 4, arbitrary: fc.integer({ min: 1, max: 5 }) }),
    iterator: fc.oneof({ weight: 6, arbitrary: fc.constant(0) }, { weight: 2, arbitrary: fc.integer({ min: 1, max: 7 }) }),
    limit: fc.constantFrom(0xffffffff, 1, 5, 0),
    offset: fc.oneof({ weight: 6, arbitrary: fc.constant(0) }, { weight: 1, arbitrary: fc.constant(1) }),
    key: fc.oneof(
      { weight: 5, arbitrary: fc.array(keyPart, { minLength: 1, maxLength: 1 }) },
      { weight: 3, arbitrary: hits },
      { weight: 2, arbitrary: fc.array(keyPart, { maxLength: 3 }) },
    ),
    schemaVersion: fc.constantFrom(0, 0, current, current + 1),
  });
  return fc.array(one, { minLength: 1, maxLength: 20 }).map((selects) =>
    selects.map((s, i) => ({ frame: encodeRequestFrame(RequestType.SELECT, 100 + i, selectBody(s), s.schemaVersion) })),
  );
}

describe('point select', () => {
  it('replies byte for byte as the general select route', async () => {
    const f = await fixture();
    const node = { box: f.box } as unknown as Node; // NodeBackend reads and selects through node.box only
    const fast = new NodeBackend(node);
    let pointAnswers = 0;
    /** Tuples the point route found, by `space/index`. */
    const found = new Map<string, number>();
    const selectPoint = fast.selectPoint.bind(fast);
    fast.selectPoint = (spaceId: number, indexId: number, key: MpValue[]) => {
      const tuple = selectPoint(spaceId, indexId, key);
      if (tuple !== undefined) pointAnswers++;
      if (tuple !== undefined && tuple !== null) found.set(`${spaceId}/${indexId}`, (found.get(`${spaceId}/${indexId}`) ?? 0) + 1);
      return tuple;
    };
    const general = new NodeBackend(node);
    (general as { selectPoint?: unknown }).selectPoint = undefined;
    const log = createRealLog({ level: 'fatal', pretty: false });
    const fastConnection = new RecordingConnection();
    const generalConnection = new RecordingConnection();
    new ServerSession(1, fastConnection, fast, new Uint8Array(20), log).start(() => undefined);
    new ServerSession(2, generalConnection, general, new Uint8Array(20), log).start(() => undefined);
    let errors = 0;
    let total = 0;
    fc.assert(
      fc.property(selectFrames(f), (frames) => {
        fastConnection.sent.length = 0;
        generalConnection.sent.length = 0;
        for (const { frame } of frames) {
          fastConnection.feed(frame);
          generalConnection.feed(frame);
        }
        expect(fastConnection.sent).toStrictEqual(generalConnection.sent);
        expect(fastConnection.sent).toHaveLength(frames.length); // every select is answered at once
        total += frames.length;
        errors += fastConnection.sent.filter((hex) => hex.slice(10, 12) === '80').length; // type 0x8000 | code
      }),
      { numRuns: 400, seed: 7 },
    );
    // Both routes were exercised: point answers, and errors the point route must raise alike.
    expect(pointAnswers).toBeGreaterThan(total / 20);
    expect(errors).toBeGreaterThan(total / 20);
    for (const where of [`${f.memtxId}/${PK}`, `${f.memtxId}/${HASH}`, `${f.memtxId}/${BY_NAME_ID}`, `${VSPACE}/0`]) {
      expect(found.get(where), `point hits on ${where}`).toBeGreaterThanOrEqual(3);
    }
  });
});
