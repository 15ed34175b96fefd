import { BTreeMap } from '../../core/lib/btree.ts';
import { compareBytes } from '../../core/lib/bytes.ts';
import type { Disk, Durability, Op, RangeOptions, Store } from '../../core/env/disk.ts';
import type { Log, LogFields, LogLevel } from '../../core/env/log.ts';

/** An in-process disk with no latency or faults: for logic tests (crash tests use SimDisk). */
export class MemoryDisk implements Disk {
  readonly stores = new Map<string, BTreeMap<Uint8Array, Uint8Array>>();

  async open(name: string): Promise<Store> {
    let data = this.stores.get(name);
    if (data === undefined) {
      data = new BTreeMap<Uint8Array, Uint8Array>(compareBytes);
      this.stores.set(name, data);
    }
    return new MemoryStore(name, data);
  }

  async list(): Promise<string[]> {
    return [...this.stores.keys()].sort();
  }

  async destroy(name: string): Promise<void> {
    this.stores.delete(name);
  }
}

class MemoryStore implements Store {
  readonly name: string;
  private readonly data: BTreeMap<Uint8Array, Uint8Array>;
  constructor(name: string, data: BTreeMap<Uint8Array, Uint8Array>) {
    this.name = name;
    this.data = data;
  }
  get(key: Uint8Array): Uint8Array | undefined {
    return this.data.get(key);
  }
  *range(options: RangeOptions = {}): Iterable<[Uint8Array, Uint8Array]> {
    const entries: Array<[Uint8Array, Uint8Array]> = [];
    const limit = options.limit ?? Infinity;
    for (const e of this.data.entries({ ...(options.from ? { from: options.from } : {}), ...(options.to ? { to: options.to } : {}), reverse: options.reverse ?? false })) {
      if (entries.length >= limit) break;
      entries.push(e);
    }
    yield* entries;
  }
  write(ops: readonly Op[], _durability: Durability): Promise<void> {
    for (const op of ops) {
      if (op.kind === 'put') this.data.set(op.key, op.value);
      else if (op.kind === 'delete') this.data.delete(op.key);
      else for (const key of [...this.data.keys({ from: op.from, to: op.to })]) this.data.delete(key);
    }
    return Promise.resolve();
  }
  sync(): Promise<void> {
    return Promise.resolve();
  }
}

export interface CapturedLine {
  readonly level: LogLevel;
  readonly message: string;
  readonly fields: LogFields | undefined;
}

/** A Log that keeps its lines for assertions. */
export function captureLog(lines: CapturedLine[] = []): Log & { lines: CapturedLine[] } {
  const log = (level: LogLevel, message: string, fields?: LogFields): void => {
    lines.push({ level, message, fields });
  };
  const self: Log & { lines: CapturedLine[] } = {
    lines,
    level: 'debug',
    enabled: () => true,
    log,
    error: (m, f) => log('error', m, f),
    warn: (m, f) => log('warn', m, f),
    info: (m, f) => log('info', m, f),
    verbose: (m, f) => log('verbose', m, f),
    debug: (m, f) => log('debug', m, f),
    child: () => self,
  };
  return self;
}
