/**
 * What a bundle holds: its files, each with its class and its own options, read from a
 * manifest (`bundle.json`) or, without one, from the names of the files in a directory
 * (`Person.csv`, `01-Organization.tsv`, `UserLocal.json`).
 *
 * Pure where it can be: parseManifest reads a manifest's text, classFromFileName a name;
 * listBundle is the thin part that reads the file system.
 */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { basename, dirname, isAbsolute, join, resolve } from 'node:path';
import { SluiceError, quoted } from '../base/errors.js';
import type { Model } from '../model/types.js';
import type { RawImportOptions } from './options.js';

/** The manifest a bundle directory may hold. */
export const MANIFEST_NAME = 'bundle.json';

/** One file of a bundle, before its header is read. */
export interface BundleEntry {
  /** the path the import reads */
  path: string;
  /** as the report and messages name it: the path relative to the bundle, as written in the manifest */
  name: string;
  className: string;
  /** the options this file sets for itself (the manifest's), over those of the command line */
  options: Partial<RawImportOptions>;
  /** where the entry comes from, for messages: `bundle.json files[2]` or the file's name */
  origin: string;
}

/**
 * The per-file options a manifest entry may set, by their command-line names, and the
 * RawImportOptions field each sets. Everything else (--simulate, --chunk-size,
 * --no-stop-on-error, --comment, the report, --db) is the bundle's, given on the command line.
 */
const FILE_OPTIONS: Record<string, { field: keyof RawImportOptions; kind: 'string' | 'boolean' | 'keys' }> = {
  keys: { field: 'keys', kind: 'keys' },
  action: { field: 'action', kind: 'string' },
  charset: { field: 'charset', kind: 'string' },
  separator: { field: 'separator', kind: 'string' },
  qualifier: { field: 'qualifier', kind: 'string' },
  'relax-quotes': { field: 'relaxQuotes', kind: 'boolean' },
  'date-format': { field: 'dateFormat', kind: 'string' },
  format: { field: 'format', kind: 'string' },
  'ignore-empty': { field: 'ignoreEmpty', kind: 'boolean' },
};

const ENTRY_KEYS = ['file', 'class', ...Object.keys(FILE_OPTIONS)];

/** The options a manifest entry may set, for messages and docs. */
export const MANIFEST_FILE_KEYS: readonly string[] = ENTRY_KEYS;

const NAME_PATTERN = /^(?:\d+[-_. ]+)?([^.]+)\.(csv|tsv|txt|json|ndjson)$/i;

function classNames(model: Model): string {
  return [...model.classes.keys()].join(', ');
}

/** The model's class spelled `name` (case-insensitively), or undefined. */
function classNamed(model: Model, name: string): string | undefined {
  if (model.classes.has(name)) return name;
  const lower = name.toLowerCase();
  for (const c of model.classes.keys()) if (c.toLowerCase() === lower) return c;
  return undefined;
}

/**
 * The class a file's name gives: `Person.csv`, `Organization.tsv`, `UserLocal.json`, or with
 * an ordering prefix of digits, `01-Organization.csv`. Throws, naming the file and the valid
 * classes, when the name gives none.
 */
export function classFromFileName(model: Model, fileName: string, where: string): string {
  const m = NAME_PATTERN.exec(fileName);
  if (!m) {
    throw new SluiceError(
      'E_USAGE',
      `--bundle: ${where}: ${quoted(fileName)} is not named after a class (a CSV, TSV or JSON file named like Person.csv, 01-Organization.tsv or UserLocal.json; valid classes: ${classNames(model)}); list it in a ${MANIFEST_NAME} manifest with its class, or move it out of the directory`,
      { option: '--bundle', file: fileName },
    );
  }
  const cls = classNamed(model, m[1] as string);
  if (!cls) {
    throw new SluiceError('E_USAGE', `--bundle: ${where}: ${quoted(fileName)} names no class: there is no class ${quoted(m[1] as string)} (valid: ${classNames(model)})`, {
      option: '--bundle',
      file: fileName,
    });
  }
  return cls;
}

/** Each file's class once: a bundle imports a class from one file. */
function checkDistinct(entries: readonly BundleEntry[], where: string): void {
  const seen = new Map<string, BundleEntry>();
  for (const e of entries) {
    const other = seen.get(e.className);
    if (other) {
      throw new SluiceError(
        'E_USAGE',
        `--bundle: ${where}: ${quoted(other.name)} and ${quoted(e.name)} are both files of class ${e.className}; a bundle imports each class from one file (join them, or import one in a second run)`,
        { option: '--bundle', file: e.name },
      );
    }
    seen.set(e.className, e);
  }
}

/** The files of a directory without a manifest: every file but hidden ones, by name. */
export function entriesFromNames(model: Model, dir: string, names: readonly string[]): BundleEntry[] {
  const files = names.filter((n) => !n.startsWith('.')).sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
  if (files.length === 0) {
    throw new SluiceError('E_USAGE', `--bundle: the directory ${dir} holds no file to import (name each file after its class, e.g. Person.csv, or add a ${MANIFEST_NAME} manifest)`, { option: '--bundle' });
  }
  const entries = files.map((name) => ({ path: join(dir, name), name, className: classFromFileName(model, name, `directory ${dir}`), options: {}, origin: name }));
  checkDistinct(entries, `directory ${dir}`);
  return entries;
}

function typeName(v: unknown): string {
  return v === null ? 'null' : Array.isArray(v) ? 'a list' : typeof v === 'object' ? 'an object' : typeof v === 'string' ? `the text ${quoted(v)}` : `${typeof v} ${String(v)}`;
}

/**
 * A manifest's entries, from its text; `path` is the manifest's own path (file paths are
 * relative to its directory). Every message names the manifest, the entry and what would be valid.
 *
 * ```json
 * { "files": [ { "file": "orgs.csv", "class": "Organization", "keys": ["name"], "separator": ";" },
 *              { "file": "Person.csv", "ignore-empty": true } ] }
 * ```
 */
export function parseManifest(model: Model, text: string, path: string): BundleEntry[] {
  const fail = (where: string, message: string): never => {
    throw new SluiceError('E_USAGE', `--bundle: ${path}${where === '' ? '' : ` ${where}`}: ${message}`, { option: '--bundle', file: path });
  };
  let doc: unknown;
  try {
    doc = JSON.parse(text.replace(/^\uFEFF/, ''));
  } catch (e) {
    return fail('', `is not valid JSON (${(e as Error).message}); a manifest is {"files": [{"file": "Person.csv", "class": "Person"}, …]}`);
  }
  if (typeof doc !== 'object' || doc === null || Array.isArray(doc)) return fail('', `must be a JSON object with a "files" list, not ${typeName(doc)}`);
  for (const k of Object.keys(doc)) if (k !== 'files') fail('', `unknown key ${quoted(k)} (valid: files)`);
  const files = (doc as { files?: unknown }).files;
  if (!Array.isArray(files) || files.length === 0) return fail('', `"files" must be a list of at least one file, not ${files === undefined ? 'missing' : typeName(files)}`);
  const dir = dirname(path);
  const entries = files.map((raw: unknown, i): BundleEntry => {
    const where = `files[${i}]`;
    if (typeof raw === 'string') raw = { file: raw };
    if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) return fail(where, `must be an object such as {"file": "Person.csv", "class": "Person"} or a file name, not ${typeName(raw)}`);
    const e = raw as Record<string, unknown>;
    for (const k of Object.keys(e)) if (!ENTRY_KEYS.includes(k)) fail(where, `unknown key ${quoted(k)} (valid: ${ENTRY_KEYS.join(', ')})`);
    if (typeof e.file !== 'string' || e.file.trim() === '') return fail(where, `"file" is required: the file's path, relative to the manifest's directory`);
    const name = e.file;
    const at = `${where} (${name})`;
    let className: string;
    if (e.class === undefined) className = classFromFileName(model, basename(name), `${path} ${where}`);
    else if (typeof e.class !== 'string') return fail(at, `"class" must be a class name, not ${typeName(e.class)}`);
    else className = classNamed(model, e.class) ?? fail(at, `unknown class ${quoted(e.class)} (valid: ${classNames(model)})`);
    const options: Partial<RawImportOptions> = {};
    for (const [key, spec] of Object.entries(FILE_OPTIONS)) {
      const v = e[key];
      if (v === undefined) continue;
      if (spec.kind === 'boolean') {
        if (typeof v !== 'boolean') fail(at, `${quoted(key)} must be true or false, not ${typeName(v)}`);
      } else if (spec.kind === 'keys') {
        if (typeof v !== 'string' && !(Array.isArray(v) && v.every((x) => typeof x === 'string'))) fail(at, `"keys" must be a list of attribute names or one comma-separated text, not ${typeName(v)}`);
      } else if (typeof v !== 'string') fail(at, `${quoted(key)} must be a text, not ${typeName(v)}`);
      (options as Record<string, unknown>)[spec.field] = v;
    }
    return { path: isAbsolute(name) ? name : resolve(dir, name), name, className, options, origin: `${path} ${at}` };
  });
  const paths = new Map<string, string>();
  entries.forEach((e, i) => {
    const other = paths.get(e.path);
    if (other !== undefined) fail(`files[${i}] (${e.name})`, `the file is listed twice (also ${other})`);
    paths.set(e.path, `files[${i}]`);
  });
  checkDistinct(entries, path);
  return entries;
}

/**
 * The entries of `--bundle PATH`: a manifest file, a directory with a manifest, or a
 * directory whose files are named after their classes.
 */
export function listBundle(model: Model, path: string): { entries: BundleEntry[]; manifest: string | null } {
  let isDir: boolean;
  try {
    isDir = statSync(path).isDirectory();
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    throw new SluiceError('E_USAGE', `--bundle: cannot read ${path} (${code === 'ENOENT' ? 'no such file or directory' : code === 'EACCES' ? 'permission denied' : code}); give a directory of files named after their classes, or a ${MANIFEST_NAME} manifest`, {
      option: '--bundle',
      cause: e,
    });
  }
  const manifest = isDir ? join(path, MANIFEST_NAME) : path;
  let text: string | null = null;
  try {
    text = readFileSync(manifest, 'utf8');
  } catch (e) {
    if (!isDir || (e as NodeJS.ErrnoException).code !== 'ENOENT') {
      throw new SluiceError('E_USAGE', `--bundle: cannot read the manifest ${manifest} (${(e as NodeJS.ErrnoException).code})`, { option: '--bundle', cause: e });
    }
  }
  if (text !== null) return { entries: parseManifest(model, text, manifest), manifest };
  const names = readdirSync(path, { withFileTypes: true })
    .filter((d) => d.isFile() || d.isSymbolicLink())
    .map((d) => d.name);
  return { entries: entriesFromNames(model, path, names), manifest: null };
}
