import { describe, expect, it } from 'vitest';
import { normalizeAddress, resolveRunOptions, RunOptionsError } from '../../runtime-real/run-options.ts';

describe('picodata run options', () => {
  it('normalizes the address forms', () => {
    // A bare number is a port (Picodata 22.11 would take it for a host: see normalizeAddress).
    expect(normalizeAddress('3302', 'listen')).toBe('localhost:3302');
    expect(normalizeAddress(' 1234 ', 'peer')).toBe('localhost:1234');
    expect(() => normalizeAddress('70000', 'listen')).toThrow(/bad port "70000"/);
    expect(normalizeAddress(':1234', 'listen')).toBe('localhost:1234');
    expect(normalizeAddress('host', 'listen')).toBe('host:3301');
    expect(normalizeAddress('127.0.0.1:3302', 'listen')).toBe('127.0.0.1:3302');
    expect(() => normalizeAddress('h:70000', 'listen')).toThrow(RunOptionsError);
    expect(() => normalizeAddress('a:b:1', 'listen')).toThrow(/too many colons/);
  });

  it('uses the documented defaults', () => {
    const o = resolveRunOptions({}, {});
    expect(o).toMatchObject({
      clusterId: 'demo',
      dataDir: '.',
      listen: 'localhost:3301',
      advertise: 'localhost:3301',
      peers: ['localhost:3301'],
      logLevel: 'info',
      initReplicationFactor: 1,
      failureDomain: {},
    });
    expect(o.instanceId).toBeUndefined();
  });

  it('reads PICODATA_* variables, and flags win over them', () => {
    const env = { PICODATA_LISTEN: ':3302', PICODATA_PEER: 'a:1,b:2', PICODATA_FAILURE_DOMAIN: 'planet=Earth', PICODATA_CLUSTER_ID: 'x' };
    const fromEnv = resolveRunOptions({}, env);
    expect(fromEnv).toMatchObject({ listen: 'localhost:3302', peers: ['a:1', 'b:2'], failureDomain: { PLANET: 'EARTH' }, clusterId: 'x' });
    const flags = resolveRunOptions({ listen: '127.0.0.1:4000', clusterId: 'y', peer: ['c:3'] }, env);
    expect(flags).toMatchObject({ listen: '127.0.0.1:4000', advertise: '127.0.0.1:4000', clusterId: 'y', peers: ['c:3'] });
  });

  it('reads a variable for every option of the admin guide', () => {
    const env = {
      PICODATA_CLUSTER_ID: 'c', PICODATA_DATA_DIR: '/srv/i9', PICODATA_INSTANCE_ID: 'i9', PICODATA_LISTEN: '0.0.0.0:4001',
      PICODATA_ADVERTISE: '10.0.0.9', PICODATA_PEER: '10.0.0.1:3301', PICODATA_FAILURE_DOMAIN: 'dc=msk', PICODATA_REPLICASET_ID: 'r7',
      PICODATA_LOG_LEVEL: 'verbose', PICODATA_INIT_REPLICATION_FACTOR: '3', PICODATA_SCRIPT: 'app.mjs', PICODATA_HTTP_LISTEN: '8081',
    };
    expect(resolveRunOptions({}, env)).toEqual({
      clusterId: 'c', dataDir: '/srv/i9', instanceId: 'i9', listen: '0.0.0.0:4001', advertise: '10.0.0.9:3301', peers: ['10.0.0.1:3301'],
      failureDomain: { DC: 'MSK' }, replicasetId: 'r7', logLevel: 'verbose', initReplicationFactor: 3, script: 'app.mjs',
      httpListen: 'localhost:8081', walMode: 'write', checkpointIntervalSeconds: 3600, forceRecovery: false,
    });
    expect(() => resolveRunOptions({}, { PICODATA_INIT_REPLICATION_FACTOR: 'two' })).toThrow(/replication factor "two"/);
    expect(() => resolveRunOptions({}, { PICODATA_LOG_LEVEL: 'loud' })).toThrow('invalid log level "loud"');
  });

  it('takes --wal-mode and --checkpoint-interval, with their variables and defaults', () => {
    expect(resolveRunOptions({}, {})).toMatchObject({ walMode: 'write', checkpointIntervalSeconds: 3600, script: undefined, httpListen: undefined });
    expect(resolveRunOptions({}, { PICODATA_WAL_MODE: 'fsync', PICODATA_CHECKPOINT_INTERVAL: '0' })).toMatchObject({ walMode: 'fsync', checkpointIntervalSeconds: 0 });
    expect(resolveRunOptions({ walMode: 'none', checkpointInterval: '2.5' }, { PICODATA_WAL_MODE: 'fsync' })).toMatchObject({ walMode: 'none', checkpointIntervalSeconds: 2.5 });
    expect(resolveRunOptions({ httpListen: ':8081', script: 'app.mjs' }, {})).toMatchObject({ httpListen: 'localhost:8081', script: 'app.mjs' });
    expect(() => resolveRunOptions({ walMode: 'sometimes' }, {})).toThrow('invalid wal mode "sometimes"');
    expect(() => resolveRunOptions({ checkpointInterval: '-1' }, {})).toThrow('invalid checkpoint interval');
    expect(() => resolveRunOptions({ clusterId: ' ' }, {})).toThrow('invalid cluster id: empty');
  });

  it('takes --force-recovery and PICODATA_FORCE_RECOVERY (off by default)', () => {
    expect(resolveRunOptions({}, {}).forceRecovery).toBe(false);
    expect(resolveRunOptions({ forceRecovery: true }, {}).forceRecovery).toBe(true);
    expect(resolveRunOptions({}, { PICODATA_FORCE_RECOVERY: 'true' }).forceRecovery).toBe(true);
    expect(resolveRunOptions({}, { PICODATA_FORCE_RECOVERY: '1' }).forceRecovery).toBe(true);
    expect(resolveRunOptions({}, { PICODATA_FORCE_RECOVERY: 'no' }).forceRecovery).toBe(false);
  });

  it('rejects bad values with a clear message', () => {
    expect(() => resolveRunOptions({ logLevel: 'loud' }, {})).toThrow('invalid log level "loud"');
    expect(() => resolveRunOptions({ initReplicationFactor: '0' }, {})).toThrow(/replication factor/);
    expect(() => resolveRunOptions({ failureDomain: 'planet' }, {})).toThrow(/KEY=VALUE/);
  });
});
