/**
 * The endpoints the import wizard's page needs beside the job API (docs/wizard.md): the
 * classes a token may see, a preview of an upload as the engine reads it, and the recent
 * jobs and changes. Each is a thin adapter: the model is `sluice schema`'s, the preview
 * is engine/preview.ts, the changes are `sluice changes`'s, read by the same store reader
 * (export/reader.ts), an SQLite file's or a PostgreSQL schema's.
 */
import { Readable } from 'node:stream';
import type { FastifyRequest } from 'fastify';
import { SluiceError } from '../base/errors.js';
import { describeClass } from '../cli/schema.js';
import type { ImportOptions } from '../engine/options.js';
import { type Preview, previewImport } from '../engine/preview.js';
import type { ChangeRow } from '../export/changes.js';
import { openReader, readStoredModel } from '../export/reader.js';
import type { Job, JobStore } from './jobs.js';
import type { JobRunner } from './runner.js';
import { type Principal, authorize } from './tokens.js';

/** What a preview reads of an upload at most; the rest of the body is read and dropped. */
export const PREVIEW_MAX_BYTES = 1024 * 1024;

/** Records a preview shows by default, and at most. */
const PREVIEW_ROWS = 20;
const PREVIEW_MAX_ROWS = 200;

/** Jobs and changes listed by default, and at most. */
const LIST_DEFAULT = 20;
const LIST_MAX = 200;

/** The fields of a preview request that are the preview's own, not import options. */
const PREVIEW_FIELDS = ['rows', 'truncated'];

export interface WizardContext {
  db: string;
  store: JobStore;
  runner: JobRunner;
  /** the options of an upload, checked as POST /v1/import checks them */
  importOptions(fields: [string, string][], upload: { fileName: string; contentType: string }): ImportOptions | Promise<ImportOptions>;
}

function whole(option: string, value: string | undefined, dflt: number, max: number): number {
  if (value === undefined) return dflt;
  const n = Number(value.trim());
  if (value.trim() === '' || !Number.isSafeInteger(n) || n < 1 || n > max) throw new SluiceError('E_USAGE', `${option}: "${value.slice(0, 40)}" is not valid (a whole number from 1 to ${max})`, { option });
  return n;
}

function flag(option: string, value: string | undefined): boolean {
  if (value === undefined) return false;
  const v = value.toLowerCase();
  if (['', '1', 'true', 'yes'].includes(v)) return true;
  if (['0', 'false', 'no'].includes(v)) return false;
  throw new SluiceError('E_USAGE', `${option}: "${value.slice(0, 40)}" is not valid (valid: 1, true, yes, 0, false, no)`, { option });
}

/** Only `limit` is taken by the lists; anything else is a mistake worth saying. */
function listLimit(fields: [string, string][]): number {
  for (const [k] of fields) if (k !== 'limit') throw new SluiceError('E_USAGE', `unknown option ${k.slice(0, 40)} (valid: limit)`, { option: k });
  const values = fields.map(([, v]) => v);
  if (values.length > 1) throw new SluiceError('E_USAGE', 'limit: given more than once', { option: 'limit' });
  return whole('limit', values[0], LIST_DEFAULT, LIST_MAX);
}

/** The classes of the model the token may see, as `sluice schema --format json` describes them, and whether it may import into them. */
export async function classesOf(db: string, p: Principal): Promise<Record<string, unknown>> {
  const model = await readStoredModel(db);
  const classes = [...model.classes.values()]
    .filter((c) => p.classes === null || p.classes.includes(c.name))
    .map((c) => {
      const d = describeClass(model, c);
      return {
        name: d.name,
        label: d.label,
        reconciliation: d.reconciliation,
        attributes: d.attributes.map((a) => ({ code: a.code, label: a.label, type: a.type, mandatory: a.mandatory, target: a.target, header: a.header })),
        exampleHeader: d.exampleHeader,
      };
    });
  return { role: p.role, name: p.name, canImport: p.role !== 'reader', classes };
}

/** The job as the list shows it: what it is, where it stands and what it did. */
function jobEntry(job: Job, runner: JobRunner, logs: (token: string) => boolean): Record<string, unknown> {
  const o = JSON.parse(job.options) as Partial<ImportOptions> & { undo?: { change: number; simulate: boolean } };
  const kind = o.undo ? 'undo' : o.sync ? 'sync' : 'import';
  return {
    token: job.token,
    kind,
    class: o.className ?? '',
    state: job.state,
    fileName: job.fileName,
    bytes: job.bytes,
    simulate: o.undo ? o.undo.simulate : o.simulate === true,
    action: o.undo ? 'undo' : (o.action ?? 'upsert'),
    createdAt: job.createdAt,
    startedAt: job.startedAt,
    finishedAt: job.finishedAt,
    ...(job.state === 'processing' ? { line: runner.lineOf(job.token) ?? 0 } : {}),
    results: job.results,
    message: job.message,
    change: job.changeId,
    undoOf: o.undo ? o.undo.change : null,
    ...((job.state === 'done' || job.state === 'error') && logs(job.token) ? { logfile: `/v1/import/${job.token}/log` } : {}),
  };
}

export function jobsOf(c: WizardContext, p: Principal, fields: [string, string][], logs: (token: string) => boolean): Record<string, unknown> {
  const limit = listLimit(fields);
  return { jobs: c.store.recent(limit, p.classes).map((j) => jobEntry(j, c.runner, logs)) };
}

export async function changesOf(db: string, p: Principal, fields: [string, string][]): Promise<{ changes: ChangeRow[]; total: number }> {
  const limit = listLimit(fields);
  const reader = await openReader(db);
  try {
    const { rows, total } = await reader.recentChanges(limit, p.classes);
    return { changes: rows, total };
  } finally {
    await reader.close();
  }
}

/** Reads at most `max` bytes of a body; the rest is read and dropped. Whether there was more. */
async function head(body: AsyncIterable<Buffer>, max: number): Promise<{ bytes: Buffer; cut: boolean }> {
  const parts: Buffer[] = [];
  let kept = 0;
  let cut = false;
  for await (const chunk of body) {
    if (kept >= max) {
      cut = true;
      continue;
    }
    const take = chunk.subarray(0, max - kept);
    if (take.length < chunk.length) cut = true;
    parts.push(take);
    kept += take.length;
  }
  return { bytes: Buffer.concat(parts), cut };
}

/**
 * A preview of an upload (a form, or the raw body with the options as query parameters, as
 * POST /v1/import takes them): the first PREVIEW_MAX_BYTES are read, nothing is written.
 * `rawFields` are the query parameters of a raw body, null for a form.
 */
export async function preview(c: WizardContext, req: FastifyRequest, rawFields: [string, string][] | null, rawType: string): Promise<Preview> {
  const p = req.principal as Principal;
  authorize(p, 'write', null);
  let fields: [string, string][];
  let upload: { fileName: string; contentType: string };
  let body: { bytes: Buffer; cut: boolean } | null = null;
  let options: ImportOptions | null = null;
  const split = (all: [string, string][]): { own: Map<string, string>; rest: [string, string][] } => {
    const own = new Map<string, string>();
    for (const [k, v] of all) {
      if (!PREVIEW_FIELDS.includes(k)) continue;
      if (own.has(k)) throw new SluiceError('E_USAGE', `${k}: given more than once`, { option: k });
      own.set(k, v);
    }
    return { own, rest: all.filter(([k]) => !PREVIEW_FIELDS.includes(k)) };
  };
  let own: Map<string, string>;
  if (rawFields !== null) {
    ({ own, rest: fields } = split(rawFields));
    upload = { fileName: 'upload', contentType: rawType };
    // Bad options, and a class the token may not touch, are refused before the body is read.
    options = await c.importOptions(fields, upload);
    authorize(p, 'write', options.className);
    whole('rows', own.get('rows'), PREVIEW_ROWS, PREVIEW_MAX_ROWS);
    flag('truncated', own.get('truncated'));
    body = await head(req.raw, PREVIEW_MAX_BYTES);
  } else {
    const all: [string, string][] = [];
    let info: { fileName: string; contentType: string } | null = null;
    for await (const part of req.parts()) {
      if (part.type === 'file') {
        if (part.fieldname !== 'file' || info !== null) {
          part.file.resume();
          throw new SluiceError('E_USAGE', `form field "${part.fieldname.slice(0, 60)}" holds a file; send the one file as the field "file"`);
        }
        info = { fileName: part.filename || 'upload', contentType: part.mimetype };
        body = await head(part.file, PREVIEW_MAX_BYTES);
      } else {
        all.push([part.fieldname, String(part.value)]);
      }
    }
    if (info === null || body === null) throw new SluiceError('E_USAGE', 'the form has no "file" field: send the file to preview as the field "file"', { option: '--file' });
    ({ own, rest: fields } = split(all));
    upload = info;
  }
  const rows = whole('rows', own.get('rows'), PREVIEW_ROWS, PREVIEW_MAX_ROWS);
  const truncated = flag('truncated', own.get('truncated'));
  if (options === null) {
    options = await c.importOptions(fields, upload);
    authorize(p, 'write', options.className);
  }
  return previewImport({ ...options, db: c.db }, Readable.from([body.bytes]), { rows, truncated: truncated || body.cut });
}
