/**
 * The one error type Sluice raises. `code` is stable and documented in
 * docs/errors.md; `line`/`column` locate the problem in the input.
 */
export type SluiceErrorCode =
  | 'E_USAGE' // bad command line or option value (exit 2)
  | 'E_MODEL' // invalid model file (exit 2)
  | 'E_DB' // database missing, locked, read-only, full, or not a Sluice database (exit 2 before writing, 3 after)
  | 'E_HEADER' // unknown column, duplicate column, unknown key (exit 2)
  | 'E_ENCODING' // invalid byte sequence for the charset (exit 3)
  | 'E_MALFORMED' // unterminated quote, record too large, binary data (exit 3)
  | 'E_ROW' // first row error in all-or-nothing mode (exit 3)
  | 'E_WORKER' // a worker thread failed (exit 3)
  | 'E_INTERRUPTED' // SIGINT/SIGTERM (exit 130)
  | 'E_NOT_FOUND' // HTTP service: no such job or route (404)
  | 'E_TOO_LARGE' // HTTP service: an upload over --max-upload (413)
  | 'E_QUEUE_FULL' // HTTP service: --max-queue jobs are waiting (429)
  | 'E_AUTH' // HTTP service: no token, or one that is not valid or revoked (401)
  | 'E_FORBIDDEN' // HTTP service: the token's role or classes do not allow the request (403)
  | 'E_INTERNAL'; // a bug (exit 3)

export interface ErrorContext {
  line?: number;
  column?: string;
  file?: string;
  option?: string;
  cause?: unknown;
}

// Characters a message must not print as they are: C0 and C1 controls and DEL, lone surrogates,
// and the invisible ones that move or reorder text on a terminal (line and paragraph
// separators, bidirectional controls, the byte-order mark).
const UNSAFE = /[\p{Cc}\u061c\u200e\u200f\u2028-\u202e\u2066-\u2069\ufeff\ud800-\udfff]/gu;
const UNSAFE_QUOTED = /[\\"\p{Cc}\u061c\u200e\u200f\u2028-\u202e\u2066-\u2069\ufeff\ud800-\udfff]/gu;

function escapeChar(c: string): string {
  switch (c) {
    case '\n':
      return '\\n';
    case '\r':
      return '\\r';
    case '\t':
      return '\\t';
    case '\\':
    case '"':
      return `\\${c}`;
  }
  const n = c.charCodeAt(0);
  return n < 0x80 ? `\\x${n.toString(16).padStart(2, '0')}` : `\\u${n.toString(16).padStart(4, '0')}`;
}

/** Text with control and invisible characters escaped (`\r`, `\x1b`, `\u0085`), so it prints as one plain line. */
export function escapeControls(text: string): string {
  return text.replace(UNSAFE, escapeChar);
}

/**
 * Input text as a message quotes it: in double quotes, cut to `max` characters (never inside a
 * surrogate pair), with quotes, backslashes and control characters escaped.
 */
export function quoted(text: string, max = 60): string {
  let t = text;
  if (t.length > max) {
    const chars = Array.from(t);
    if (chars.length > max) t = chars.slice(0, max - 1).join('') + '…';
  }
  return `"${t.replace(UNSAFE_QUOTED, escapeChar)}"`;
}

export class SluiceError extends Error {
  readonly code: SluiceErrorCode;
  readonly line: number | undefined;
  readonly column: string | undefined;
  readonly file: string | undefined;
  readonly option: string | undefined;

  constructor(code: SluiceErrorCode, message: string, ctx: ErrorContext = {}) {
    // Input a message quotes goes through quoted(); escaping here as well covers text from
    // libraries (csv-parse, JSON.parse) and file paths.
    super(escapeControls(message), ctx.cause === undefined ? undefined : { cause: ctx.cause });
    this.name = 'SluiceError';
    this.code = code;
    this.line = ctx.line;
    this.column = ctx.column;
    this.file = ctx.file;
    this.option = ctx.option;
  }

  /** A plain object that survives postMessage between threads. */
  toJSON(): SerializedError {
    return { code: this.code, message: this.message, line: this.line, column: this.column, file: this.file, option: this.option };
  }

  static fromJSON(e: SerializedError): SluiceError {
    return new SluiceError(e.code, e.message, { line: e.line, column: e.column, file: e.file, option: e.option });
  }
}

export interface SerializedError {
  code: SluiceErrorCode;
  message: string;
  line?: number | undefined;
  column?: string | undefined;
  file?: string | undefined;
  option?: string | undefined;
}

export function usage(message: string, option?: string): SluiceError {
  return new SluiceError('E_USAGE', message, { option });
}

export function exitCodeFor(err: unknown): number {
  if (!(err instanceof SluiceError)) return 3;
  switch (err.code) {
    case 'E_USAGE':
    case 'E_MODEL':
    case 'E_HEADER':
      return 2;
    case 'E_DB':
      return 2;
    case 'E_INTERRUPTED':
      return 130;
    default:
      return 3;
  }
}

/** What an SQLite result code means for the user, by primary code. */
const SQLITE_HINTS: Record<string, string> = {
  SQLITE_READONLY: 'the database is read-only to this process',
  SQLITE_FULL: 'the disk is full',
  SQLITE_BUSY: 'another process is writing to the database',
};

/**
 * Wrap anything thrown into a SluiceError, keeping the original as `cause`: an SQLite error
 * (better-sqlite3 sets `code` to SQLITE_…) is E_DB, anything else E_INTERNAL.
 */
export function asSluiceError(err: unknown): SluiceError {
  if (err instanceof SluiceError) return err;
  const message = err instanceof Error ? err.message : String(err);
  const code = (err as { code?: unknown } | null)?.code;
  if (typeof code === 'string' && code.startsWith('SQLITE_')) {
    const hint = SQLITE_HINTS[code.split('_', 2).join('_')] ?? message;
    return new SluiceError('E_DB', `database error: ${hint} (${code})`, { cause: err });
  }
  return new SluiceError('E_INTERNAL', message, { cause: err });
}
