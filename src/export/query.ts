/**
 * The one SELECT an export streams, and the small queries that tell it how to write
 * references and link items unambiguously. Identifiers come from the model only.
 */
import { q } from '../model/schema.js';
import type { AttrType, ClassDef } from '../model/types.js';
import type { ExportColumn } from './columns.js';

/**
 * The two expressions of the export query that are written differently per store; every
 * other part is SQL both SQLite and PostgreSQL read alike. Each returns the same values:
 * a result row means the same on both (store/postgres/read.ts).
 */
export interface ExportDialect {
  /**
   * A link set as JSON text, `[[to_id, item value], …]` in to_id order, `[]` when empty;
   * `from` joins the link table `l` to the target `t`, `where` selects the object's links.
   */
  linkSet(item: string, itemType: AttrType, from: string, where: string): string;
  /** 1 when the boolean expression `test` holds, else 0 (null included). */
  flag(test: string): string;
}

export const SQLITE_DIALECT: ExportDialect = {
  linkSet: (item, _itemType, from, where) => `(SELECT json_group_array(json_array(l.to_id, ${item}) ORDER BY l.to_id) FROM ${from} WHERE ${where})`,
  flag: (test) => `coalesce(${test}, 0)`,
};

/** Where each piece of a column's data sits in a result row (arrays, `.raw()` mode). */
export interface RowLayout {
  /** per export column: the result index of its value (links: a JSON array of [id, item value]) */
  value: number[];
  /** per export column that is a refSub: result indexes of the stored reference and of the joined object's id */
  ref: ({ stored: number; joined: number } | null)[];
  /** per export column: whether it names objects of the exported class itself (a reference or a link set into it) */
  self: boolean[];
  /** the result index of the flag "this object names a later object of its class", or -1 when no column can */
  later: number;
}

export interface ExportQuery {
  sql: string;
  /** the same rows, only those whose `later` flag is set: the second pass */
  laterSql: string | null;
  layout: RowLayout;
}

/**
 * Objects in id order (the order they were created in, so a reference to an object of
 * the same class usually points backwards, as a sequential re-import needs; see `later`
 * for the others), each
 * reference joined once, each link set aggregated in a correlated subquery on the link
 * table's primary key.
 */
export function exportQuery(cls: ClassDef, columns: readonly ExportColumn[], dialect: ExportDialect = SQLITE_DIALECT): ExportQuery {
  const select: string[] = [];
  const joins: string[] = [];
  const refAlias = new Map<string, { alias: string; stored: number; joined: number }>();
  const add = (expr: string): number => select.push(expr) - 1;
  const value: number[] = [];
  const ref: RowLayout['ref'] = [];
  columns.forEach((c, i) => {
    ref.push(null);
    switch (c.kind) {
      case 'reserved':
        value.push(add(`c.${q(c.header)}`));
        break;
      case 'attr':
        value.push(add(`c.${q(c.attr.code)}`));
        break;
      case 'refSub': {
        let r = refAlias.get(c.attr.code);
        if (!r) {
          const alias = `r${refAlias.size}`;
          joins.push(`LEFT JOIN ${q(c.target.name)} ${alias} ON ${alias}.id = c.${q(c.attr.code)}`);
          r = { alias, stored: add(`c.${q(c.attr.code)}`), joined: add(`${alias}.id`) };
          refAlias.set(c.attr.code, r);
        }
        ref[i] = { stored: r.stored, joined: r.joined };
        value.push(add(`${r.alias}.${q(c.sub)}`));
        break;
      }
      case 'links': {
        const item = c.itemAttr === 'id' ? 't.id' : `t.${q(c.itemAttr)}`;
        const itemType = c.itemAttr === 'id' ? 'integer' : (c.target.byCode.get(c.itemAttr)?.type ?? 'string');
        value.push(add(dialect.linkSet(item, itemType, `${q(c.attr.linkTable as string)} l JOIN ${q(c.target.name)} t ON t.id = l.to_id`, 'l.from_id = c.id')));
        break;
      }
    }
  });
  if (select.length === 0) select.push('c.id');
  // An object that names itself or a later object of its own class (a child created before
  // its parent) cannot be imported in id order: it is written once without those cells,
  // and again at the end with them, so one import of the file rebuilds it.
  const self = columns.map((c) => (c.kind === 'refSub' || c.kind === 'links') && c.target.name === cls.name);
  const tests = new Set<string>();
  for (const c of columns) {
    if (c.kind === 'refSub' && c.target.name === cls.name) tests.add(`(c.${q(c.attr.code)} >= c.id AND EXISTS (SELECT 1 FROM ${q(cls.name)} t WHERE t.id = c.${q(c.attr.code)}))`);
    if (c.kind === 'links' && c.target.name === cls.name) tests.add(`EXISTS (SELECT 1 FROM ${q(c.attr.linkTable as string)} l JOIN ${q(cls.name)} t ON t.id = l.to_id WHERE l.from_id = c.id AND l.to_id >= c.id)`);
  }
  const laterTest = tests.size === 0 ? null : [...tests].join(' OR ');
  const later = laterTest === null ? -1 : add(dialect.flag(laterTest));
  const from = `SELECT ${select.join(', ')} FROM ${q(cls.name)} c ${joins.join(' ')}`;
  return {
    sql: `${from} ORDER BY c.id`,
    laterSql: laterTest === null ? null : `${from} WHERE ${laterTest} ORDER BY c.id`,
    layout: { value, ref, self, later },
  };
}

/** Values of a link set's item attribute that name more than one object: such items are written by id. */
export function sharedItemsQuery(target: ClassDef, itemAttr: string): string {
  const col = q(itemAttr);
  return `SELECT ${col} FROM ${q(target.name)} WHERE ${col} IS NOT NULL GROUP BY ${col} HAVING count(*) > 1`;
}

/**
 * How many exported objects reference an object whose written sub-values another
 * object of the target class shares: the importer would find both and report the
 * reference ambiguous.
 */
export function sharedRefsQuery(cls: ClassDef, refCode: string, target: ClassDef, subs: readonly string[]): string {
  const cols = subs.map((s) => `r.${q(s)}`).join(', ');
  const group = subs.map(q).join(', ');
  const tuple = subs.length === 1 ? cols : `(${cols})`;
  return (
    `SELECT count(*) FROM ${q(cls.name)} c JOIN ${q(target.name)} r ON r.id = c.${q(refCode)} ` +
    `WHERE ${tuple} IN (SELECT ${group} FROM ${q(target.name)} GROUP BY ${group} HAVING count(*) > 1)`
  );
}

/** Whether any object has a source or source_id, so the default columns need them. */
export function hasSourceQuery(cls: ClassDef): string {
  return `SELECT 1 FROM ${q(cls.name)} WHERE source IS NOT NULL OR source_id IS NOT NULL LIMIT 1`;
}
