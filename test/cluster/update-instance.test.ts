/**
 * `.proc_update_instance`'s advertise address argument (admin guide 7: the address an instance
 * announces at every start), checked before anything else the proc does.
 */

import { describe, expect, it } from 'vitest';
import { addressError } from '../../core/cluster/address.ts';
import type { MpValue } from '../../core/codec/msgpack.ts';
import type { Node } from '../../core/node/node.ts';
import { ProcError } from '../../core/rpc/proc-error.ts';
import { advertiseAddressArg, updateInstanceProc } from '../../core/rpc/update-instance.ts';

/** A node whose every use fails the test: validation must not get that far. */
const untouchable = new Proxy({}, {
  get: (_target, key) => {
    throw new Error(`validation touched node.${String(key)}`);
  },
}) as Node;

describe('addressError (host:port, as the CLI normalizes it)', () => {
  const table: ReadonlyArray<[string, string | undefined]> = [
    ['127.0.0.1:3301', undefined],
    ['localhost:1', undefined],
    ['i2:65535', undefined],
    ['', 'invalid advertise address: empty'],
    ['nowhere', 'invalid advertise address "nowhere": no port'],
    [':3301', 'invalid advertise address ":3301": no host'],
    ['a:b:3301', 'invalid advertise address "a:b:3301": too many colons'],
    ['host:', 'invalid advertise address "host:": bad port ""'],
    ['host:0', 'invalid advertise address "host:0": bad port "0"'],
    ['host:65536', 'invalid advertise address "host:65536": bad port "65536"'],
    ['host:123456', 'invalid advertise address "host:123456": bad port "123456"'],
    ['host:-1', 'invalid advertise address "host:-1": bad port "-1"'],
    ['host:33 01', 'invalid advertise address "host:33 01": bad port "33 01"'],
  ];
  for (const [address, error] of table) {
    it(`${JSON.stringify(address)} -> ${error ?? 'ok'}`, () => expect(addressError(address, 'advertise')).toBe(error));
  }
});

describe('advertiseAddressArg', () => {
  it('nil means no address announced', () => {
    expect(advertiseAddressArg(null)).toBeUndefined();
    expect(advertiseAddressArg(undefined)).toBeUndefined();
  });
  it('a well-formed address passes through unchanged', () => expect(advertiseAddressArg('10.0.0.7:3301')).toBe('10.0.0.7:3301'));
  it('a non-string is refused with ER_PROC_C', () => {
    const error = catchError(() => advertiseAddressArg(3301));
    expect(error).toBeInstanceOf(ProcError);
    expect(error).toMatchObject({ message: 'advertise_address must be a string', code: 102 });
  });
});

describe('.proc_update_instance refuses a bad address before looking at the cluster', () => {
  const call = (address: MpValue): Promise<unknown> =>
    Promise.resolve().then(() => updateInstanceProc.handle(untouchable, ['demo', 'i2', 'Online', null, address]));
  it('malformed', async () => {
    await expect(call('nowhere')).rejects.toThrow(new ProcError('invalid advertise address "nowhere": no port'));
  });
  it('not a string', async () => {
    await expect(call(['i2', 3301])).rejects.toThrow('advertise_address must be a string');
  });
  it('an unknown target grade is still reported first', async () => {
    const result = Promise.resolve().then(() => updateInstanceProc.handle(untouchable, ['demo', 'i2', 'Sleeping', null, 'nowhere']));
    await expect(result).rejects.toThrow('unknown target grade Sleeping');
  });
});

function catchError(fn: () => unknown): unknown {
  try {
    fn();
  } catch (error) {
    return error;
  }
  return undefined;
}
