import type Database from 'better-sqlite3';
import { q } from '../model/schema.js';
import type { Scalar } from '../model/types.js';

/**
 * Buffers rows for one table and inserts them with multi-row VALUES statements:
 * one statement execution per `rowsPerStatement` rows instead of one per row.
 * The caller flushes before anything reads the table.
 */
export class InsertBatcher {
  private readonly many: Database.Statement;
  private readonly one: Database.Statement;
  private readonly params: Scalar[] = [];
  private rows = 0;

  constructor(
    db: Database.Database,
    table: string,
    cols: readonly string[],
    private readonly rowsPerStatement: number,
  ) {
    const tuple = `(${cols.map(() => '?').join(', ')})`;
    const head = `INSERT INTO ${q(table)} (${cols.map(q).join(', ')}) VALUES `;
    this.many = db.prepare(head + new Array(rowsPerStatement).fill(tuple).join(', '));
    this.one = db.prepare(head + tuple);
  }

  get pending(): number {
    return this.rows;
  }

  add(row: readonly Scalar[]): void {
    for (const v of row) this.params.push(v);
    if (++this.rows === this.rowsPerStatement) {
      this.many.run(this.params);
      this.params.length = 0;
      this.rows = 0;
    }
  }

  flush(): void {
    if (this.rows === 0) return;
    const width = this.params.length / this.rows;
    for (let r = 0; r < this.rows; r++) this.one.run(this.params.slice(r * width, (r + 1) * width));
    this.params.length = 0;
    this.rows = 0;
  }
}
