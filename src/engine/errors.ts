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
  | 'E_INTERNAL'; // a bug (exit 3)

export interface ErrorContext {
  line?: number;
  column?: string;
  file?: string;
  option?: string;
  cause?: unknown;
}

export class SluiceError extends Error {
  readonly code: SluiceErrorCode;
  readonly line: number | undefined;
  readonly column: string | undefined;
  readonly file: string | undefined;
  readonly option: string | undefined;

  constructor(code: SluiceErrorCode, message: string, ctx: ErrorContext = {}) {
    super(message, ctx.cause === undefined ? undefined : { cause: ctx.cause });
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

/** Wrap anything thrown into a SluiceError, keeping the original as `cause`. */
export function asSluiceError(err: unknown): SluiceError {
  if (err instanceof SluiceError) return err;
  const message = err instanceof Error ? err.message : String(err);
  return new SluiceError('E_INTERNAL', message, { cause: err });
}
