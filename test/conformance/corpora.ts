/**
 * The vendored CSV conformance corpora (test/conformance/vendor), read into one shape: an
 * input, the dialect it is read with, and what the upstream suite expects of it.
 */
import { readFileSync, readdirSync } from 'node:fs';
import { basename } from 'node:path';
import { fileURLToPath } from 'node:url';

/** Data files are not compiled: they are read from the source tree beside this file. */
const VENDOR = fileURLToPath(new URL('../../../test/conformance/vendor/', import.meta.url));

export type Corpus = 'csv-spectrum' | 'PapaParse' | 'Python csv';

export interface UpstreamCase {
  corpus: Corpus;
  name: string;
  input: Buffer;
  /** the input's first line names the columns */
  header: boolean;
  /** header cases: the column names, as the upstream suite keys its rows */
  fields: string[] | null;
  separator: string;
  /** the quote character; '' for none */
  qualifier: string;
  /** the rows upstream reads, or null when it expects an error */
  rows: string[][] | null;
  /** the error upstream expects, for messages */
  error: string | null;
}

function json<T>(path: string): T {
  return JSON.parse(readFileSync(VENDOR + path, 'utf8')) as T;
}

function spectrum(): UpstreamCase[] {
  return readdirSync(VENDOR + 'csv-spectrum/csvs')
    .filter((f) => f.endsWith('.csv'))
    .sort()
    .map((file) => {
      const name = basename(file, '.csv');
      const expected = json<Record<string, string> | Record<string, string>[]>(`csv-spectrum/json/${name}.json`);
      const objects = Array.isArray(expected) ? expected : [expected];
      const fields = Object.keys(objects[0] ?? {});
      return {
        corpus: 'csv-spectrum',
        name,
        input: readFileSync(`${VENDOR}csv-spectrum/csvs/${file}`),
        header: true,
        fields,
        separator: ',',
        qualifier: '"',
        rows: objects.map((o) => fields.map((f) => o[f] as string)),
        error: null,
      };
    });
}

interface PapaCase {
  name: string;
  input: string;
  delimiter?: string;
  quoteChar?: string;
  header: boolean;
  fields?: string[];
  data: string[][];
  errors?: string[];
}

function papaparse(): UpstreamCase[] {
  return json<{ cases: PapaCase[] }>('papaparse/cases.json').cases.map((c) => ({
    corpus: 'PapaParse',
    name: c.name,
    input: Buffer.from(c.input, 'utf8'),
    header: c.header,
    fields: c.fields ?? null,
    separator: c.delimiter ?? ',',
    qualifier: c.quoteChar ?? '"',
    rows: c.errors ? null : c.data,
    error: c.errors ? c.errors.join(', ') : null,
  }));
}

interface PythonCase {
  name: string;
  input: string;
  delimiter?: string;
  quotechar?: string | null;
  quoting?: 'QUOTE_NONE';
  header?: boolean;
  fields?: string[];
  expected?: string[][];
  error?: boolean;
}

function python(): UpstreamCase[] {
  return json<{ cases: PythonCase[] }>('cpython-csv/cases.json').cases.map((c) => ({
    corpus: 'Python csv',
    name: c.name,
    input: Buffer.from(c.input, 'utf8'),
    header: c.header === true,
    fields: c.fields ?? null,
    separator: c.delimiter ?? ',',
    qualifier: c.quotechar === null || c.quoting === 'QUOTE_NONE' ? '' : (c.quotechar ?? '"'),
    rows: c.error ? null : (c.expected ?? []),
    error: c.error ? 'csv.Error' : null,
  }));
}

export const CORPORA: readonly { corpus: Corpus; source: string; cases: UpstreamCase[] }[] = [
  { corpus: 'csv-spectrum', source: 'max-mapper/csv-spectrum csvs/ and json/ (BSD-2-Clause)', cases: spectrum() },
  { corpus: 'PapaParse', source: 'mholt/PapaParse tests/test-cases.js (MIT)', cases: papaparse() },
  { corpus: 'Python csv', source: 'python/cpython Lib/test/test_csv.py (PSF-2.0)', cases: python() },
];

/** The key a case goes by in the differences table. */
export function caseKey(c: Pick<UpstreamCase, 'corpus' | 'name'>): string {
  return `${c.corpus}: ${c.name}`;
}
