/** Starting databases for the contestants, and the checks made on what they leave behind. */
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { copyFileSync, existsSync, mkdirSync, rmSync } from 'node:fs';
import { dirname } from 'node:path';
import Database from 'better-sqlite3';
import { SLUICE_CLI } from './paths.js';

export function removeDb(path: string): void {
  for (const suffix of ['', '-wal', '-shm', '-journal']) rmSync(path + suffix, { force: true });
}

/** Run the Sluice CLI to completion (setup steps, not measured). */
export function sluice(args: string[]): string {
  try {
    return execFileSync(process.execPath, [SLUICE_CLI, ...args], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], maxBuffer: 64 << 20 });
  } catch (err) {
    const e = err as { status?: number; stderr?: string; stdout?: string };
    throw new Error(`sluice ${args.join(' ')} failed (exit ${e.status}): ${(e.stderr ?? '').trim() || (e.stdout ?? '').slice(0, 2000)}`, { cause: err });
  }
}

/** A fresh `cmdb` database with the organizations loaded: every scenario starts from it. */
export function createTemplate(path: string, organizationsFile: string): void {
  mkdirSync(dirname(path), { recursive: true });
  removeDb(path);
  sluice(['init', '--db', path]);
  sluice(['import', '--class', 'Organization', '--file', organizationsFile, '--keys', 'name', '--output', 'summary', '--progress', 'none', '--db', path]);
  checkpoint(path);
}

/** Fold the WAL into the main file, so copying the main file copies the whole database. */
export function checkpoint(path: string): void {
  const db = new Database(path, { fileMustExist: true });
  try {
    db.pragma('wal_checkpoint(TRUNCATE)');
  } finally {
    db.close();
  }
}

export function copyDb(from: string, to: string): void {
  if (!existsSync(from)) throw new Error(`no database ${from}`);
  checkpoint(from);
  mkdirSync(dirname(to), { recursive: true });
  removeDb(to);
  copyFileSync(from, to);
}

export interface PersonState {
  count: number;
  /** sha256 of the sorted emails: the same set of reconciled objects */
  emailDigest: string;
  /** sha256 of every imported attribute, by email: the same final content */
  contentDigest: string;
}

/** The imported attributes, compared between contestants; email first (it orders the rows). */
export const CONTENT_COLUMNS = ['email', 'first_name', 'name', 'phone', 'mobile_phone', 'function', 'employee_number', 'status', 'notify', 'org_id'];

/**
 * The digests of Person rows fed in `ORDER BY email, id`, each row its CONTENT_COLUMNS with
 * an empty cell as ''; the same rows give the same state whichever store they come from.
 */
export class PersonDigest {
  private count = 0;
  private readonly emails = createHash('sha256');
  private readonly content = createHash('sha256');

  add(row: readonly unknown[]): void {
    this.count++;
    this.emails.update(`${String(row[0])}\n`);
    this.content.update(`${row.map(String).join('\t')}\n`);
  }

  state(): PersonState {
    return { count: this.count, emailDigest: this.emails.digest('hex'), contentDigest: this.content.digest('hex') };
  }
}

export function personState(path: string): PersonState {
  const db = new Database(path, { readonly: true, fileMustExist: true });
  try {
    const digest = new PersonDigest();
    // An empty cell may be stored as '' or NULL depending on who wrote it; both mean "no value".
    const cols = CONTENT_COLUMNS.map((c) => `COALESCE("${c}", '')`).join(', ');
    const stmt = db.prepare(`SELECT ${cols} FROM "Person" ORDER BY email, id`).raw(true);
    for (const row of stmt.iterate() as IterableIterator<unknown[]>) digest.add(row);
    return digest.state();
  } finally {
    db.close();
  }
}
