/**
 * previewImport(): what an import of a file would read, before anything is written — the
 * header mapped onto the class column by column (an unknown column says why), the
 * separator, charset and date format the run would use, and the first records as the
 * engine parses, maps and casts them (each with the error its casting gives). The import
 * wizard's preview step (POST /v1/preview).
 *
 * It runs the run's own stages on the start of the input: decode, frame, the header parse
 * and buildPlan of engine/run.ts, then parseRecords/objectsToRecords and mapRows as a worker
 * does. References are not looked up and nothing is opened for writing: that is what a
 * simulated run is for.
 */
import type { Readable } from 'node:stream';
import iconv from 'iconv-lite';
import { SluiceError, asSluiceError } from '../base/errors.js';
import { createDecoder, type DecodeInfo } from '../input/decode.js';
import { type Frame, Framer } from '../input/frame.js';
import { JsonFramer, jsonHeader, objectsToRecords, splitObjects } from '../input/json.js';
import { type CsvOptions, parseHeader, parseRecords } from '../input/parse.js';
import { separatorName } from '../input/separator.js';
import { assertUtf8 } from '../input/utf8.js';
import { findClass } from '../model/load.js';
import { readStoredModel } from '../export/reader.js';
import type { Attribute, ClassDef, Model } from '../model/types.js';
import { compileDateFormat, type DateParser } from '../rows/dates.js';
import { buildPlan, resolveColumn } from '../rows/header.js';
import { mapRows, passwordColumns } from '../rows/map.js';
import type { ImportPlan } from '../rows/plan.js';
import type { ImportOptions } from './options.js';

export interface PreviewOptions {
  /** how many data records to show */
  rows: number;
  /** the input is the start of a larger file: its last record may be cut, and is not shown */
  truncated: boolean;
}

/** What a header cell maps to, as the wizard shows and edits it. */
export interface ColumnMapping {
  kind: 'reserved' | 'scalar' | 'links' | 'ref';
  /** the attribute code (or id, source, source_id) */
  attribute: string;
  label: string;
  type: string;
  /** a reference: the target class and the attribute of it the column names (`id` for a plain reference column) */
  target?: string;
  sub?: string;
  /** the column in the canonical form, as `sluice export` writes it: `email`, `org_id->name` */
  header: string;
}

export interface PreviewColumn {
  index: number;
  name: string;
  mapping: ColumnMapping | null;
  /** why the column maps to nothing (null when it maps) */
  error: string | null;
  /** the attribute the column would give as a reconciliation key (null: it cannot be one) */
  key: string | null;
}

export interface PreviewRow {
  line: number;
  cells: string[];
  /** what mapping and casting the row says (the run would report it as a row error), null when it is fine so far */
  error: string | null;
}

export interface Preview {
  class: string;
  format: 'csv' | 'json';
  /** the separator read (given or detected), as the report names it: `,` `;` `tab` `|` */
  separator: string | null;
  separatorDetected: boolean;
  qualifier: string | null;
  charset: string;
  /** bom: named by a byte-order mark; default: none given, read as UTF-8; given: the charset option */
  charsetFrom: 'bom' | 'default' | 'given';
  /** a charset that would read the input where the one used fails (invalid UTF-8) */
  suggestedCharset: string | null;
  dateFormat: string;
  /** a format under which every date cell shown parses, when the one used fails on some */
  suggestedDateFormat: string | null;
  columns: PreviewColumn[];
  /** the reconciliation keys the run would use (the default, or those asked for), as attribute codes */
  keys: string[];
  /** what the header as a whole says (a duplicate column, a bad key, …): the run would stop on it */
  planError: string | null;
  rows: PreviewRow[];
  /** more records follow those shown */
  more: boolean;
  /**
   * The bytes the header takes in the input (byte-order mark and line break included), so that
   * a client can put a corrected header in front of the rest of the file; null for JSON and
   * for charsets that are not ASCII-compatible.
   */
  headerBytes: number | null;
  /** the input stops the run (invalid UTF-8, an unterminated quote, …) on this line */
  error: { code: string; message: string; line: number | null } | null;
}

/** Frames of one record each: the records before one the input stops on (a quote left open, a cut sample) are still shown. */
const PREVIEW_FRAME_BYTES = 1;

/** Formats tried, in order, when the date cells shown do not parse under the one in use. */
const DATE_CANDIDATES = ['Y-m-d', 'd/m/Y', 'm/d/Y', 'd.m.Y', 'd-m-Y', 'Y/m/d'];
const TIME_SUFFIXES = [' H:i:s', ' H:i', ''];

function mappingOf(model: Model, cls: ClassDef, raw: string, i: number): { mapping: ColumnMapping; key: string | null } {
  const c = resolveColumn(model, cls, raw, i);
  if (c.kind === 'reserved') return { mapping: { kind: 'reserved', attribute: c.code, label: c.code, type: c.code === 'id' ? 'integer' : 'string', header: c.code }, key: null };
  const a = c.attr;
  const keyable = a.type !== 'links' && a.type !== 'password';
  if (c.kind === 'ref') {
    const target = model.classes.get(a.target as string) as ClassDef;
    const subLabel = c.sub === 'id' ? 'id' : (target.byCode.get(c.sub) as Attribute).label;
    return {
      mapping: { kind: 'ref', attribute: a.code, label: c.sub === 'id' ? a.label : `${a.label} → ${subLabel}`, type: 'ref', target: target.name, sub: c.sub, header: c.sub === 'id' ? a.code : `${a.code}->${c.sub}` },
      key: a.code,
    };
  }
  return { mapping: { kind: c.kind, attribute: a.code, label: a.label, type: a.type, header: a.code }, key: keyable ? a.code : null };
}

/** Frames of the decoded stream; the first is the header record alone (CSV). */
async function* framesOf(stream: AsyncIterable<Buffer>, framer: { push(b: Buffer): Frame[]; end(): Frame[] }, cut: { truncated: boolean; lastDropped: boolean }): AsyncGenerator<Frame> {
  for await (const chunk of stream) yield* framer.push(chunk);
  let last: Frame[];
  try {
    last = framer.end();
  } catch (err) {
    // The start of a larger file may end inside a quoted field or a character: not an error of the file.
    if (!cut.truncated) throw err;
    cut.lastDropped = true;
    return;
  }
  yield* last;
}

/** A format under which every sample parses, for the attribute types given; null when none does. */
export function suggestDateFormat(samples: { type: 'date' | 'datetime'; text: string }[]): string | null {
  if (samples.length === 0) return null;
  const parses = (p: DateParser): boolean => samples.every((s) => (s.type === 'date' ? p.parseDate(s.text) : p.parseDateTime(s.text)) !== null);
  for (const d of DATE_CANDIDATES) {
    for (const t of samples.some((s) => s.type === 'datetime') ? TIME_SUFFIXES : ['']) {
      const f = `${d}${t}`;
      if (f === 'Y-m-d' || f === 'Y-m-d H:i:s') continue; // ISO 8601 is the default, tried first
      if (parses(compileDateFormat(f))) return f;
    }
  }
  return null;
}

/** Whether text in the charset is ASCII where it is ASCII: a header of codes can be written in it byte for byte. */
function asciiCompatible(charset: string): boolean {
  return !/^UTF-(16|32)/i.test(charset);
}

export async function previewImport(o: ImportOptions, input: Readable, p: PreviewOptions): Promise<Preview> {
  const dates = compileDateFormat(o.dateFormat);
  const model = await readStoredModel(o.db);
  const cls = findClass(model, o.className);

  const decoder = createDecoder(o.charset);
  const stream = input.pipe(decoder.stream);
  input.on('error', (e) => decoder.stream.destroy(e));
  const framer =
    o.format === 'json'
      ? new JsonFramer({ targetBytes: PREVIEW_FRAME_BYTES, maxRecordBytes: o.maxRecordBytes })
      : new Framer({
          quote: o.qualifier === null ? null : o.qualifier.charCodeAt(0),
          delimiter: o.separator === undefined ? null : o.separator.charCodeAt(0),
          targetBytes: PREVIEW_FRAME_BYTES,
          maxRecordBytes: o.maxRecordBytes,
        });

  const out: Preview = {
    class: cls.name,
    format: o.format,
    separator: o.format === 'json' ? null : o.separator === undefined ? null : separatorName(o.separator),
    separatorDetected: o.format !== 'json' && o.separator === undefined,
    qualifier: o.format === 'json' ? null : o.qualifier,
    charset: o.charset ?? 'UTF-8',
    charsetFrom: o.charset === undefined ? 'default' : 'given',
    suggestedCharset: null,
    dateFormat: dates.format,
    suggestedDateFormat: null,
    columns: [],
    keys: [],
    planError: null,
    rows: [],
    more: false,
    headerBytes: null,
    error: null,
  };

  let plan: ImportPlan | null = null;
  let header: string[] = [];
  /** a JSON input's records are data from the first on */
  let pendingData: Frame | null = null;
  const records: (string | undefined)[][] = [];
  const lines: number[] = [];
  const recordErrors: (string | null)[] = [];
  const cut = { truncated: p.truncated, lastDropped: false };
  const frames = framesOf(stream, framer, cut);
  try {
    try {
      const first = await frames.next();
      const info: DecodeInfo = await decoder.info.catch(() => ({ charset: out.charset, bom: false }));
      out.charset = info.charset;
      if (info.bom) out.charsetFrom = 'bom';
      if (first.done) {
        throw new SluiceError('E_MALFORMED', `the file is empty; ${o.format === 'json' ? 'it must hold an array of objects or one object per line' : 'the first line must be a header naming the columns'}`, { line: 1 });
      }
      const csv: CsvOptions | null = o.format === 'json' ? null : csvOptionsOf(o, String.fromCharCode((framer as Framer).delimiter as number));
      if (csv === null) {
        assertUtf8(first.value.bytes, first.value.firstLine);
        header = jsonHeader(first.value);
        pendingData = first.value;
      } else {
        out.separator = separatorName(String.fromCharCode(csv.delimiter));
        assertUtf8(first.value.bytes, 1);
        header = parseHeader(first.value.bytes, csv);
        if (asciiCompatible(out.charset)) {
          const bom = info.bom ? (/^UTF-8$/i.test(out.charset) ? 3 : 0) : 0;
          out.headerBytes = bom + (/^UTF-8$/i.test(out.charset) ? first.value.bytes.byteLength : iconv.encode(first.value.bytes.toString('utf8'), out.charset).byteLength);
        }
      }
      out.columns = header.map((name, index) => {
        try {
          const m = mappingOf(model, cls, name, index);
          return { index, name, mapping: m.mapping, error: null, key: m.key };
        } catch (err) {
          return { index, name, mapping: null, error: asSluiceError(err).message, key: null };
        }
      });
      if (out.columns.every((c) => c.error === null)) {
        try {
          plan = buildPlan(model, cls, header, { keys: o.keys, action: o.action, ignoreEmpty: o.ignoreEmpty });
          out.keys = plan.keys;
        } catch (err) {
          out.planError = asSluiceError(err).message;
        }
      }
      // One record more than shown tells whether more follow; with a cut input, one more again (the last may be cut).
      const want = p.rows + 1 + (p.truncated ? 1 : 0);
      while (records.length < want) {
        let f: Frame;
        if (pendingData) {
          f = pendingData;
          pendingData = null;
        } else {
          const next = await frames.next();
          if (next.done) break;
          f = next.value;
        }
        assertUtf8(f.bytes, f.firstLine);
        if (csv === null) {
          const text = f.bytes.toString('utf8');
          const r = objectsToRecords(text, splitObjects(text, f.firstLine), header);
          records.push(...r.records);
          lines.push(...r.lines);
          recordErrors.push(...r.errors);
        } else {
          const r = parseRecords(f.bytes, f.firstLine, csv);
          records.push(...r.records);
          lines.push(...r.lines);
          recordErrors.push(...r.records.map(() => null));
        }
      }
      if (p.truncated && records.length < want && !cut.lastDropped) {
        // The last record read may be cut short by the end of the sample.
        records.pop();
        lines.pop();
        recordErrors.pop();
      }
    } catch (err) {
      const e = asSluiceError(err);
      if (e.code !== 'E_ENCODING' && e.code !== 'E_MALFORMED') throw e;
      out.error = { code: e.code, message: e.message, line: e.line ?? null };
      if (e.code === 'E_ENCODING' && o.charset === undefined) out.suggestedCharset = 'WINDOWS-1252';
    }
  } finally {
    await frames.return(undefined).catch(() => undefined);
    stream.destroy();
    input.destroy();
  }

  out.more = records.length > p.rows;
  const shown = records.slice(0, p.rows);
  const shownLines = Int32Array.from(lines.slice(0, p.rows));
  const mapped = plan === null ? null : mapRows(model, plan, shown, shownLines, { dates });
  const passwords = new Set(plan === null ? out.columns.filter((c) => c.mapping?.type === 'password').map((c) => c.index) : passwordColumns(model, plan));
  out.rows = shown.map((rec, i) => ({
    line: shownLines[i] as number,
    cells: rec.map((c, k) => (passwords.has(k) && c ? '******' : (c ?? ''))),
    error: recordErrors[i] ?? mapped?.error[i] ?? null,
  }));

  // The date cells shown that the format in use does not read.
  const samples: { type: 'date' | 'datetime'; text: string }[] = [];
  for (const c of out.columns) {
    const t = c.mapping?.kind === 'scalar' ? c.mapping.type : null;
    if (t !== 'date' && t !== 'datetime') continue;
    for (const rec of shown) {
      const text = rec[c.index];
      if (text !== undefined && text !== '' && text !== '<NULL>') samples.push({ type: t, text });
    }
  }
  if (samples.some((s) => (s.type === 'date' ? dates.parseDate(s.text) : dates.parseDateTime(s.text)) === null)) {
    out.suggestedDateFormat = suggestDateFormat(samples);
  }
  return out;
}

function csvOptionsOf(o: ImportOptions, separator: string): CsvOptions {
  return { delimiter: separator.charCodeAt(0), quote: o.qualifier === null ? -1 : o.qualifier.charCodeAt(0), relaxQuotes: o.relaxQuotes };
}
