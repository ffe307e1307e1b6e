/**
 * `sluice schema`: the model stored in a database, told as what a file header can name.
 * The descriptions are built by pure functions (tested directly); the command prints them.
 */
import { SluiceError } from '../base/errors.js';
import { defaultColumns, defaultRefSubs, linkItemAttr } from '../export/columns.js';
import { findClass } from '../model/load.js';
import { storeFor } from '../store/store.js';
import type { Attribute, ClassDef, Model, Scalar } from '../model/types.js';
import { helpText, parseCommand, type OptionSpec } from './args.js';

const SPECS: Record<string, OptionSpec> = {
  class: { type: 'string', value: 'C', help: 'describe only this class', default: 'every class' },
  format: { type: 'string', value: 'text|json', help: 'text for a terminal, json for scripts', default: 'text' },
  db: { type: 'string', value: 'FILE|URL', help: 'database file, or postgres://user@host/db[?schema=NAME] (docs/postgres.md)', default: 'SLUICE_DB or ./sluice.db' },
};

export interface AttributeInfo {
  code: string;
  label: string;
  type: string;
  mandatory: boolean;
  unique: boolean;
  default: Scalar;
  maxLength: number | null;
  pattern: string | null;
  /** enum values in declaration order */
  values: { code: string; label: string }[] | null;
  /** ref/links: the class it points to */
  target: string | null;
  /** links: the prefix of `key->attr:value` items, and the attribute a bare item names */
  itemKey: string | null;
  itemAttribute: string | null;
  /** how a header names it: `org_id->name` for a reference (`org_id` alone takes the id) */
  header: string[];
}

export interface ClassInfo {
  name: string;
  label: string;
  /** default reconciliation keys, as attribute codes and as header columns */
  reconciliation: string[];
  reconciliationColumns: string[];
  /** columns every class has */
  reserved: string[];
  attributes: AttributeInfo[];
  /** a header naming every attribute but passwords, as `sluice export` writes it */
  exampleHeader: string;
}

function refHeader(model: Model, a: Attribute): string[] {
  const target = model.classes.get(a.target as string) as ClassDef;
  return defaultRefSubs(target).map((s) => `${a.code}->${s}`);
}

export function describeAttribute(model: Model, a: Attribute): AttributeInfo {
  const target = a.target === undefined ? undefined : (model.classes.get(a.target) as ClassDef);
  return {
    code: a.code,
    label: a.label,
    type: a.type,
    mandatory: a.mandatory,
    unique: a.unique,
    default: a.default ?? null,
    maxLength: a.maxLength ?? null,
    pattern: a.pattern ?? null,
    values: a.values === undefined ? null : Object.entries(a.values).map(([code, label]) => ({ code, label })),
    target: a.target ?? null,
    itemKey: a.itemKey ?? null,
    itemAttribute: a.type === 'links' && target ? linkItemAttr(target) : null,
    header: a.type === 'ref' ? refHeader(model, a) : [a.code],
  };
}

export function describeClass(model: Model, cls: ClassDef): ClassInfo {
  return {
    name: cls.name,
    label: cls.label,
    reconciliation: [...cls.reconciliation],
    reconciliationColumns: cls.reconciliation.flatMap((k) => {
      const a = cls.byCode.get(k) as Attribute;
      return a.type === 'ref' ? refHeader(model, a) : [k];
    }),
    reserved: ['id', 'source', 'source_id'],
    attributes: cls.attributes.map((a) => describeAttribute(model, a)),
    exampleHeader: defaultColumns(model, cls, false)
      .map((c) => c.header)
      .join(','),
  };
}

function typeText(a: AttributeInfo): string {
  if (a.type === 'ref' || a.type === 'links') return `${a.type} → ${a.target}`;
  if (a.maxLength !== null) return `${a.type}(${a.maxLength})`;
  return a.type;
}

function notes(a: AttributeInfo): string[] {
  const out: string[] = [];
  if (a.mandatory) out.push('mandatory');
  if (a.unique) out.push('unique');
  if (a.default !== null && a.default !== '') out.push(`default ${String(a.default)}`);
  if (a.type === 'ref') out.push(`write as ${a.header.join(' + ')} (or ${a.code} with the id)`);
  if (a.type === 'links') out.push(`items by ${a.itemAttribute} separated by |, or ${a.itemKey}->attribute:value`);
  if (a.type === 'password') out.push('stored hashed, never exported');
  if (a.type === 'boolean') out.push('yes/no');
  if (a.type === 'date') out.push('YYYY-MM-DD');
  if (a.type === 'datetime') out.push('YYYY-MM-DD HH:MM:SS');
  if (a.pattern !== null) out.push(`pattern ${a.pattern}`);
  return out;
}

/** Enum values as `code (Label)` items, in lines of about `width` characters. */
function wrapValues(values: { code: string; label: string }[], width: number): string[] {
  const items = values.map((v) => (v.label === v.code ? v.code : `${v.code} (${v.label})`));
  const lines: string[] = [];
  let line = '';
  for (const it of items) {
    if (line !== '' && line.length + 2 + it.length > width) {
      lines.push(`${line},`);
      line = it;
    } else line = line === '' ? it : `${line}, ${it}`;
  }
  if (line !== '') lines.push(line);
  return lines;
}

export function classText(c: ClassInfo): string {
  const lines: string[] = [];
  lines.push(c.label === c.name ? c.name : `${c.name} — ${c.label}`);
  lines.push(`  reconciliation keys: ${c.reconciliation.length > 0 ? c.reconciliationColumns.join(', ') : 'none (match by id or source + source_id)'}`);
  lines.push(`  every class also has: ${c.reserved.join(', ')}`);
  lines.push('');
  const head = { code: 'CODE', label: 'LABEL', type: 'TYPE' };
  const wCode = Math.max(head.code.length, ...c.attributes.map((a) => a.code.length));
  const wLabel = Math.max(head.label.length, ...c.attributes.map((a) => a.label.length));
  const wType = Math.max(head.type.length, ...c.attributes.map((a) => typeText(a).length));
  const row = (code: string, label: string, type: string, rest: string): string =>
    `  ${code.padEnd(wCode)}  ${label.padEnd(wLabel)}  ${type.padEnd(wType)}  ${rest}`.trimEnd();
  lines.push(row(head.code, head.label, head.type, 'NOTES'));
  const valueIndent = ' '.repeat(2 + wCode + 2);
  for (const a of c.attributes) {
    lines.push(row(a.code, a.label, typeText(a), notes(a).join('; ')));
    if (a.values) wrapValues(a.values, 72).forEach((l, i) => lines.push(`${valueIndent}${i === 0 ? 'values: ' : '        '}${l}`));
  }
  lines.push('');
  lines.push(`  example header: ${c.exampleHeader}`);
  return lines.join('\n') + '\n';
}

export function schemaText(classes: readonly ClassInfo[], all: boolean): string {
  const parts: string[] = [];
  if (all) parts.push(`${classes.length} classes: ${classes.map((c) => c.name).join(', ')}\n`);
  for (const c of classes) parts.push(classText(c));
  return parts.join('\n');
}


export async function schemaCommand(argv: string[]): Promise<number> {
  const a = parseCommand('schema', argv, SPECS);
  if (a.help) {
    process.stdout.write(helpText('schema', '[--class C] [--format text|json] [--db FILE|URL]', SPECS, 'sluice schema --class Person'));
    return 0;
  }
  const format = ((a.format as string | undefined) ?? 'text').toLowerCase();
  if (format !== 'text' && format !== 'json') throw new SluiceError('E_USAGE', `--format: "${String(a.format)}" is not valid (valid: text, json)`, { option: '--format' });
  const dbPath = (a.db as string | undefined) ?? process.env.SLUICE_DB ?? 'sluice.db';
  const model = await (await storeFor(dbPath)).storedModel(dbPath, a.db === undefined && process.env.SLUICE_DB !== undefined ? '--db (SLUICE_DB)' : '--db');
  const only = a.class as string | undefined;
  const list = only === undefined ? [...model.classes.values()] : [findClass(model, only)];
  const classes = list.map((c) => describeClass(model, c));
  if (format === 'json') process.stdout.write(JSON.stringify({ classes }, null, 2) + '\n');
  else process.stdout.write(schemaText(classes, a.class === undefined));
  return 0;
}
