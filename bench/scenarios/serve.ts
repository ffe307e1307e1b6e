/**
 * The HTTP job service (SPEC §6, `sluice serve`) on the initial-load feed of N Person rows,
 * each part on a fresh database made as the initial-load scenario makes it:
 *
 * 1. status latency under load: while the job imports the uploaded file, autocannon hammers
 *    `GET /v1/import/{token}` from a fixed number of connections; only answers that say
 *    `processing` count. Target: p99 < 50 ms ("status calls stay fast while a million-row
 *    job runs").
 * 2. end to end: from the first byte of the upload to the first poll (every 50 ms) that finds
 *    the job done, against `sluice import` of the same file with the same class and keys, in
 *    alternating order. Target: ≤ 1.15 × the import.
 *
 * Not part of `make bench`: `make bench-http`, or
 *
 *   node dist/bench/scenarios/serve.js      (BENCH_ROWS=N, BENCH_REPEAT=N, BENCH_HTTP_CONNECTIONS=N,
 *                                            BENCH_HTTP_CPU_PROF=DIR)
 */
import { existsSync, mkdirSync, readFileSync, rmSync } from 'node:fs';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { pathToFileURL } from 'node:url';
import { join, resolve } from 'node:path';
import autocannon from 'autocannon';
import { ensureFixtures, wholeNumberFromEnv } from '../../fixtures/generate.js';
import type { Contestant } from '../lib/contestant.js';
import { copyDb, createTemplate, personState, removeDb } from '../lib/db.js';
import { type LatencySummary, type Sample, type Second, percentile, summarize, timeline } from '../lib/latency.js';
import type { LoopSecond } from '../lib/loop-probe.js';
import { type ScenarioOptions, isMain, resolveOptions, runMain } from '../lib/options.js';
import { LOOP_PROBE } from '../lib/paths.js';
import { formatScenario, table, writeResult } from '../lib/report.js';
import { type ScenarioResult, type TargetResult, describeFile, runScenario, settleDisk } from '../lib/scenario.js';
import { type JobStatus, LastLine, SERVE_QUERY, authHeaders, removeServedDb, rowsOf, sluiceServeContestant, startServer, uploadCsv, waitForEnd } from '../lib/serve.js';
import { runSluice, sluiceContestant } from '../lib/sluice.js';

/** SPEC §6: status calls stay fast while a million-row job runs. */
export const STATUS_P99_LIMIT_MS = 50;
/** The service may cost the upload and the bookkeeping, not much more. */
export const SERVE_WALL_LIMIT = 1.15;

export interface ServeOptions extends ScenarioOptions {
  /** connections hammering the status endpoint (default BENCH_HTTP_CONNECTIONS, else 10) */
  connections?: number;
  /** write CPU profiles of the server under load here (default BENCH_HTTP_CPU_PROF; none when unset) */
  cpuProfDir?: string | null;
}

export interface StatusLatency extends LatencySummary {
  connections: number;
  /** answers saying `processing` a second, over the span from the first to the last of them */
  requests_per_s: number;
  /** answers left out: before the job started, after it ended, not 200 */
  excluded: { queued: number; ended: number; not_ok: number };
  /** autocannon's counts over the whole run: failed connections and requests past its timeout */
  errors: number;
  timeouts: number;
  job: {
    state: string;
    /** from the first byte of the upload to the first answer that said the job had ended */
    wall_s: number;
    upload_s: number;
    /** when the job's line last moved: the import had applied its last row */
    last_line_s: number | null;
    results: Record<string, number> | null;
    person_rows: number | null;
  };
  /** the slowest seconds first, at most 5 */
  worst_seconds: Second[];
  timeline: Second[];
  /** event-loop delay (10 ms timer resolution) of the server's main thread and of the polling harness */
  loop_delay: { server_p99_of_seconds_ms: number | null; server_max_ms: number | null; client_p99_ms: number | null; client_max_ms: number | null };
  cpu_profile_dir: string | null;
  error: string | null;
}

export interface ServeResult extends ScenarioResult {
  status_latency: StatusLatency;
  /** sluice serve's rounds: wall time, upload, when the last line was applied, the time after it */
  serve_rounds: Record<string, unknown>[];
}

export interface ServeOutcome {
  result: ServeResult;
  resultPath: string | null;
}

const round3 = (n: number): number => Math.round(n * 1000) / 1000;

const secondsSince = (t: bigint): number => Math.round(Number(process.hrtime.bigint() - t) / 1e6) / 1000;

/** Hammer the status of `token` until an answer says the job has ended. */
interface Hammered {
  /** the harness's own event-loop delay while it polled: a late client makes answers look late */
  client: { p99_ms: number; max_ms: number };
  samples: Sample[];
  excluded: StatusLatency['excluded'];
  errors: number;
  timeouts: number;
  last: JobStatus | null;
  lastLine: LastLine;
  /** when the first answer said the job had ended (autocannon stops at its next tick, up to a second later) */
  endedAt: bigint | null;
}

function hammer(url: string, token: string, connections: number): Promise<Hammered> {
  const samples: Sample[] = [];
  let endedAt: bigint | null = null;
  const lastLine = new LastLine();
  const clientLoop = monitorEventLoopDelay({ resolution: 10 });
  clientLoop.enable();
  const excluded = { queued: 0, ended: 0, not_ok: 0 };
  let last: JobStatus | null = null;
  // autocannon hands each body to onResponse, then emits 'response' with its latency, in the same tick.
  let pending: { status: number; body: JobStatus | null } | null = null;
  return new Promise((resolvePromise, reject) => {
    const instance = autocannon(
      {
        url,
        connections,
        headers: authHeaders(url),
        // Stopped when the job ends; this only bounds a job that never does.
        duration: 3600,
        requests: [
          {
            method: 'GET',
            path: `/v1/import/${token}`,
            onResponse: (status: number, body: string) => {
              let parsed: JobStatus | null = null;
              try {
                parsed = JSON.parse(body) as JobStatus;
              } catch {
                // counted as not ok below
              }
              pending = { status, body: parsed };
            },
          },
        ],
      },
      (err: unknown, result: autocannon.Result) => {
        clientLoop.disable();
        const client = { p99_ms: round3(clientLoop.percentile(99) / 1e6), max_ms: round3(clientLoop.max / 1e6) };
        if (err) reject(err instanceof Error ? err : new Error(String(err)));
        else resolvePromise({ client, samples, excluded, errors: result.errors, timeouts: result.timeouts, last, endedAt, lastLine });
      },
    );
    instance.on('response', (_client: unknown, _status: number, _bytes: number, latencyMs: number) => {
      const p = pending as { status: number; body: JobStatus | null } | null;
      pending = null;
      if (p === null || p.status !== 200 || p.body === null) {
        excluded.not_ok++;
        return;
      }
      last = p.body;
      lastLine.see(p.body);
      if (p.body.state === 'processing') {
        samples.push({ at_ms: performance.timeOrigin + performance.now(), latency_ms: latencyMs, line: p.body.line ?? null });
      } else if (p.body.state === 'queued') {
        excluded.queued++;
      } else {
        excluded.ended++;
        if (endedAt === null) {
          endedAt = process.hrtime.bigint();
          instance.stop();
        }
      }
    });
  });
}

export async function statusLatency(o: { template: string; file: string; rows: number; workDir: string; connections: number; cpuProfDir: string | null; log: (l: string) => void }): Promise<StatusLatency> {
  const db = join(o.workDir, 'serve-latency.db');
  copyDb(o.template, db);
  settleDisk();
  if (o.cpuProfDir) mkdirSync(o.cpuProfDir, { recursive: true });
  const probe = join(o.workDir, 'serve-loop-delay.jsonl');
  rmSync(probe, { force: true });
  const srv = await startServer(db, {
    nodeArgs: ['--import', pathToFileURL(LOOP_PROBE).href, ...(o.cpuProfDir ? ['--cpu-prof', '--cpu-prof-dir', o.cpuProfDir] : [])],
    env: { ...process.env, BENCH_LOOP_PROBE: probe },
  });
  let error: string | null = null;
  let run: Hammered | null = null;
  let end: JobStatus | null = null;
  let wallS = 0;
  let uploadS = 0;
  let lastLineS: number | null = null;
  try {
    o.log(`  status latency: uploading, then ${o.connections} connections on GET /v1/import/{token} while the job runs ...`);
    const started = process.hrtime.bigint();
    const token = await uploadCsv(srv.url, o.file, SERVE_QUERY);
    uploadS = secondsSince(started);
    run = await hammer(srv.url, token, o.connections);
    end = run.last?.state === 'done' || run.last?.state === 'error' ? run.last : await waitForEnd(srv.url, token);
    wallS = Math.round(Number((run.endedAt ?? process.hrtime.bigint()) - started) / 1e6) / 1000;
    if (run.lastLine.at !== null) lastLineS = Math.round(Number(run.lastLine.at - started) / 1e6) / 1000;
    if (end.state !== 'done') error = `the job ended in ${end.state}: ${end.message ?? ''}`;
  } catch (err) {
    error = (err as Error).message;
  } finally {
    const exit = await srv.stop();
    if (error === null && exit !== 0) error = `the server's stop: exit ${exit}: ${srv.stderr().trim().slice(-500)}`;
  }
  let personRows: number | null = null;
  try {
    personRows = personState(db).count;
  } catch (err) {
    error ??= `its database cannot be read back: ${(err as Error).message}`;
  }
  removeServedDb(db);
  const samples = run?.samples ?? [];
  const summary = summarize(samples.map((s) => s.latency_ms));
  let first = Infinity;
  let lastAt = -Infinity;
  for (const s of samples) {
    if (s.at_ms < first) first = s.at_ms;
    if (s.at_ms > lastAt) lastAt = s.at_ms;
  }
  const span = (lastAt - first) / 1000;
  const seconds = timeline(samples);
  const loop = readLoopProbe(probe);
  rmSync(probe, { force: true });
  // The server's seconds laid on the poll's: the probe writes at the end of each of its seconds.
  for (const l of loop) {
    const k = Math.floor((l.at_ms - 1000 - first) / 1000);
    const b = seconds[k];
    if (b && l.max_ms > (b.server_loop_max_ms ?? 0)) b.server_loop_max_ms = round3(l.max_ms);
  }
  const during = loop.filter((l) => l.at_ms >= first && l.at_ms - 1000 <= lastAt);
  return {
    ...summary,
    connections: o.connections,
    requests_per_s: span > 0 ? Math.round(samples.length / span) : 0,
    excluded: run?.excluded ?? { queued: 0, ended: 0, not_ok: 0 },
    errors: run?.errors ?? 0,
    timeouts: run?.timeouts ?? 0,
    job: { state: end?.state ?? 'unknown', wall_s: wallS, upload_s: uploadS, last_line_s: lastLineS, results: end?.results ?? null, person_rows: personRows },
    worst_seconds: [...seconds].sort((a, b) => b.max_ms - a.max_ms).slice(0, 5),
    timeline: seconds,
    loop_delay: {
      server_p99_of_seconds_ms: during.length > 0 ? round3(percentile([...during.map((l) => l.max_ms)].sort((a, b) => a - b), 99)) : null,
      server_max_ms: during.length > 0 ? round3(Math.max(...during.map((l) => l.max_ms))) : null,
      client_p99_ms: run?.client.p99_ms ?? null,
      client_max_ms: run?.client.max_ms ?? null,
    },
    cpu_profile_dir: o.cpuProfDir,
    error,
  };
}

function readLoopProbe(path: string): LoopSecond[] {
  if (!existsSync(path)) return [];
  return readFileSync(path, 'utf8')
    .split('\n')
    .filter((l) => l.trim() !== '')
    .map((l) => JSON.parse(l) as LoopSecond);
}

/** Warnings that make the latency figures not worth reading. */
function latencyWarnings(l: StatusLatency, rows: number): string[] {
  const out: string[] = [];
  if (l.error) out.push(`status latency: ${l.error}`);
  if (l.samples === 0) out.push('status latency: no answer said processing; nothing was measured');
  if (l.job.results && rowsOf({ state: 'done', results: l.job.results }) !== rows) out.push(`status latency: the job accounted for ${rowsOf({ state: 'done', results: l.job.results })} rows, the file has ${rows}`);
  if (l.job.person_rows !== null && l.job.person_rows !== rows) out.push(`status latency: the job left ${l.job.person_rows} Person rows, expected ${rows}`);
  if (l.errors > 0 || l.timeouts > 0) out.push(`status latency: ${l.errors} failed requests, ${l.timeouts} past autocannon's 10 s timeout (not in the percentiles)`);
  if (l.excluded.not_ok > 0) out.push(`status latency: ${l.excluded.not_ok} answers were not 200 with a JSON body`);
  return out;
}

export function formatLatency(l: StatusLatency): string {
  const f = (n: number): string => (Number.isNaN(n) ? '-' : n.toFixed(1));
  const head = ['connections', 'samples', 'req/s', 'p50 ms', 'p90 ms', 'p99 ms', 'max ms'];
  const row = [String(l.connections), l.samples.toLocaleString('en-US'), l.requests_per_s.toLocaleString('en-US'), f(l.p50_ms), f(l.p90_ms), f(l.p99_ms), f(l.max_ms)];
  const out = ['== status latency while the job is processing (GET /v1/import/{token})', table(head, [row], []), ''];
  const j = l.job;
  out.push(`the job under load: ${j.state}; upload ${j.upload_s.toFixed(2)} s, last line applied at ${j.last_line_s === null ? '-' : j.last_line_s.toFixed(2)} s, ended at ${j.wall_s.toFixed(2)} s`);
  out.push(`left out: ${l.excluded.queued} answers before the job started, ${l.excluded.ended} after it ended, ${l.excluded.not_ok} not ok`);
  const worst = l.worst_seconds.filter((s) => s.requests > 0 || s.max_ms > 0).slice(0, 3);
  if (worst.length > 0) {
    const loop = (s: Second): string => (s.server_loop_max_ms === undefined ? '' : `, server loop delay ${s.server_loop_max_ms.toFixed(1)} ms`);
    out.push(`slowest seconds: ${worst.map((s) => `t=${s.t_s} s max ${s.max_ms.toFixed(1)} ms (${s.requests} answers, line ${s.line ?? '-'}${loop(s)})`).join('; ')}`);
  }
  const d = l.loop_delay;
  const ms = (v: number | null): string => (v === null ? '-' : `${v.toFixed(1)} ms`);
  out.push(`event-loop delay while processing: server max ${ms(d.server_max_ms)} (p99 of its seconds' maxima ${ms(d.server_p99_of_seconds_ms)}); polling harness max ${ms(d.client_max_ms)}, p99 ${ms(d.client_p99_ms)}`);
  const idle = l.timeline.filter((s) => s.requests === 0).length;
  if (idle > 0) out.push(`seconds without any answer: ${idle}`);
  if (l.cpu_profile_dir) out.push(`server CPU profiles: ${l.cpu_profile_dir}`);
  return out.join('\n') + '\n';
}

/** Where the server's time went, in each round: the upload, the import, and after its last line. */
function phases(rounds: Record<string, unknown>[]): string {
  const n = (v: unknown): string => (typeof v === 'number' ? v.toFixed(2) : '-');
  return rounds
    .map((p, k) => `sluice serve, round ${k + 1}: upload ${n(p.upload_s)} s, last line applied at ${n(p.last_line_s)} s, then ${n(p.after_last_line_s)} s until done (wall ${n(p.wall_s)} s)\n`)
    .join('');
}

export async function serveScenario(opts: ServeOptions = {}): Promise<ServeOutcome> {
  const o = resolveOptions(opts);
  const repeat = opts.repeat ?? wholeNumberFromEnv('BENCH_REPEAT', 2);
  const connections = opts.connections ?? wholeNumberFromEnv('BENCH_HTTP_CONNECTIONS', 10);
  const profEnv = process.env.BENCH_HTTP_CPU_PROF?.trim();
  const cpuProfDir = opts.cpuProfDir === undefined ? (profEnv ? resolve(profEnv) : null) : opts.cpuProfDir;
  const fx = ensureFixtures({ rows: o.rows, dir: o.fixtureDir, log: o.log });
  const template = join(o.workDir, 'serve-template.db');
  o.log(`serve: ${describeFile(fx.initial, o.rows)}`);
  try {
    createTemplate(template, fx.organizations);
    const latency = await statusLatency({ template, file: fx.initial, rows: o.rows, workDir: o.workDir, connections, cpuProfDir, log: o.log });
    o.log(`  status latency: p99 ${latency.p99_ms} ms over ${latency.samples} answers; the job took ${latency.job.wall_s} s under load`);

    // The same options on both sides: the server cannot take BENCH_SLUICE_ARGS, so the CLI does not either.
    const cli: Contestant = { ...sluiceContestant, label: 'sluice import', run: (input) => runSluice(input, []) };
    // What the server always does beside the import: keep every row's outcome as the job's log.
    const cliLog: Contestant = {
      id: 'sluice_log',
      label: 'sluice import --log',
      usesDb: true,
      async run(input) {
        const log = join(input.workDir, 'serve-import.log');
        try {
          return await runSluice(input, ['--log', log]);
        } finally {
          rmSync(log, { force: true });
        }
      },
    };
    const served = sluiceServeContestant();
    const e2e = await runScenario({
      scenario: 'serve',
      title: 'HTTP service: upload + import vs sluice import',
      file: fx.initial,
      rows: o.rows,
      startDb: template,
      start: 'sluice init (cmdb model) + 1,000 organizations imported with sluice, copied for each run; the server started on its copy beforehand, untimed',
      workDir: o.workDir,
      contestants: [served, cli, cliLog],
      repeat,
      alternate: true,
      expected: { lines: o.rows, created: o.rows, updated: 0, unchanged: 0, errors: 0 },
      expectedPersons: o.rows,
      log: o.log,
      targets: [{ label: `serve wall ≤ ${SERVE_WALL_LIMIT} × import`, value: (r) => r.ratios.serve_vs_import_wall ?? null, limit: SERVE_WALL_LIMIT }],
    });
    const servedResult = e2e.contestants.find((c) => c.id === 'sluice_serve');
    const servedWarnings: string[] = [];
    if (servedResult?.report && servedResult.report.created !== o.rows) servedWarnings.push(`sluice serve's job reports created = ${String(servedResult.report.created)}, expected ${o.rows}`);
    const measurable = latency.error === null && latency.samples > 0;
    const latencyTarget: TargetResult = {
      label: `status p99 < ${STATUS_P99_LIMIT_MS} ms (ms)`,
      value: measurable ? latency.p99_ms : null,
      limit: STATUS_P99_LIMIT_MS,
      met: measurable ? latency.p99_ms < STATUS_P99_LIMIT_MS : null,
    };
    const result: ServeResult = {
      ...e2e,
      start: `${e2e.start}; status latency: one more such run under ${connections} connections of autocannon`,
      targets: [latencyTarget, ...e2e.targets],
      warnings: [...latencyWarnings(latency, o.rows), ...servedWarnings, ...e2e.warnings],
      status_latency: latency,
      serve_rounds: served.reports,
    };
    o.print(formatLatency(latency) + '\n' + formatScenario(result) + phases(served.reports));
    const resultPath = o.resultsDir === null ? null : writeResult(o.resultsDir, result);
    if (resultPath) o.log(`wrote ${resultPath}`);
    return { result, resultPath };
  } finally {
    removeDb(template);
  }
}

if (isMain(import.meta.url)) runMain(() => serveScenario());
