/** The model file as written by users (SPEC §1). */
export interface ModelFile {
  classes: Record<string, ClassFile>;
  /** Objects created by `sluice init`, per class, as attribute-code → value maps. */
  seed?: Record<string, Array<Record<string, string | number | boolean | null>>>;
}

export interface ClassFile {
  label?: string;
  attributes: Record<string, AttributeFile>;
  reconciliation?: string[];
}

export type AttrType =
  | 'string'
  | 'text'
  | 'integer'
  | 'decimal'
  | 'boolean'
  | 'date'
  | 'datetime'
  | 'enum'
  | 'ref'
  | 'links'
  | 'password';

export const ATTR_TYPES: readonly AttrType[] = [
  'string', 'text', 'integer', 'decimal', 'boolean', 'date', 'datetime', 'enum', 'ref', 'links', 'password',
];

export type Scalar = string | number | boolean | null;

export interface AttributeFile {
  type: AttrType;
  label?: string;
  mandatory?: boolean;
  unique?: boolean;
  default?: Scalar;
  maxLength?: number;
  pattern?: string;
  values?: Record<string, string>;
  class?: string;
  /** links only: the name iTop gives the item key in `key->attr:value` cells (e.g. `profileid`). */
  itemKey?: string;
}

/** A validated attribute. Its `code` is also its SQL column name. */
export interface Attribute {
  code: string;
  label: string;
  type: AttrType;
  mandatory: boolean;
  unique: boolean;
  default: Scalar | undefined;
  maxLength: number | undefined;
  pattern: string | undefined;
  /** enum: code → label */
  values: Record<string, string> | undefined;
  /** ref/links: the target class name */
  target: string | undefined;
  /** links: accepted item-key prefix in `key->attr:value` cells */
  itemKey: string | undefined;
  /** links: the link table name */
  linkTable: string | undefined;
}

export interface ClassDef {
  name: string;
  label: string;
  /** Attributes in declaration order. */
  attributes: Attribute[];
  byCode: Map<string, Attribute>;
  reconciliation: string[];
}

export interface Model {
  classes: Map<string, ClassDef>;
  file: ModelFile;
}

/** Stored in SQLite for each kind of attribute (links live in their own table). */
export function isStoredColumn(a: Attribute): boolean {
  return a.type !== 'links';
}
