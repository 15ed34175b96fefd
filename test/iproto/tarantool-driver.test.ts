/**
 * Compatibility with a connector nobody here wrote: npm tarantool-driver 3.1.0 against our server
 * on real TCP. It resolves space and index names through _vspace/_vindex, uses CALL_16 for
 * `call()`, sends no INDEX_BASE (0-based update fields) and reads replies by the `ce`+u32 length.
 */

import { createRequire } from 'node:module';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startRealServer, type RealServer } from './real-server.ts';

interface DriverConnection {
  connect(): Promise<void>;
  disconnect(): void;
  on(event: 'error', handler: (error: Error) => void): void;
  ping(): Promise<boolean>;
  select(space: string | number, index: string | number, limit: number, offset: number, iterator: string, key: unknown[]): Promise<unknown[]>;
  insert(space: string | number, tuple: unknown[]): Promise<unknown[]>;
  replace(space: string | number, tuple: unknown[]): Promise<unknown[]>;
  update(space: string | number, index: string | number, key: unknown[], ops: unknown[]): Promise<unknown[]>;
  delete(space: string | number, index: string | number, key: unknown[]): Promise<unknown[]>;
  upsert(space: string | number, ops: unknown[], tuple: unknown[]): Promise<unknown[]>;
  call(name: string, ...args: unknown[]): Promise<unknown[]>;
  eval(expr: string, ...args: unknown[]): Promise<unknown[]>;
  sql(query: string, bind?: unknown[]): Promise<unknown>;
}
type DriverConstructor = new (options: Record<string, unknown>) => DriverConnection;

const require = createRequire(import.meta.url);
const TarantoolConnection = require('tarantool-driver') as DriverConstructor;
const DRIVER_VERSION = (require('tarantool-driver/package.json') as { version: string }).version;

function open(real: RealServer, credentials: { username?: string; password?: string } = {}): DriverConnection {
  return new TarantoolConnection({ host: real.host, port: real.port, lazyConnect: true, retryStrategy: null, ...credentials });
}

describe(`tarantool-driver ${DRIVER_VERSION} against our server (real TCP)`, () => {
  let real: RealServer;
  beforeAll(async () => {
    real = await startRealServer();
  });
  afterAll(() => real.close());

  it('is the pinned 3.1.0', () => expect(DRIVER_VERSION).toBe('3.1.0'));

  it('connects as guest, pings, and does DML by space and index name', async () => {
    const conn = open(real);
    await conn.connect();
    try {
      expect(await conn.ping()).toBe(true);
      expect(await conn.insert('test', [1, 'one'])).toEqual([[1, 'one']]);
      expect(await conn.insert('test', [2, 'two'])).toEqual([[2, 'two']]);
      expect(await conn.replace('test', [3, 'three'])).toEqual([[3, 'three']]);
      expect(await conn.select('test', 'pk', 10, 0, 'eq', [2])).toEqual([[2, 'two']]);
      expect(await conn.select('test', 0, 10, 0, 'all', [])).toEqual([[1, 'one'], [2, 'two'], [3, 'three']]);
      expect(await conn.select('test', 'value', 10, 0, 'eq', ['three'])).toEqual([[3, 'three']]);
      expect(await conn.select('test', 'pk', 10, 1, 'ge', [1])).toEqual([[2, 'two'], [3, 'three']]);
      // No INDEX_BASE from this driver: field numbers are 0-based, so field 1 is the value.
      expect(await conn.update('test', 'pk', [2], [['=', 1, 'TWO']])).toEqual([[2, 'TWO']]);
      expect(await conn.delete('test', 'pk', [1])).toEqual([[1, 'one']]);
      expect(await conn.upsert('test', [['=', 1, 'ignored']], [4, 'four'])).toEqual([]);
      expect(await conn.upsert('test', [['=', 1, 'FOUR']], [4, 'x'])).toEqual([]);
      expect(await conn.select(512, 0, 100, 0, 'all', [])).toEqual([[2, 'TWO'], [3, 'three'], [4, 'FOUR']]);
    } finally {
      conn.disconnect();
    }
  });

  it('calls functions with CALL_16 tuple shaping and evals', async () => {
    const conn = open(real);
    await conn.connect();
    try {
      expect(await conn.call('sum', 1, 2, 3)).toEqual([[6]]);
      expect(await conn.call('pair')).toEqual([[1, 2]]);
      expect(await conn.call('tuples')).toEqual([[1], [2]]);
      expect(await conn.call('multi')).toEqual([[1], [2, 3]]);
      expect(await conn.call('nothing')).toEqual([]);
      expect(await conn.call('whoami')).toEqual([['guest']]);
      expect(await conn.eval('return ...', 1, 'a')).toEqual([1, 'a']);
      await expect(conn.call('nope')).rejects.toThrow("Procedure 'nope' is not defined");
      await expect(conn.call('boom')).rejects.toThrow('kaboom');
      await expect(conn.select('missing', 0, 1, 0, 'eq', [1])).rejects.toThrow('Cannot read a space name or space is not defined');
      await expect(conn.select(999, 0, 1, 0, 'eq', [1])).rejects.toThrow("Space '999' does not exist");
    } finally {
      conn.disconnect();
    }
  });

  it('runs SQL through EXECUTE (rows keyed by column name, DML as an affected-row count)', async () => {
    const conn = open(real);
    await conn.connect();
    try {
      await conn.replace('test', [10, 'ten']);
      await conn.replace('test', [11, 'eleven']);
      const rows = (await conn.sql('SELECT * FROM "test"')) as Array<Record<string, unknown>>;
      expect(rows).toContainEqual({ ID: 10, VALUE: 'ten' });
      expect(rows).toContainEqual({ ID: 11, VALUE: 'eleven' });
      const count = rows.length;
      expect(await conn.sql('DELETE FROM "test"')).toBe(`Affected row count: ${count}`);
      expect(await conn.sql('SELECT * FROM "test"')).toEqual([]);
      await expect(conn.sql('DROP TABLE x')).rejects.toThrow('Test backend does not support SQL DROP TABLE x');
    } finally {
      conn.disconnect();
    }
  });

  it('authenticates as a user with a password (chap-sha1)', async () => {
    const conn = open(real, { username: 'test', password: 'secret' });
    await conn.connect();
    try {
      expect(await conn.call('whoami')).toEqual([['test']]);
      expect(await conn.call('private')).toEqual([['secret data']]);
    } finally {
      conn.disconnect();
    }
  });

  it('fails to connect with a wrong password, with Tarantool\'s message', async () => {
    const conn = open(real, { username: 'test', password: 'wrong' });
    const errors: string[] = [];
    conn.on('error', (e) => errors.push(e.message));
    await expect(conn.connect()).rejects.toThrow();
    expect(errors).toContain("Incorrect password supplied for user 'test'");
    conn.disconnect();
  });

  it('pipelines many requests on one connection', async () => {
    const conn = open(real);
    await conn.connect();
    try {
      const n = 2_000;
      const results = await Promise.all(Array.from({ length: n }, (_, i) => conn.call('echo', i)));
      expect(results).toEqual(Array.from({ length: n }, (_, i) => [[i]]));
    } finally {
      conn.disconnect();
    }
  });
});
