/**
 * Metrics of the daemon in Prometheus' text exposition format (version 0.0.4), written by hand:
 * a handful of gauges read from the node at scrape time, plus counters and latency histograms of
 * iproto requests collected by wrapping the node's iproto backend (InstanceHooks.wrapBackend).
 * The WAL families (`picodata_wal_*`) read the counters the box's WAL writer keeps itself
 * (core/box/wal.ts WalStats); nothing here is computed on the write path.
 *
 * PING and AUTH are answered by the iproto session itself and never reach the backend, so they
 * are not counted here; every data request and call is.
 *
 * Lag metrics are the clusterwide Raft log's (apply and commit lag on every instance, follower
 * lag on the leader); there is no data replication lag until data replication exists. The list
 * and meaning of every family is in runtime-real/OPERATIONS.md ("HTTP").
 */

import { monitorEventLoopDelay, performance, type IntervalHistogram } from 'node:perf_hooks';
import type { MpValue } from '../core/codec/msgpack.ts';
import type { Awaitable, IprotoBackend } from '../core/iproto/backend.ts';
import type { Box } from '../core/box/box.ts';
import { WAL_MODES, WAL_WRITE_DURATION_BUCKETS_MS } from '../core/box/wal.ts';
import { CURRENT_GRADES, TARGET_GRADES } from '../core/cluster/grade.ts';
import type { Node } from '../core/node/node.ts';
import { VERSION } from '../core/api/pico.ts';
import { Histogram } from '../core/lib/histogram.ts';

/** Upper bounds of the request latency buckets, in seconds (the last, +Inf, is implicit). */
export const LATENCY_BUCKETS_SECONDS: readonly number[] = [
  0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10,
];

/** The `le` labels of the WAL write duration buckets: the core's bounds in ms, as seconds. */
const WAL_WRITE_DURATION_LE: readonly string[] = [...WAL_WRITE_DURATION_BUCKETS_MS.map((ms) => String(ms / 1000)), '+Inf'];

const RAFT_ROLES = ['Follower', 'PreCandidate', 'Candidate', 'Leader'] as const;
/** Bucket statuses vshard knows (REFERENCE 5.3). */
const BUCKET_STATUSES = ['active', 'pinned', 'sending', 'receiving', 'sent', 'garbage'] as const;
/** `_bucket` is counted at scrape time; a table bigger than this is not scanned. */
const BUCKETS_SCANNED_MAX = 100_000;

class RequestStats {
  errors = 0;
  readonly latencySeconds = new Histogram(LATENCY_BUCKETS_SECONDS);

  record(seconds: number, failed: boolean): void {
    if (failed) this.errors++;
    this.latencySeconds.record(seconds);
  }
}

/** Request counts and latencies by iproto request type. */
export class IprotoMetrics {
  private readonly stats = new Map<string, RequestStats>();

  /** The backend the server should serve: `backend`, measured. */
  wrap(backend: IprotoBackend): IprotoBackend {
    const wrapped: IprotoBackend = {
      schemaVersion: () => backend.schemaVersion(),
      credentials: (user) => backend.credentials(user),
      select: (request, session) => this.observe('select', () => backend.select(request, session)),
      insert: (request, session) => this.observe(request.kind, () => backend.insert(request, session)),
      update: (request, session) => this.observe('update', () => backend.update(request, session)),
      delete: (request, session) => this.observe('delete', () => backend.delete(request, session)),
      upsert: (request, session) => this.observe('upsert', () => backend.upsert(request, session)),
      call: (request, session) => this.observe(request.kind, () => backend.call(request, session)),
      eval: (request, session) => this.observe('eval', () => backend.eval(request, session)),
      sessionClosed: (session) => backend.sessionClosed?.(session),
    };
    const execute = backend.execute;
    if (execute !== undefined) wrapped.execute = (request, session) => this.observe('execute', () => execute.call(backend, request, session));
    const selectPoint = backend.selectPoint;
    if (selectPoint !== undefined) wrapped.selectPoint = (...args) => this.observePoint(() => selectPoint.apply(backend, args));
    return wrapped;
  }

  /** A point select counts as a select, unless it was not one: then `select` runs and counts. */
  private observePoint<T>(run: () => T | undefined): T | undefined {
    const startMs = performance.now();
    let result: T | undefined;
    try {
      result = run();
    } catch (error) {
      this.record('select', startMs, true);
      throw error;
    }
    if (result !== undefined) this.record('select', startMs, false);
    return result;
  }

  /** Runs one request and records its latency when it settles (synchronously or later). */
  observe<T>(type: string, run: () => Awaitable<T>): Awaitable<T> {
    const startMs = performance.now();
    let result: Awaitable<T>;
    try {
      result = run();
    } catch (error) {
      this.record(type, startMs, true);
      throw error;
    }
    if (!(result instanceof Promise)) {
      this.record(type, startMs, false);
      return result;
    }
    return result.then(
      (value) => {
        this.record(type, startMs, false);
        return value;
      },
      (error: unknown) => {
        this.record(type, startMs, true);
        throw error;
      },
    );
  }

  private record(type: string, startMs: number, failed: boolean): void {
    let stats = this.stats.get(type);
    if (stats === undefined) {
      stats = new RequestStats();
      this.stats.set(type, stats);
    }
    stats.record((performance.now() - startMs) / 1000, failed);
  }

  /** Total requests recorded of `type` (for tests). */
  count(type: string): number {
    return this.stats.get(type)?.latencySeconds.count ?? 0;
  }

  /** Requests of `type` recorded as failed (for tests). */
  errorCount(type: string): number {
    return this.stats.get(type)?.errors ?? 0;
  }

  render(out: MetricsWriter): void {
    const types = [...this.stats.keys()].sort();
    out.help('picodata_iproto_requests_total', 'counter', 'iproto requests served, by request type');
    for (const type of types) out.sample('picodata_iproto_requests_total', { type }, this.stats.get(type)!.latencySeconds.count);
    out.help('picodata_iproto_request_errors_total', 'counter', 'iproto requests answered with an error, by request type');
    for (const type of types) out.sample('picodata_iproto_request_errors_total', { type }, this.stats.get(type)!.errors);
    out.help('picodata_iproto_request_duration_seconds', 'histogram', 'time from decoding a request to its result, by request type');
    for (const type of types) {
      const latency = this.stats.get(type)!.latencySeconds;
      out.histogram('picodata_iproto_request_duration_seconds', { type }, LATENCY_LE, latency.buckets, latency.sum);
    }
  }
}

const LATENCY_LE: readonly string[] = [...LATENCY_BUCKETS_SECONDS.map(String), '+Inf'];

type Labels = Readonly<Record<string, string>>;

/** Accumulates exposition lines; each metric family gets one HELP and one TYPE line. */
export class MetricsWriter {
  private readonly lines: string[] = [];

  help(name: string, type: 'gauge' | 'counter' | 'histogram', text: string): void {
    this.lines.push(`# HELP ${name} ${text}`, `# TYPE ${name} ${type}`);
  }

  sample(name: string, labels: Labels, value: number): void {
    const entries = Object.entries(labels);
    const labelText = entries.length === 0 ? '' : `{${entries.map(([k, v]) => `${k}="${escapeLabel(v)}"`).join(',')}}`;
    this.lines.push(`${name}${labelText} ${formatValue(value)}`);
  }

  gauge(name: string, text: string, value: number, labels: Labels = {}): void {
    this.help(name, 'gauge', text);
    this.sample(name, labels, value);
  }

  counter(name: string, text: string, value: number, labels: Labels = {}): void {
    this.help(name, 'counter', text);
    this.sample(name, labels, value);
  }

  /**
   * The `_bucket`, `_sum` and `_count` samples of one histogram series (its HELP is the
   * caller's): `buckets` are non-cumulative counts, one per `le` label, the last being +Inf.
   */
  histogram(name: string, labels: Labels, le: readonly string[], buckets: readonly number[], sum: number): void {
    let cumulative = 0;
    for (let i = 0; i < le.length; i++) {
      cumulative += buckets[i]!;
      this.sample(`${name}_bucket`, { ...labels, le: le[i]! }, cumulative);
    }
    this.sample(`${name}_sum`, labels, sum);
    this.sample(`${name}_count`, labels, cumulative);
  }

  text(): string {
    return this.lines.join('\n') + '\n';
  }
}

function escapeLabel(value: string): string {
  return value.replace(/\\/g, '\\\\').replace(/\n/g, '\\n').replace(/"/g, '\\"');
}

function formatValue(value: number): string {
  if (Number.isNaN(value)) return 'NaN';
  if (value === Number.POSITIVE_INFINITY) return '+Inf';
  if (value === Number.NEGATIVE_INFINITY) return '-Inf';
  return String(value);
}

/** Everything the daemon exposes on /metrics. */
export class DaemonMetrics {
  readonly iproto = new IprotoMetrics();
  private readonly startedMs = Date.now();
  private readonly eventLoopDelay: IntervalHistogram;

  constructor() {
    this.eventLoopDelay = monitorEventLoopDelay({ resolution: 20 });
    this.eventLoopDelay.enable();
  }

  stop(): void {
    this.eventLoopDelay.disable();
  }

  render(node: Node | null, sessions: number | null): string {
    const out = new MetricsWriter();
    const identity = node?.identity ?? null;
    out.gauge('picodata_info', 'constant 1, labelled with what this instance is', 1, {
      version: VERSION,
      cluster_id: node?.clusterId() ?? '',
      instance_id: identity?.instanceId ?? node?.options.instanceId ?? '',
      replicaset_id: identity?.replicasetId ?? '',
    });
    out.gauge('picodata_instance_online', '1 when this instance finished postjoin and its current grade is Online', node !== null && isOnline(node) ? 1 : 0);
    if (node !== null) {
      renderRaft(out, node);
      renderGrades(out, node);
      renderStorage(out, node);
    }
    if (sessions !== null) out.gauge('picodata_iproto_sessions', 'open iproto connections', sessions);
    this.iproto.render(out);
    this.renderProcess(out);
    return out.text();
  }

  private renderProcess(out: MetricsWriter): void {
    const usage = process.resourceUsage();
    out.help('process_cpu_seconds_total', 'counter', 'user and system CPU time');
    out.sample('process_cpu_seconds_total', {}, (usage.userCPUTime + usage.systemCPUTime) / 1e6);
    out.gauge('process_resident_memory_bytes', 'resident set size', process.memoryUsage.rss());
    out.gauge('process_start_time_seconds', 'start of the process, Unix time', Math.floor(this.startedMs / 1000));
    out.gauge('nodejs_heap_used_bytes', 'V8 heap in use', process.memoryUsage().heapUsed);
    out.gauge('nodejs_eventloop_delay_p99_seconds', 'event loop delay, 99th percentile since start', this.eventLoopDelay.percentile(99) / 1e9);
  }
}

export function isOnline(node: Node): boolean {
  return node.state === 'online' && node.self()?.currentGrade.variant === 'Online';
}

function renderRaft(out: MetricsWriter, node: Node): void {
  const raft = node.raft;
  if (raft === null) return;
  const s = raft.status();
  out.gauge('picodata_raft_id', 'this instance\'s raft id', s.id);
  out.gauge('picodata_raft_term', 'current raft term', s.term);
  out.gauge('picodata_raft_commit_index', 'highest raft log index known committed', s.commit);
  out.gauge('picodata_raft_applied_index', 'highest raft log index applied to the clusterwide tables', s.applied);
  out.gauge('picodata_raft_first_index', 'first raft log index still stored (earlier ones are compacted)', s.firstIndex);
  out.gauge('picodata_raft_last_index', 'last raft log index stored', s.lastIndex);
  out.gauge('picodata_raft_leader_id', 'raft id of the leader this instance knows, 0 when none', s.leaderId);
  out.help('picodata_raft_state', 'gauge', '1 for the raft role this instance has');
  for (const role of RAFT_ROLES) out.sample('picodata_raft_state', { state: role }, s.raftState === role ? 1 : 0);
  out.gauge('picodata_raft_voters', 'voters in the raft configuration', s.voters.length);
  out.gauge('picodata_raft_learners', 'learners in the raft configuration', s.learners.length);
  out.gauge('picodata_raft_apply_lag_entries', 'raft log entries committed but not yet applied here (commit index minus applied index)', Math.max(0, s.commit - s.applied));
  out.gauge('picodata_raft_commit_lag_entries', 'raft log entries a leader reported committed that this instance has not yet received or marked committed (the highest leader commit index heard, minus the commit index)', s.leaderCommit - s.commit);
  if (s.progress !== undefined) {
    out.help('picodata_raft_follower_lag_entries', 'gauge', 'on the leader: raft log entries a follower has not acknowledged yet');
    for (const [id, progress] of [...s.progress].sort((a, b) => a[0] - b[0])) {
      if (id === s.id) continue;
      out.sample('picodata_raft_follower_lag_entries', { raft_id: String(id) }, Math.max(0, s.lastIndex - progress.match));
    }
  }
}

function renderGrades(out: MetricsWriter, node: Node): void {
  const instances = node.tables.instances();
  out.help('picodata_instance_current_grade', 'gauge', '1 for the current grade of each instance in the cluster');
  for (const i of instances) {
    for (const grade of CURRENT_GRADES) out.sample('picodata_instance_current_grade', { instance_id: i.instanceId, grade }, i.currentGrade.variant === grade ? 1 : 0);
  }
  out.help('picodata_instance_target_grade', 'gauge', '1 for the target grade of each instance in the cluster');
  for (const i of instances) {
    for (const grade of TARGET_GRADES) out.sample('picodata_instance_target_grade', { instance_id: i.instanceId, grade }, i.targetGrade.variant === grade ? 1 : 0);
  }
  out.help('picodata_instance_incarnation', 'gauge', 'current grade incarnation of each instance');
  for (const i of instances) out.sample('picodata_instance_incarnation', { instance_id: i.instanceId }, i.currentGrade.incarnation);
  out.help('picodata_instances', 'gauge', 'instances in the cluster by current grade');
  for (const grade of CURRENT_GRADES) out.sample('picodata_instances', { grade }, instances.filter((i) => i.currentGrade.variant === grade).length);
  out.gauge('picodata_replicasets', 'replicasets in the cluster', node.tables.replicasets().length);
}

/** On a replica: how far into its master's WAL it has applied, and how far that is behind. */
function renderReplication(out: MetricsWriter, node: Node): void {
  const cursor = node.replicationCursor;
  if (cursor === null || node.replication?.isMaster !== false) return;
  const labels = { master: cursor.masterId };
  out.help('picodata_replication_cursor_lsn', 'gauge', 'on a replica: the LSN of its master\'s WAL up to which it has applied');
  out.sample('picodata_replication_cursor_lsn', labels, cursor.lsn);
  out.help('picodata_replication_lag_lsn', 'gauge', 'on a replica: its master\'s last committed LSN (as of its latest fetch) minus the replica\'s cursor; rows not replicated count too');
  out.sample('picodata_replication_lag_lsn', labels, Math.max(0, cursor.masterLsn - cursor.lsn));
}

function renderStorage(out: MetricsWriter, node: Node): void {
  out.gauge('picodata_box_committed_lsn', 'LSN of the last local write that reached the WAL mode\'s durability', node.box.committedLsn);
  out.gauge('picodata_box_read_only', '1 while the local storage refuses writes (replica, or not promoted yet)', node.box.readOnly ? 1 : 0);
  out.gauge('picodata_box_schema_version', 'local schema version', node.box.schemaVersion);
  renderWal(out, node.box);
  renderReplication(out, node);
  if (!node.box.hasSpace('_bucket')) return;
  const space = node.box.space('_bucket');
  if (space.len() > BUCKETS_SCANNED_MAX) return;
  const counts = new Map<string, number>(BUCKET_STATUSES.map((s) => [s, 0]));
  for (const tuple of space.select([], { iterator: 'ALL' })) {
    const status = (tuple as MpValue[])[1];
    if (typeof status === 'string') counts.set(status, (counts.get(status) ?? 0) + 1);
  }
  out.help('picodata_buckets', 'gauge', 'vshard buckets stored on this instance, by status');
  for (const [status, count] of counts) out.sample('picodata_buckets', { status }, count);
}

function renderWal(out: MetricsWriter, box: Box): void {
  const stats = box.walStats;
  out.help('picodata_wal_mode', 'gauge', '1 for the WAL mode of the local storage (--wal-mode)');
  for (const mode of WAL_MODES) out.sample('picodata_wal_mode', { mode }, box.walMode === mode ? 1 : 0);
  out.counter('picodata_wal_rows_written_total', 'rows (LSNs) the WAL wrote that reached the WAL mode\'s durability', stats.rowsWritten);
  out.counter('picodata_wal_transactions_written_total', 'transactions the WAL wrote that reached the WAL mode\'s durability', stats.transactionsWritten);
  out.counter('picodata_wal_batches_written_total', 'WAL records written, one per group commit of one or more transactions', stats.batchesWritten);
  out.counter('picodata_wal_bytes_written_total', 'key and value bytes of the WAL records written (the file log\'s framing not counted)', stats.bytesWritten);
  out.counter('picodata_wal_syncs_total', 'WAL records written with fsync durability (each one waited for an fsync)', stats.syncs);
  out.counter('picodata_wal_write_errors_total', 'WAL writes that failed (the batch and every later queued one rolled back)', stats.writeErrors);
  out.gauge('picodata_wal_pending_rows', 'rows submitted to the WAL that have not reached the WAL mode\'s durability yet', box.walPendingRows);
  out.help('picodata_wal_write_duration_seconds', 'histogram', 'time from handing a WAL record to the disk until it reached the WAL mode\'s durability (in fsync mode: the write and its fsync)');
  out.histogram('picodata_wal_write_duration_seconds', {}, WAL_WRITE_DURATION_LE, stats.writeDurationMs.buckets, stats.writeDurationMs.sum / 1000);
}
