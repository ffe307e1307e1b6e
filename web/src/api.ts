/**
 * Calls to the service from the page: the bearer token kept in sessionStorage, every
 * answer that is not a success turned into an ApiError with the service's own message.
 */

const TOKEN_KEY = 'sluice.token';

export function savedToken(): string | null {
  return sessionStorage.getItem(TOKEN_KEY);
}

export function saveToken(token: string | null): void {
  if (token === null) sessionStorage.removeItem(TOKEN_KEY);
  else sessionStorage.setItem(TOKEN_KEY, token);
}

/** An answer in the service's error shape, `{"error":{"code","message"}}`, or a failure to reach it. */
export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

/** Called when the service says the token is not (or no longer) valid. */
let onUnauthorized: (message: string) => void = () => undefined;

export function whenUnauthorized(f: (message: string) => void): void {
  onUnauthorized = f;
}

function errorOf(status: number, text: string): ApiError {
  try {
    const body = JSON.parse(text) as { error?: { code?: string; message?: string } };
    if (body.error?.message) return new ApiError(status, body.error.code ?? 'E_UNKNOWN', body.error.message);
  } catch {
    // not JSON: said below
  }
  return new ApiError(status, 'E_UNKNOWN', `the server answered ${status}${text ? `: ${text.slice(0, 200)}` : ''}`);
}

function headers(extra: Record<string, string> = {}, token = savedToken()): Headers {
  const h = new Headers(extra);
  if (token) h.set('authorization', `Bearer ${token}`);
  return h;
}

async function send(path: string, init: RequestInit, token?: string): Promise<Response> {
  let r: Response;
  try {
    r = await fetch(path, { ...init, headers: headers(init.headers as Record<string, string> | undefined, token ?? savedToken()) });
  } catch (err) {
    throw new ApiError(0, 'E_NETWORK', `the server could not be reached (${(err as Error).message})`);
  }
  if (!r.ok) {
    const e = errorOf(r.status, await r.text());
    if (r.status === 401 && token === undefined) onUnauthorized(e.message);
    throw e;
  }
  return r;
}

/** A JSON call; `token` tries another token than the saved one (logging in). */
export async function getJson<T>(path: string, token?: string): Promise<T> {
  return (await (await send(path, { method: 'GET' }, token)).json()) as T;
}

export async function postJson<T>(path: string, body?: Blob, contentType = 'text/csv'): Promise<T> {
  return (await (await send(path, { method: 'POST', body, headers: body ? { 'content-type': contentType } : {} })).json()) as T;
}

export async function deleteJson<T>(path: string): Promise<T> {
  return (await (await send(path, { method: 'DELETE' })).json()) as T;
}

/** A file from the service (a log, an export) as the browser downloads it. */
export async function download(path: string, fallbackName: string): Promise<void> {
  const r = await send(path, { method: 'GET' });
  const disposition = r.headers.get('content-disposition') ?? '';
  const name = /filename="([^"]+)"/.exec(disposition)?.[1] ?? fallbackName;
  const url = URL.createObjectURL(await r.blob());
  const a = document.createElement('a');
  a.href = url;
  a.download = name;
  document.body.append(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 60_000);
}

/**
 * An upload with its progress (fetch has none), as a form: the options as fields first, then
 * the file under its own name (the change record keeps it). Resolves with the JSON answer of a success.
 */
export function upload<T>(path: string, fields: URLSearchParams, body: Blob, fileName: string, onProgress: (sent: number, total: number) => void): Promise<T> {
  return new Promise((resolve, reject) => {
    const form = new FormData();
    for (const [k, v] of fields) form.append(k, v);
    form.append('file', body, fileName);
    const xhr = new XMLHttpRequest();
    xhr.open('POST', path);
    const token = savedToken();
    if (token) xhr.setRequestHeader('authorization', `Bearer ${token}`);
    xhr.upload.addEventListener('progress', (e) => onProgress(e.loaded, e.lengthComputable ? e.total : body.size));
    xhr.addEventListener('load', () => {
      if (xhr.status >= 200 && xhr.status < 300) {
        try {
          resolve(JSON.parse(xhr.responseText) as T);
        } catch {
          reject(new ApiError(xhr.status, 'E_UNKNOWN', 'the server\'s answer is not JSON'));
        }
        return;
      }
      const e = errorOf(xhr.status, xhr.responseText);
      if (xhr.status === 401) onUnauthorized(e.message);
      reject(e);
    });
    xhr.addEventListener('error', () => reject(new ApiError(0, 'E_NETWORK', 'the upload failed: the connection to the server was lost')));
    xhr.addEventListener('abort', () => reject(new ApiError(0, 'E_ABORTED', 'the upload was cancelled')));
    xhr.send(form);
  });
}

/* The service's answers, as the OpenAPI document at /v1/openapi.json describes them. */

export interface AttributeInfo {
  code: string;
  label: string;
  type: string;
  mandatory: boolean;
  target: string | null;
  header: string[];
}

export interface ClassInfo {
  name: string;
  label: string;
  reconciliation: string[];
  attributes: AttributeInfo[];
  exampleHeader: string;
}

export interface Classes {
  role: 'admin' | 'importer' | 'reader';
  name: string;
  canImport: boolean;
  classes: ClassInfo[];
}

export interface ColumnMapping {
  kind: 'reserved' | 'scalar' | 'links' | 'ref';
  attribute: string;
  label: string;
  type: string;
  target?: string;
  sub?: string;
  header: string;
}

export interface Preview {
  class: string;
  format: 'csv' | 'json';
  separator: string | null;
  separatorDetected: boolean;
  qualifier: string | null;
  charset: string;
  charsetFrom: 'bom' | 'default' | 'given';
  suggestedCharset: string | null;
  dateFormat: string;
  suggestedDateFormat: string | null;
  columns: { index: number; name: string; mapping: ColumnMapping | null; error: string | null; key: string | null }[];
  keys: string[];
  planError: string | null;
  rows: { line: number; cells: string[]; error: string | null }[];
  more: boolean;
  headerBytes: number | null;
  error: { code: string; message: string; line: number | null } | null;
}

export interface Results {
  created: number;
  updated: number;
  deleted: number;
  unchanged: number;
  skipped: number;
  errors: number;
}

export type JobState =
  | { state: 'queued' }
  | { state: 'processing'; line: number; results: Results }
  | { state: 'done'; results: Results; logfile?: string; message?: string }
  | { state: 'error'; message: string; results: Results; logfile?: string };

export interface ReportRow {
  line: number;
  status: 'created' | 'updated' | 'unchanged' | 'deleted' | 'skipped' | 'error';
  id: number | null;
  changed?: string[];
  message?: string;
  warnings?: string[];
}

export interface Report {
  class: string;
  simulate: boolean;
  change: number | null;
  created: number;
  updated: number;
  unchanged: number;
  deleted: number;
  skipped: number;
  errors: number;
  warnings: number;
  lines: number;
  outcome: string;
  stopped?: string | null;
  rows: ReportRow[];
}

export interface JobEntry {
  token: string;
  kind: 'import' | 'sync' | 'undo';
  class: string;
  state: 'queued' | 'processing' | 'done' | 'error';
  fileName: string;
  bytes: number;
  simulate: boolean;
  action: string;
  createdAt: string;
  startedAt: string | null;
  finishedAt: string | null;
  line?: number;
  results: Results | null;
  message: string | null;
  change: number | null;
  undoOf: number | null;
  logfile?: string;
}

export interface ChangeEntry extends Results {
  id: number;
  user: string;
  started_at: string;
  finished_at: string | null;
  comment: string;
  class: string;
  file: string;
  action: string;
  outcome: string;
  lines: number;
  warnings: number;
  undone_by: number | null;
}
