/**
 * The HTTP job service (SPEC §6): uploads are streamed to a spool file and queued as jobs
 * that JobRunner applies one at a time. A thin adapter: the options are those of
 * `sluice import`, checked by the same code, and the run is the engine's.
 */
import { createHash, randomBytes } from 'node:crypto';
import { createWriteStream, existsSync, mkdirSync, readdirSync, renameSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { PassThrough, Readable, Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import multipart from '@fastify/multipart';
import Fastify, { type FastifyInstance, type FastifyReply, type FastifyRequest, LogController } from 'fastify';
import { SluiceError, type SluiceErrorCode, asSluiceError } from '../base/errors.js';
import type { ImportOptions, RawImportOptions } from '../engine/options.js';
import type { ExportOptions } from '../export/options.js';
import { openReader } from '../export/reader.js';
import { openAnyExport } from '../export/run.js';
import { csvLine } from '../report/csv.js';
import { detailsHeader, detailsRow, jsonHead, jsonRow, jsonTail } from '../report/format.js';
import type { RowBatches, RunSummary } from '../report/types.js';
import { type Job, type JobResults, JobStore, NO_RESULTS } from './jobs.js';
import { JobRunner } from './runner.js';
import { hasLog, keptRunRows, logPath, UPLOAD_SUFFIX, uploadPath } from './joblog.js';
import { type BundleJob, bundleCsvLog, bundleJsonLog, checkBundleUpload, isBundleSummary } from './bundle-job.js';
import { type Principal, authorize } from './tokens.js';
import { PageAssets, isPagePath } from './static.js';
import { type WizardContext, changesOf, classesOf, jobsOf, preview } from './wizard.js';

/** What an upload is, for the options that depend on it (the input format). */
export interface UploadInfo {
  fileName: string;
  contentType: string;
}

export interface ServiceOptions {
  /** the data database: an SQLite file, or a PostgreSQL URL */
  db: string;
  /** the database as messages show it (a URL with its password masked); default `db` */
  shown?: string;
  spoolDir: string;
  /** how messages name the spool when it was given (`--spool`); null when it is the SQLite file's F.spool */
  spoolOption?: string | null;
  /** bytes */
  maxUpload: number;
  maxQueue: number;
  /**
   * The import options of an upload, from its fields (query parameters or form fields), as
   * `sluice import` checks them; for a feed of the data source `source`, as `sluice sync` does.
   */
  importOptions(fields: [string, string][], upload: UploadInfo, source: string | null): ImportOptions | Promise<ImportOptions>;
  /** The options for every file of a bundle (a form with several files), from its fields, as `sluice import --bundle` checks them. */
  bundleOptions(fields: [string, string][]): RawImportOptions;
  /** The options of an export of `className`, from its query parameters, as `sluice export` checks them. */
  exportOptions(className: string, fields: [string, string][]): ExportOptions;
  /** false: every request is an admin's (--insecure-no-auth) */
  auth: boolean;
  /** how long a finished job, its log and its upload are kept (ms) */
  retentionMs: number;
  log(message: string): void;
  /** where each request is logged as one JSON line; none when absent */
  requestLog?: NodeJS.WritableStream;
  /** the OpenAPI document served at /v1/openapi.json (openapi.ts) */
  openapi: Record<string, unknown>;
}

/** The most files one form may hold: a bundle's. */
export const MAX_BUNDLE_FILES = 64;

/** Where a form's files after its first wait until the form has been read (TOKEN.upload.parts/). */
const PARTS_SUFFIX = '.parts';

/** Routes anyone may call: the health check and the API's description. */
const OPEN_ROUTES = new Set(['/v1/health', '/v1/openapi.json']);

/** How often finished jobs past --retention are looked for, besides at start and after each job. */
const SWEEP_EVERY_MS = 60 * 60 * 1000;

declare module 'fastify' {
  interface FastifyRequest {
    /** who sent it: set by the authentication hook on every route but OPEN_ROUTES */
    principal: Principal | null;
  }
}

const NO_AUTH: Principal = { name: '(no auth)', role: 'admin', classes: null };

/** A request's path for the log: no query string (option values), a job's token cut to 8 characters. */
function loggedPath(url: string): string {
  const path = url.split('?')[0] ?? '';
  return path.replace(/[0-9a-f]{32}/g, (t) => `${t.slice(0, 8)}…`).slice(0, 200);
}

/** One JSON line a request, once answered: who asked what, and the answer's status and time. Never a header or a query value. */
class RequestLog extends LogController {
  override incomingRequest(): void {}

  override requestCompleted(error: Error | null | undefined, req: FastifyRequest, reply: FastifyReply): void {
    const line = { method: req.method, path: loggedPath(req.url), status: reply.statusCode, ms: Math.round(reply.elapsedTime), token: req.principal?.name ?? null };
    if (error) req.log.error({ ...line, error: error.message }, 'request failed');
    else req.log.info(line, 'request');
  }
}

/** Content types read as the file itself; anything else but a multipart form is refused. */
const RAW_TYPES = ['text/csv', 'text/tab-separated-values', 'text/plain', 'application/json', 'application/x-ndjson', 'application/octet-stream'];

/** Seconds a client told to wait for a full queue waits before trying again. */
const RETRY_AFTER_S = 10;

const STATUS: Partial<Record<SluiceErrorCode, number>> = {
  E_USAGE: 400,
  E_HEADER: 400,
  E_MODEL: 400,
  E_NOT_FOUND: 404,
  E_TOO_LARGE: 413,
  E_QUEUE_FULL: 429,
  E_AUTH: 401,
  E_FORBIDDEN: 403,
};

function notFound(token: string): SluiceError {
  return new SluiceError('E_NOT_FOUND', `no import job has the token "${token.slice(0, 64)}"`);
}

function tooLarge(max: number): SluiceError {
  return new SluiceError('E_TOO_LARGE', `the upload is larger than the server's --max-upload (${max} bytes)`, { option: '--max-upload' });
}

/**
 * Counts and hashes the bytes on their way to the spool: each file of a form passes through
 * a part() of the one meter. Past `max` in all, it keeps reading but writes nothing more.
 */
class Meter {
  bytes = 0;
  overflow = false;
  private readonly hash = createHash('sha256');

  constructor(private readonly max: number) {}

  part(): Transform {
    return new Transform({
      transform: (chunk: Buffer, _enc: BufferEncoding, cb: (err?: Error | null, data?: Buffer) => void): void => {
        this.bytes += chunk.length;
        if (this.bytes > this.max) this.overflow = true;
        if (this.overflow) return cb();
        this.hash.update(chunk);
        cb(null, chunk);
      },
    });
  }

  digest(): string {
    return this.hash.digest('hex');
  }
}

export class Service {
  readonly app: FastifyInstance;
  readonly store: JobStore;
  readonly runner: JobRunner;

  private sweeper: NodeJS.Timeout | null = null;
  /** the operations the service answers, as "GET /v1/import/{token}" (the OpenAPI document's form) */
  readonly operations: string[] = [];

  constructor(private readonly o: ServiceOptions) {
    this.store = new JobStore(o.spoolDir, o.spoolOption ?? null);
    this.runner = new JobRunner(o.db, this.store, { log: o.log, ended: () => this.sweep() });
    // While it closes, requests on connections already open are served (an upload queues for the next start)
    // rather than refused with the framework's own 503 body, which is not the service's error shape.
    this.app = Fastify({
      logger: o.requestLog ? { level: 'info', stream: o.requestLog, base: { service: 'sluice serve' } } : false,
      logController: new RequestLog(),
      return503OnClosing: false,
    });
    this.routes();
  }

  /**
   * Forget the jobs that ended more than --retention ago, with their logs and uploads.
   * `now` is the time to count from (ms).
   */
  sweep(now = Date.now()): number {
    const tokens = this.store.expire(new Date(now - this.o.retentionMs).toISOString());
    for (const t of tokens) {
      // A bundle's upload and log are directories.
      rmSync(logPath(this.o.spoolDir, t), { force: true, recursive: true });
      rmSync(uploadPath(this.o.spoolDir, t), { force: true, recursive: true });
    }
    if (tokens.length > 0) this.o.log(`${tokens.length} finished job${tokens.length === 1 ? '' : 's'} past --retention removed, with ${tokens.length === 1 ? 'its log' : 'their logs'}`);
    return tokens.length;
  }

  /** Listen; jobs a previous server left queued run, and the one it died in is reported interrupted. */
  async start(host: string, port: number): Promise<string> {
    this.store.claim(this.o.shown ?? this.o.db);
    const orphans = await this.store.interruptOrphans((change) => orphanEnd(this.o.db, change));
    for (const t of orphans) this.o.log(`job ${t.slice(0, 8)}… was interrupted by the server's stop`);
    // Uploads no queued job will read: those of the interrupted jobs, and any cut short by the stop.
    const queued = new Set(this.store.queuedTokens());
    for (const f of readdirSync(this.o.spoolDir)) {
      const stale = f.endsWith(UPLOAD_SUFFIX + PARTS_SUFFIX) || (f.endsWith(UPLOAD_SUFFIX) && !queued.has(f.slice(0, -UPLOAD_SUFFIX.length)));
      if (stale) rmSync(join(this.o.spoolDir, f), { force: true, recursive: true });
    }
    let address: string;
    try {
      address = await this.app.listen({ host, port });
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code === 'EADDRINUSE' || code === 'EACCES' || code === 'EADDRNOTAVAIL' || code === 'ENOTFOUND') {
        const why = code === 'EADDRINUSE' ? 'the port is in use' : code === 'EACCES' ? 'permission denied' : 'no such address here';
        throw new SluiceError('E_USAGE', `cannot listen on ${host} port ${port}: ${why} (see --host, --port)`, { option: '--port', cause: err });
      }
      throw err;
    }
    this.sweep();
    this.sweeper = setInterval(() => this.sweep(), SWEEP_EVERY_MS);
    this.sweeper.unref();
    this.runner.kick();
    return address;
  }

  /** Stop taking requests, interrupt the running job (rolled back), and close the job table. */
  async stop(): Promise<void> {
    if (this.sweeper) clearInterval(this.sweeper);
    const closing = this.app.close();
    await this.runner.stop();
    await closing;
    this.store.close();
  }

  private routes(): void {
    const app = this.app;
    app.addHook('onRoute', (r) => {
      for (const m of [r.method].flat()) if (m !== 'HEAD') this.operations.push(`${m} ${r.url.replace(/:(\w+)/g, '{$1}')}`);
    });
    app.removeAllContentTypeParsers();
    // The body is read by the handler, as a stream to the spool file.
    app.addContentTypeParser('*', (_req: FastifyRequest, _payload: unknown, done: (err: Error | null, body?: unknown) => void) => done(null));
    void app.register(multipart, { limits: { fileSize: this.o.maxUpload, files: MAX_BUNDLE_FILES, fields: 100, fieldSize: 64 * 1024, parts: 100 + MAX_BUNDLE_FILES } });

    app.decorateRequest('principal', null);
    app.addHook('onRequest', async (req) => {
      const path = req.url.split('?')[0] ?? '';
      if (OPEN_ROUTES.has(path) || isPagePath(path)) return;
      req.principal = this.o.auth ? this.store.tokens.authenticate(req.headers.authorization) : NO_AUTH;
    });
    app.setErrorHandler((err: Error & { statusCode?: number; code?: string }, _req, reply) => this.sendError(reply, err));
    app.setNotFoundHandler((req, reply) => this.sendError(reply, new SluiceError('E_NOT_FOUND', `no route ${req.method} ${req.url.split('?')[0] ?? ''} (see docs/serve.md)`)));

    app.get('/v1/health', async () => ({ status: 'ok', queued: this.store.queued() }));
    app.get('/v1/openapi.json', async () => this.o.openapi);
    app.post('/v1/import', (req, reply) => this.upload(req, reply, null));
    app.get<{ Params: { token: string } }>('/v1/import/:token', async (req) => this.state(this.job(req.params.token, req, 'read')));
    app.get<{ Params: { token: string }; Querystring: { format?: string } }>('/v1/import/:token/log', (req, reply) => this.log(this.job(req.params.token, req, 'read'), req.query.format, reply));
    app.delete<{ Params: { token: string } }>('/v1/import/:token', async (req) => {
      const token = req.params.token;
      const job = this.job(token, req, 'write');
      const done = this.runner.cancel(token);
      if (done === 'removed') return { state: 'removed' };
      if (done === 'cancelling') return { state: 'cancelling' };
      throw new SluiceError('E_USAGE', `job ${token} has already ended (${job.state}); there is nothing to cancel`);
    });
    app.post<{ Params: { name: string } }>('/v1/sources/:name/sync', (req, reply) => this.upload(req, reply, req.params.name));
    app.get<{ Params: { class: string } }>('/v1/export/:class', (req, reply) => this.export(req, reply, req.params.class));
    app.post<{ Params: { n: string } }>('/v1/changes/:n/undo', (req, reply) => this.undo(req, reply, req.params.n));
    this.wizardRoutes();
  }

  /** The import wizard: its page, and the calls it makes beside the job API (wizard.ts). */
  private wizardRoutes(): void {
    const app = this.app;
    const page = new PageAssets();
    const w: WizardContext = { db: this.o.db, store: this.store, runner: this.runner, importOptions: (fields, upload) => this.o.importOptions(fields, upload, null) };
    app.get('/', (_req, reply) => page.send(reply, 'index.html'));
    app.get<{ Params: { file: string } }>('/ui/:file', (req, reply) => page.send(reply, req.params.file));
    app.get('/v1/classes', (req) => classesOf(this.o.db, req.principal as Principal));
    app.get('/v1/jobs', async (req) => jobsOf(w, req.principal as Principal, queryFields(req.url), (t) => existsSync(logPath(this.o.spoolDir, t))));
    app.get('/v1/changes', (req) => changesOf(this.o.db, req.principal as Principal, queryFields(req.url)));
    app.post('/v1/preview', async (req, reply) => {
      const length = Number(req.headers['content-length']);
      if (Number.isFinite(length) && length > this.o.maxUpload) {
        void reply.header('connection', 'close');
        throw tooLarge(this.o.maxUpload);
      }
      if (req.isMultipart()) return preview(w, req, null, '');
      const contentType = (req.headers['content-type'] ?? 'text/csv').split(';')[0]?.trim().toLowerCase() ?? '';
      if (!RAW_TYPES.includes(contentType)) {
        void reply.header('connection', 'close');
        throw new SluiceError('E_USAGE', `content type "${contentType.slice(0, 80)}" is not accepted (valid: multipart/form-data, ${RAW_TYPES.join(', ')})`);
      }
      try {
        return await preview(w, req, queryFields(req.url), contentType);
      } catch (err) {
        // Refused before the body was read (a bad option): the connection closes rather than reading the rest.
        void reply.header('connection', 'close');
        throw err;
      }
    });
  }

  private sendError(reply: FastifyReply, err: Error & { statusCode?: number; code?: string }): FastifyReply {
    let e: SluiceError;
    let status: number;
    if (err.code === 'FST_REQ_FILE_TOO_LARGE') {
      e = tooLarge(this.o.maxUpload);
      status = 413;
    } else if (err instanceof SluiceError) {
      e = err;
      status = STATUS[e.code] ?? 500;
    } else if (typeof err.statusCode === 'number' && err.statusCode >= 400 && err.statusCode < 500) {
      // The framework's own refusals: an unsupported media type, a malformed form.
      e = new SluiceError(err.statusCode === 413 ? 'E_TOO_LARGE' : err.statusCode === 404 ? 'E_NOT_FOUND' : 'E_USAGE', err.message);
      status = err.statusCode;
    } else {
      e = asSluiceError(err);
      status = STATUS[e.code] ?? 500;
    }
    if (status >= 500) {
      this.o.log(`internal error: ${e.message}`);
      if (process.env.SLUICE_DEBUG && err.stack) this.o.log(err.stack);
      e = new SluiceError(e.code === 'E_DB' ? 'E_DB' : 'E_INTERNAL', e.code === 'E_DB' ? e.message : 'internal error; the server log says more');
    }
    if (status === 429) void reply.header('retry-after', String(RETRY_AFTER_S));
    if (status === 401) void reply.header('www-authenticate', 'Bearer realm="sluice"');
    return reply.code(status).send({ error: { code: e.code, message: e.message } });
  }

  /** The job a token names, when the request's token may see it (`read`) or act on it (`write`). */
  private job(token: string, req: FastifyRequest, need: 'read' | 'write'): Job {
    const job = this.store.get(token);
    if (job === null) throw notFound(token);
    const p = req.principal as Principal;
    // Another class's job is not found rather than forbidden: its token says nothing to this one.
    // A bundle's job is the token's when all its classes are.
    if (p.classes !== null && !jobClasses(job).every((c) => (p.classes as string[]).includes(c))) throw notFound(token);
    authorize(p, need, null);
    return job;
  }

  private state(job: Job): Record<string, unknown> {
    switch (job.state) {
      case 'queued':
        return { state: 'queued' };
      case 'processing':
        return { state: 'processing', line: this.runner.lineOf(job.token) ?? 0, results: this.runner.resultsOf(job.token) ?? NO_RESULTS };
      case 'done':
        return {
          state: 'done',
          results: job.results ?? NO_RESULTS,
          ...(job.message !== null ? { message: job.message } : {}),
          ...(existsSync(logPath(this.o.spoolDir, job.token)) ? { logfile: `/v1/import/${job.token}/log` } : {}),
        };
      case 'error':
        return {
          state: 'error',
          message: job.message ?? 'failed',
          results: job.results ?? NO_RESULTS,
          ...(existsSync(logPath(this.o.spoolDir, job.token)) ? { logfile: `/v1/import/${job.token}/log` } : {}),
        };
    }
  }

  private checkQueue(): void {
    if (this.store.queued() >= this.o.maxQueue) {
      throw new SluiceError('E_QUEUE_FULL', `the queue holds ${this.o.maxQueue} jobs (the server's --max-queue); try again later`, { option: '--max-queue' });
    }
  }

  private async upload(req: FastifyRequest, reply: FastifyReply, source: string | null): Promise<FastifyReply> {
    const token = randomBytes(16).toString('hex');
    const spool = uploadPath(this.o.spoolDir, token);
    const principal = req.principal as Principal;
    let bodyRead = false;
    try {
      authorize(principal, 'write', null);
      this.checkQueue();
      const length = Number(req.headers['content-length']);
      if (!req.isMultipart() && Number.isFinite(length) && length > this.o.maxUpload) throw tooLarge(this.o.maxUpload);
      let fields: [string, string][];
      let info: UploadInfo;
      let meter: Meter;
      let options: ImportOptions | null = null;
      if (req.isMultipart()) {
        let more: UploadInfo[];
        ({ fields, info, meter, more } = await this.multipartUpload(req, spool));
        if (more.length > 0) {
          bodyRead = true;
          if (source !== null) throw new SluiceError('E_USAGE', `a data source's feed is one file; the form holds ${more.length + 1} "file" parts`);
          await this.queueBundle(token, spool, fields, [info, ...more], meter, principal);
          this.runner.kick();
          return reply.code(202).send({ token });
        }
      } else {
        const contentType = (req.headers['content-type'] ?? 'text/csv').split(';')[0]?.trim().toLowerCase() ?? '';
        if (!RAW_TYPES.includes(contentType)) {
          throw new SluiceError('E_USAGE', `content type "${contentType.slice(0, 80)}" is not accepted (valid: multipart/form-data, ${RAW_TYPES.join(', ')})`);
        }
        fields = queryFields(req.url);
        info = { fileName: 'upload', contentType };
        // Bad options, and a class the token may not touch, are refused before the body is read.
        options = await this.o.importOptions(fields, info, source);
        authorize(principal, 'write', options.className);
        meter = new Meter(this.o.maxUpload);
        await pipeline(req.raw, meter.part(), createWriteStream(spool, { flags: 'wx', mode: 0o600 }));
      }
      bodyRead = true;
      if (meter.overflow) throw tooLarge(this.o.maxUpload);
      if (options === null) {
        options = await this.o.importOptions(fields, info, source);
        authorize(principal, 'write', options.className);
      }
      this.checkQueue();
      // The job runs on the server's database: its options keep no path or URL (nor a password in one).
      const stored: Partial<ImportOptions> = { ...options, input: undefined, db: undefined };
      this.store.add({ token, options: JSON.stringify(stored), fileName: info.fileName, bytes: meter.bytes, sha256: meter.digest() });
      this.o.log(`job ${token.slice(0, 8)}… queued: ${meter.bytes} bytes into ${options.className}`);
    } catch (err) {
      rmSync(spool, { force: true, recursive: true });
      rmSync(spool + PARTS_SUFFIX, { force: true, recursive: true });
      // Refused before the body was read: the connection closes after the answer instead of reading the rest.
      if (!bodyRead) void reply.header('connection', 'close');
      throw err;
    }
    this.runner.kick();
    return reply.code(202).send({ token });
  }

  /**
   * A multipart form: its `file` part streamed to the spool, its other fields kept as options.
   * Several `file` parts are a bundle: the first goes to the spool file, the others to
   * TOKEN.upload.parts/ (`more`), until queueBundle puts them together.
   */
  private async multipartUpload(req: FastifyRequest, spool: string): Promise<{ fields: [string, string][]; info: UploadInfo; meter: Meter; more: UploadInfo[] }> {
    const fields: [string, string][] = [];
    let info: UploadInfo | null = null;
    const more: UploadInfo[] = [];
    const meter = new Meter(this.o.maxUpload);
    for await (const part of req.parts()) {
      if (part.type === 'file') {
        if (part.fieldname !== 'file') {
          part.file.resume();
          throw new SluiceError('E_USAGE', `form field "${part.fieldname.slice(0, 60)}" holds a file; send the file as the field "file" (several "file" fields make a bundle)`);
        }
        const file = { fileName: part.filename || 'upload', contentType: part.mimetype };
        let dest = spool;
        if (info === null) info = file;
        else {
          mkdirSync(spool + PARTS_SUFFIX, { recursive: true, mode: 0o700 });
          dest = join(spool + PARTS_SUFFIX, String(more.length));
          more.push(file);
        }
        // One meter for the form: --max-upload bounds all its files together, and the job's hash covers them in order.
        await pipeline(part.file, meter.part(), createWriteStream(dest, { flags: 'wx', mode: 0o600 }));
        if ((part.file as { truncated?: boolean }).truncated) meter.overflow = true;
      } else {
        fields.push([part.fieldname, String(part.value)]);
      }
    }
    if (info === null) throw new SluiceError('E_USAGE', 'the form has no "file" field: send the file to import as the field "file"', { option: '--file' });
    return { fields, info, meter, more };
  }

  /**
   * A form with several files: a bundle (docs/bundles.md). Its files go into a directory
   * under their own names; its classes, options, headers and order are checked, and every
   * class must be the token's, before it is queued.
   */
  private async queueBundle(token: string, spool: string, fields: [string, string][], files: UploadInfo[], meter: Meter, principal: Principal): Promise<void> {
    if (meter.overflow) throw tooLarge(this.o.maxUpload);
    const names = new Set<string>();
    for (const f of files) {
      const n = f.fileName;
      if (n === 'upload' || n === '' || n.length > 255 || /[/\\]/.test(n) || n.includes('\u0000') || n.startsWith('.')) {
        throw new SluiceError('E_USAGE', `a bundle's "file" parts need file names such as Person.csv or bundle.json (without a directory, not starting with a dot); one has ${n === 'upload' ? 'none' : `"${n.slice(0, 60)}"`}`);
      }
      if (names.has(n)) throw new SluiceError('E_USAGE', `two "file" parts have the name "${n.slice(0, 60)}"; a bundle's files need names of their own`);
      names.add(n);
    }
    const raw = this.o.bundleOptions(fields);
    const dir = spool + '.d';
    mkdirSync(dir, { mode: 0o700 });
    try {
      renameSync(spool, join(dir, (files[0] as UploadInfo).fileName));
      files.slice(1).forEach((f, k) => renameSync(join(spool + PARTS_SUFFIX, String(k)), join(dir, f.fileName)));
      renameSync(dir, spool);
    } finally {
      rmSync(dir, { force: true, recursive: true });
      rmSync(spool + PARTS_SUFFIX, { force: true, recursive: true });
    }
    const classes = await checkBundleUpload(this.o.db, spool, raw);
    for (const c of classes) authorize(principal, 'write', c);
    this.checkQueue();
    const job: BundleJob = { className: classes.join(','), bundle: { raw: { ...raw, db: undefined } } };
    this.store.add({ token, options: JSON.stringify(job), fileName: files.map((f) => f.fileName).join(', '), bytes: meter.bytes, sha256: meter.digest() });
    this.o.log(`job ${token.slice(0, 8)}… queued: a bundle of ${files.length} files, ${meter.bytes} bytes into ${classes.join(', ')}`);
  }

  private async log(job: Job, format: string | undefined, reply: FastifyReply): Promise<FastifyReply> {
    const token = job.token;
    if (format !== undefined && format !== 'csv' && format !== 'json') throw new SluiceError('E_USAGE', `format: "${format.slice(0, 40)}" is not valid (valid: csv, json)`);
    if ((job.state !== 'done' && job.state !== 'error') || job.summary === null || !hasLog(this.o.spoolDir, token)) {
      throw new SluiceError('E_NOT_FOUND', `job ${token} has no log${job.state === 'done' || job.state === 'error' ? '' : ` yet (it is ${job.state})`}`);
    }
    const f = format ?? 'csv';
    if (isBundleSummary(job.summary)) {
      const parts = (k: number): RowBatches | null => keptRunRows(this.o.spoolDir, token, f, k);
      if (f === 'json') return reply.type('application/json; charset=utf-8').send(Readable.from(bundleJsonLog(job.summary, parts)));
      return reply.type('text/csv; charset=utf-8').send(Readable.from(bundleCsvLog(job.summary, parts)));
    }
    const rows = keptRunRows(this.o.spoolDir, token, f);
    if (rows === null) throw new SluiceError('E_NOT_FOUND', `job ${token} has no log`);
    const summary = JSON.parse(job.summary) as RunSummary;
    if (format === 'json') {
      return reply.type('application/json; charset=utf-8').send(Readable.from(jsonLog(summary, rows)));
    }
    return reply.type('text/csv; charset=utf-8').send(Readable.from(csvLog(summary, rows)));
  }

  /** Queue an undo of change `n` (sluice undo), polled as an import job is. */
  private async undo(req: FastifyRequest, reply: FastifyReply, n: string): Promise<FastifyReply> {
    const principal = req.principal as Principal;
    authorize(principal, 'write', null);
    const change = Number(n);
    if (!/^\d+$/.test(n) || !Number.isSafeInteger(change) || change < 1) throw new SluiceError('E_USAGE', `change "${n.slice(0, 40)}" is not valid (a change id, a whole number of at least 1)`);
    const fields = new Map(queryFields(req.url));
    for (const k of fields.keys()) {
      if (!['simulate', 'force', 'comment'].includes(k)) throw new SluiceError('E_USAGE', `unknown option ${k.slice(0, 40)} (valid: simulate, force, comment)`, { option: k });
    }
    const flag = (k: string): boolean => {
      const v = fields.get(k);
      if (v === undefined) return false;
      if (['', '1', 'true', 'yes'].includes(v.toLowerCase())) return true;
      if (['0', 'false', 'no'].includes(v.toLowerCase())) return false;
      throw new SluiceError('E_USAGE', `${k}: "${v.slice(0, 40)}" is not valid (valid: 1, true, yes, 0, false, no)`, { option: k });
    };
    const className = await changeClass(this.o.db, change);
    // A bundle's change names its classes, comma-separated: the token must have every one.
    for (const c of className.split(',')) authorize(principal, 'write', c);
    this.checkQueue();
    const token = randomBytes(16).toString('hex');
    const undo = { change, simulate: flag('simulate'), force: flag('force'), comment: fields.get('comment') ?? '' };
    this.store.add({ token, options: JSON.stringify({ className, undo }), fileName: '(undo)', bytes: 0, sha256: '' });
    this.o.log(`job ${token.slice(0, 8)}… queued: undo of change ${change} (${className})`);
    this.runner.kick();
    return reply.code(202).send({ token });
  }

  /** A class streamed as `sluice export` writes it; everything that can fail on the request is checked before the first byte. */
  private async export(req: FastifyRequest, reply: FastifyReply, className: string): Promise<FastifyReply> {
    const o = this.o.exportOptions(className, queryFields(req.url));
    const job = await openAnyExport(o);
    try {
      authorize(req.principal as Principal, 'read', job.cls.name);
    } catch (err) {
      await job.close();
      throw err;
    }
    const body = new PassThrough();
    const stop = new AbortController();
    // A client that goes away ends the export; its read transaction ends with it.
    reply.raw.once('close', () => stop.abort());
    job
      .write(body, stop.signal)
      .then(() => body.end())
      .catch((err: unknown) => {
        const e = asSluiceError(err);
        if (e.code !== 'E_INTERRUPTED') this.o.log(`export of ${job.cls.name} failed: ${e.code === 'E_INTERNAL' ? 'internal error' : e.message}`);
        body.destroy(e);
      })
      .finally(() => job.close());
    const ext = o.format === 'json' ? 'json' : o.format;
    const type = o.format === 'json' ? 'application/json' : o.format === 'tsv' ? 'text/tab-separated-values' : 'text/csv';
    return reply
      .type(`${type}; charset=${o.charset.toLowerCase()}`)
      .header('content-disposition', `attachment; filename="${job.cls.name}.${ext}"`)
      .send(body);
  }
}

const ORPHAN = 'interrupted: the server stopped while this job was processing';

/**
 * How a job the server died in ended: its open transaction rolled back (by SQLite, or by the
 * PostgreSQL server when the session ended), and with --chunk-size the chunks it committed
 * kept, as its change record says (the record is written with each chunk's commit).
 */
async function orphanEnd(db: string, changeId: number | null): Promise<{ message: string; results: JobResults }> {
  const none = { message: `${ORPHAN}; its open transaction was rolled back`, results: NO_RESULTS };
  if (changeId === null) return none;
  try {
    const reader = await openReader(db);
    let c;
    try {
      c = await reader.change(changeId);
    } finally {
      await reader.close();
    }
    if (!c || c.outcome !== 'running' || c.lines === 0) return none;
    return {
      message: `${ORPHAN}; its first ${c.lines} row${c.lines === 1 ? ' was' : 's were'} committed (--chunk-size), the rest rolled back`,
      results: { created: c.created, updated: c.updated, deleted: c.deleted, unchanged: c.unchanged, skipped: c.skipped, errors: c.errors },
    };
  } catch {
    return none;
  }
}

/** The class change `id` wrote (its undo touches it); a 404 when there is no such change. */
async function changeClass(db: string, id: number): Promise<string> {
  const reader = await openReader(db);
  try {
    const r = await reader.change(id);
    if (!r) throw new SluiceError('E_NOT_FOUND', `there is no change ${id} (sluice changes lists them)`);
    return r.class;
  } finally {
    await reader.close();
  }
}

/** The classes a job imports into: one (a sync's is its source's), or a bundle's, in the order they run. */
function jobClasses(job: Job): string[] {
  return ((JSON.parse(job.options) as Partial<ImportOptions>).className ?? '').split(',');
}

/** The details table, as `sluice import --log` writes it. */
async function* csvLog(s: RunSummary, rows: RowBatches): AsyncGenerator<string> {
  yield csvLine(detailsHeader(s.columns)) + '\n';
  for await (const batch of rows) {
    let text = '';
    for (const row of batch) text += csvLine(detailsRow(row, s.columns.length)) + '\n';
    yield text;
  }
}

/** The JSON report with every row, as `sluice import --output json --log F` prints it. */
async function* jsonLog(s: RunSummary, rows: RowBatches): AsyncGenerator<string> {
  yield jsonHead(s);
  let first = true;
  for await (const batch of rows) {
    let text = '';
    for (const row of batch) {
      text += jsonRow(row, first);
      first = false;
    }
    yield text;
  }
  yield jsonTail();
}

/** The query parameters in the order given (a repeated one twice, for the option parser to judge). */
function queryFields(url: string): [string, string][] {
  const q = url.indexOf('?');
  return q < 0 ? [] : [...new URLSearchParams(url.slice(q + 1)).entries()];
}
