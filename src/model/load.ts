import { readFileSync } from 'node:fs';
import { SluiceError } from '../base/errors.js';
import { ATTR_TYPES, type Attribute, type AttributeFile, type ClassDef, type Model, type ModelFile } from './types.js';

const IDENT = /^[A-Za-z_][A-Za-z0-9_]*$/;
const RESERVED = new Set(['id', 'source', 'source_id']);

function fail(message: string, file?: string): never {
  throw new SluiceError('E_MODEL', message, { file });
}

/** Validate a parsed model file and build the lookup structures the engine uses. */
export function buildModel(file: ModelFile, fileName = 'model'): Model {
  if (typeof file !== 'object' || file === null || typeof file.classes !== 'object' || file.classes === null) {
    fail(`${fileName}: a model is an object with a "classes" object`, fileName);
  }
  const classes = new Map<string, ClassDef>();
  const tableNames = new Set<string>();
  for (const [name, cls] of Object.entries(file.classes)) {
    if (!IDENT.test(name) || name.startsWith('_')) {
      fail(`${fileName}: class name "${name}" must be letters, digits and _ and not start with _ or a digit`, fileName);
    }
    if (typeof cls !== 'object' || cls === null || typeof cls.attributes !== 'object' || cls.attributes === null) {
      fail(`${fileName}: class ${name} needs an "attributes" object`, fileName);
    }
    const lower = name.toLowerCase();
    if (tableNames.has(lower)) fail(`${fileName}: class ${name} is declared twice (class names are case-insensitive)`, fileName);
    tableNames.add(lower);
    const attributes: Attribute[] = [];
    const byCode = new Map<string, Attribute>();
    for (const [code, a] of Object.entries(cls.attributes)) {
      const where = `${fileName}: ${name}.${code}`;
      if (!IDENT.test(code)) fail(`${where}: attribute code must be letters, digits and _`, fileName);
      if (RESERVED.has(code.toLowerCase())) fail(`${where}: "${code}" is reserved (id, source, source_id exist on every class)`, fileName);
      if (code.startsWith('_')) fail(`${where}: attribute codes starting with _ are reserved for Sluice's own columns`, fileName);
      if ([...byCode.keys()].some((c) => c.toLowerCase() === code.toLowerCase())) fail(`${where}: declared twice`, fileName);
      const attr = buildAttribute(name, code, a, where, fileName);
      attributes.push(attr);
      byCode.set(code, attr);
    }
    const reconciliation = cls.reconciliation ?? [];
    if (!Array.isArray(reconciliation)) fail(`${fileName}: ${name}.reconciliation must be a list of attribute codes`, fileName);
    for (const k of reconciliation) {
      const a = byCode.get(k);
      if (!a) fail(`${fileName}: ${name}.reconciliation names "${k}", not an attribute of ${name} (valid: ${[...byCode.keys()].join(', ')})`, fileName);
      if (a.type === 'links' || a.type === 'password') fail(`${fileName}: ${name}.reconciliation cannot use ${a.type} attribute "${k}"`, fileName);
    }
    classes.set(name, { name, label: cls.label ?? name, attributes, byCode, reconciliation });
  }
  for (const cls of classes.values()) {
    for (const a of cls.attributes) {
      if (a.target !== undefined && !classes.has(a.target)) {
        fail(`${fileName}: ${cls.name}.${a.code} refers to class "${a.target}", which is not declared (valid: ${[...classes.keys()].join(', ')})`, fileName);
      }
      if (a.linkTable !== undefined) {
        if (tableNames.has(a.linkTable.toLowerCase())) fail(`${fileName}: link table ${a.linkTable} of ${cls.name}.${a.code} collides with a class name`, fileName);
        tableNames.add(a.linkTable.toLowerCase());
      }
    }
  }
  validateSeed(file, classes, fileName);
  return { classes, file };
}

function buildAttribute(cls: string, code: string, a: AttributeFile, where: string, fileName: string): Attribute {
  if (typeof a !== 'object' || a === null) fail(`${where}: an attribute is an object with a "type"`, fileName);
  if (!ATTR_TYPES.includes(a.type)) fail(`${where}: type "${String(a.type)}" is not one of ${ATTR_TYPES.join(', ')}`, fileName);
  if ((a.type === 'ref' || a.type === 'links') && typeof a.class !== 'string') fail(`${where}: a ${a.type} attribute needs "class"`, fileName);
  if (a.type === 'enum') {
    if (typeof a.values !== 'object' || a.values === null || Object.keys(a.values).length === 0) fail(`${where}: an enum needs "values" (code → label)`, fileName);
  }
  if (a.maxLength !== undefined && (!Number.isInteger(a.maxLength) || a.maxLength <= 0)) fail(`${where}: maxLength must be a positive integer`, fileName);
  if (a.pattern !== undefined) {
    try {
      new RegExp(a.pattern, 'u');
    } catch {
      fail(`${where}: pattern "${a.pattern}" is not a valid regular expression`, fileName);
    }
  }
  if (a.type === 'enum' && a.default !== undefined && a.default !== null && !(String(a.default) in (a.values ?? {}))) {
    fail(`${where}: default "${String(a.default)}" is not one of the values (${Object.keys(a.values ?? {}).join(', ')})`, fileName);
  }
  if ((a.type === 'links' || a.type === 'password') && a.unique) fail(`${where}: a ${a.type} attribute cannot be unique`, fileName);
  return {
    code,
    label: a.label ?? code,
    type: a.type,
    mandatory: a.mandatory === true,
    unique: a.unique === true,
    default: a.default,
    maxLength: a.maxLength,
    pattern: a.pattern,
    values: a.values,
    target: a.class,
    itemKey: a.type === 'links' ? (a.itemKey ?? `${(a.class ?? '').toLowerCase()}_id`) : undefined,
    linkTable: a.type === 'links' ? `${cls}_${code}` : undefined,
  };
}

function validateSeed(file: ModelFile, classes: Map<string, ClassDef>, fileName: string): void {
  for (const [name, rows] of Object.entries(file.seed ?? {})) {
    const cls = classes.get(name);
    if (!cls) fail(`${fileName}: seed names class "${name}", which is not declared`, fileName);
    if (!Array.isArray(rows)) fail(`${fileName}: seed.${name} must be a list of objects`, fileName);
    for (const row of rows) {
      for (const k of Object.keys(row)) {
        const a = cls.byCode.get(k);
        if (!a || a.type === 'ref' || a.type === 'links') fail(`${fileName}: seed.${name} sets "${k}", which is not a plain attribute of ${name}`, fileName);
      }
    }
  }
}

/** Load a model file from disk. */
export function loadModelFile(path: string): Model {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    throw new SluiceError('E_MODEL', `cannot read model file ${path}: ${(err as NodeJS.ErrnoException).code ?? String(err)}`, { file: path, option: '--model', cause: err });
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (err) {
    throw new SluiceError('E_MODEL', `model file ${path} is not valid JSON: ${(err as Error).message}`, { file: path, option: '--model', cause: err });
  }
  return buildModel(json as ModelFile, path);
}

/** Find a class by name, case-insensitively, or fail naming the valid ones. */
export function findClass(model: Model, name: string, option = '--class'): ClassDef {
  const exact = model.classes.get(name);
  if (exact) return exact;
  for (const c of model.classes.values()) if (c.name.toLowerCase() === name.toLowerCase()) return c;
  throw new SluiceError('E_USAGE', `unknown class "${name}" for ${option} (valid: ${[...model.classes.keys()].join(', ')})`, { option });
}

/**
 * Find an attribute by code, then by label, case-insensitively (a code wins over a label).
 * Returns undefined when nothing matches.
 */
export function findAttribute(cls: ClassDef, name: string): Attribute | undefined {
  const exact = cls.byCode.get(name);
  if (exact) return exact;
  const n = name.trim().toLowerCase();
  for (const a of cls.attributes) if (a.code.toLowerCase() === n) return a;
  for (const a of cls.attributes) if (a.label.toLowerCase() === n) return a;
  return undefined;
}
