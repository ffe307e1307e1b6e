/**
 * Helpers for the crash-consistency tests: deterministic Person feeds with a reference
 * model of what applying them row by row must give, an import killed with SIGKILL at a
 * chosen instant, and readers of the store's state after the kill.
 */
import { spawn } from 'node:child_process';
import Database from 'better-sqlite3';
import { CLI, ENTRIES_OF_ROW } from './cli.js';
import type { Counts } from '../../src/report/types.js';
import { prng } from './random.js';

// ------------------------------------------------------------------ feeds and model

/** The organizations every feed references (two with a comma, so they are quoted). */
export const ORGS = ['Acme, Inc.', 'Globex', 'Initech, Ltd'] as const;

export const PERSON_HEADER = 'name,first_name,org_id->name,email,function';

/** name, first_name, organization name, function: the columns of a feed besides the key. */
export type Values = readonly [name: string, firstName: string, org: string, fn: string];

export interface DataRow {
  /** physical line where the record starts (header = 1) */
  line: number;
  email: string;
  values: Values;
}

export interface Feed {
  rows: DataRow[];
  text: string;
}

/** The Person table as the model sees it: email → the values joined. */
export type State = Map<string, string>;

export const valueKey = (v: Values): string => v.join('\u001f');

export function csvCell(value: string): string {
  return /[",\r\n]|^\s|\s$/.test(value) ? `"${value.replaceAll('"', '""')}"` : value;
}

class FeedWriter {
  readonly rows: DataRow[] = [];
  private readonly parts: string[] = [PERSON_HEADER, '\n'];
  private line = 2;

  add(email: string, values: Values): void {
    this.rows.push({ line: this.line, email, values });
    const [name, first, org, fn] = values;
    const text = [name, first, org, email, fn].map(csvCell).join(',');
    this.parts.push(text, '\n');
    for (const ch of text) if (ch === '\n') this.line++;
    this.line++;
  }

  feed(): Feed {
    return { rows: this.rows, text: this.parts.join('') };
  }
}

function functionOf(i: number): string {
  // Mostly a quoted comma; now and then doubled quotes and a quoted line break.
  if (i % 97 === 0) return `Lead "ops", night\nshift ${i % 5}`;
  return `Engineer, level ${i % 7}`;
}

/**
 * A first load: mostly new people, with some rows (about 8%) that update a person an
 * earlier row of the same file created and a few (1%) that repeat one unchanged.
 */
export function initialFeed(n: number, seed = 1): Feed {
  const rnd = prng(seed);
  const w = new FeedWriter();
  const current = new Map<string, Values>();
  const created: string[] = [];
  for (let i = 0; i < n; i++) {
    const r = rnd();
    if (i >= 100 && r < 0.08) {
      const email = created[Math.floor(rnd() * created.length)] as string;
      const old = current.get(email) as Values;
      const values: Values = [old[0], i % 3 === 0 ? `Jane, ${i}` : old[1], ORGS[(i + 1) % ORGS.length] as string, `Moved, row ${i}`];
      current.set(email, values);
      w.add(email, values);
    } else if (i >= 100 && r < 0.09) {
      const email = created[Math.floor(rnd() * created.length)] as string;
      w.add(email, current.get(email) as Values);
    } else {
      const email = `p${i}@example.org`;
      const values: Values = [`Doe${i}`, `Jane, ${i}`, ORGS[i % ORGS.length] as string, functionOf(i)];
      current.set(email, values);
      created.push(email);
      w.add(email, values);
    }
  }
  return w.feed();
}

/**
 * A feed on top of a loaded state: about 40% rows that leave a person as it is, 30% that
 * update an existing person, 25% new people and 5% updates of people created earlier in
 * this same file.
 */
export function updateFeed(n: number, base: State, seed = 2): Feed {
  const rnd = prng(seed);
  const w = new FeedWriter();
  const existing = [...base.keys()];
  const current = new Map<string, Values>();
  for (const [email, key] of base) current.set(email, key.split('\u001f') as unknown as Values);
  const created: string[] = [];
  for (let i = 0; i < n; i++) {
    const r = rnd();
    if (r < 0.4) {
      const email = existing[Math.floor(rnd() * existing.length)] as string;
      w.add(email, current.get(email) as Values);
    } else if (r < 0.7) {
      const email = existing[Math.floor(rnd() * existing.length)] as string;
      const old = current.get(email) as Values;
      const values: Values = [old[0], old[1], i % 4 === 0 ? (ORGS[(i + 2) % ORGS.length] as string) : old[2], `Promoted, batch ${i}`];
      current.set(email, values);
      w.add(email, values);
    } else if (r < 0.95 || created.length === 0) {
      const email = `q${i}@example.org`;
      const values: Values = [`Roe${i}`, `John, ${i}`, ORGS[(i + 1) % ORGS.length] as string, functionOf(i + 1)];
      current.set(email, values);
      created.push(email);
      w.add(email, values);
    } else {
      const email = created[Math.floor(rnd() * created.length)] as string;
      const old = current.get(email) as Values;
      const values: Values = [old[0], `Johnny, ${i}`, old[2], `Renamed, row ${i}`];
      current.set(email, values);
      w.add(email, values);
    }
  }
  return w.feed();
}

export interface ModelCounts {
  created: number;
  updated: number;
  unchanged: number;
}

/**
 * Apply rows [from, to) of a feed to `state` one at a time, as SPEC §2 defines it for a
 * feed that gives every column of the key's object: no match creates, equal values leave
 * it unchanged, anything else updates. Returns the counts and, in `lines`, the line and
 * status of every row that was not unchanged.
 */
export function applyRows(state: State, feed: Feed, from: number, to: number, lines?: [number, string][]): ModelCounts {
  const c: ModelCounts = { created: 0, updated: 0, unchanged: 0 };
  for (let i = from; i < to; i++) {
    const row = feed.rows[i] as DataRow;
    const key = valueKey(row.values);
    const old = state.get(row.email);
    if (old === undefined) {
      c.created++;
      lines?.push([row.line, 'created']);
    } else if (old === key) {
      c.unchanged++;
    } else {
      c.updated++;
      lines?.push([row.line, 'updated']);
    }
    state.set(row.email, key);
  }
  return c;
}

/** What differs between two states, for assertion messages. */
export function stateDiff(actual: State, expected: State, max = 5): string | null {
  const missing: string[] = [];
  const extra: string[] = [];
  const different: string[] = [];
  for (const [email, v] of expected) {
    const a = actual.get(email);
    if (a === undefined) missing.push(email);
    else if (a !== v) different.push(`${email}: ${JSON.stringify(a)} ≠ expected ${JSON.stringify(v)}`);
  }
  for (const email of actual.keys()) if (!expected.has(email)) extra.push(email);
  if (missing.length + extra.length + different.length === 0) return null;
  return (
    `${actual.size} persons, expected ${expected.size}: ${missing.length} missing (${missing.slice(0, max).join(', ')}), ` +
    `${extra.length} unexpected (${extra.slice(0, max).join(', ')}), ${different.length} with other values (${different.slice(0, max).join('; ')})`
  );
}

// ------------------------------------------------------------------ the store

/** The Person table through the model's eyes; null when an email occurs more than once. */
export function readState(db: Database.Database): { state: State; rows: number } {
  const rows = db
    .prepare('SELECT p.email, p.name, p.first_name, o.name AS org, p.function FROM Person p LEFT JOIN Organization o ON o.id = p.org_id')
    .raw()
    .all() as [string, string, string, string, string][];
  const state: State = new Map();
  for (const [email, name, first, org, fn] of rows) state.set(email, valueKey([name, first, org, fn]));
  return { state, rows: rows.length };
}

/**
 * How the Person table differs from the one in the database at `reference` (a run never
 * killed), comparing every column but the assigned id, by email; null when they are equal.
 */
export function personDiff(db: Database.Database, reference: string): string | null {
  db.prepare('ATTACH DATABASE ? AS ref').run(reference);
  try {
    const cols = (db.prepare(`SELECT name FROM pragma_table_info('Person')`).pluck().all() as string[]).filter((c) => c !== 'id').map((c) => `"${c}"`).join(', ');
    const problems: string[] = [];
    for (const side of ['main', 'ref']) {
      const n = scalar<number>(db, `SELECT count(*) FROM ${side}.Person`);
      const emails = scalar<number>(db, `SELECT count(DISTINCT email) FROM ${side}.Person`);
      if (n !== emails) problems.push(`${side}: ${n} Person rows for ${emails} emails`);
    }
    const only = (a: string, b: string): string => `SELECT ${cols} FROM ${a}.Person EXCEPT SELECT ${cols} FROM ${b}.Person`;
    for (const [a, b, what] of [['ref', 'main', 'missing or different'], ['main', 'ref', 'unexpected or different']] as const) {
      const n = scalar<number>(db, `SELECT count(*) FROM (${only(a, b)})`);
      if (n > 0) problems.push(`${n} rows of the clean run's Person table ${what}, e.g. ${JSON.stringify(db.prepare(`${only(a, b)} LIMIT 3`).all())}`);
    }
    return problems.length === 0 ? null : problems.join('\n');
  } finally {
    db.exec('DETACH DATABASE ref');
  }
}

export const LINK_TABLES = ['Team_persons_list', 'UserLocal_profile_list', 'Server_software_list'] as const;

/** What a Person import must never touch: other classes and the link tables. */
export function untouchedTables(db: Database.Database): string {
  const parts: unknown[] = [];
  for (const t of ['Organization', 'Location', 'Team', 'UserLocal', 'Profile', 'Server', 'Software', ...LINK_TABLES]) {
    parts.push(t, db.prepare(`SELECT * FROM "${t}" ORDER BY 1, 2`).raw().all());
  }
  return JSON.stringify(parts);
}

/** A `_sluice_change` row: its run's counts (but warnings) and what it was. */
export interface ChangeRow extends Omit<Counts, 'warnings'> {
  id: number;
  class: string;
  outcome: string;
  lines: number;
}

export function changesAfter(db: Database.Database, id: number): ChangeRow[] {
  return db.prepare('SELECT id, class, outcome, lines, created, updated, unchanged, deleted, skipped, errors FROM _sluice_change WHERE id > ? ORDER BY id').all(id) as ChangeRow[];
}

/** History entries of one change by operation (a range row counts each object), and the created objects that no longer exist. */
export function historyOf(db: Database.Database, change: number): { total: number; ops: Record<string, number>; orphans: number } {
  const ops: Record<string, number> = {};
  let total = 0;
  const byOp = `SELECT op, sum(${ENTRIES_OF_ROW}) AS n FROM _sluice_history WHERE change_id = ? GROUP BY op`;
  for (const r of db.prepare(byOp).all(change) as { op: string; n: number }[]) {
    ops[r.op] = r.n;
    total += r.n;
  }
  const orphans = (
    db
      .prepare(
        `SELECT coalesce(sum(${ENTRIES_OF_ROW} - (SELECT count(*) FROM Person p WHERE p.id BETWEEN h.object_id AND coalesce(h.last_object_id, h.object_id))), 0) AS n
         FROM _sluice_history h WHERE h.change_id = ? AND h.class = 'Person'`,
      )
      .get(change) as { n: number }
  ).n;
  return { total, ops, orphans };
}

export function scalar<T>(db: Database.Database, sql: string, ...params: unknown[]): T {
  return db.prepare(sql).pluck().get(...params) as T;
}

// ------------------------------------------------------------------ killing an import

/** When to send SIGKILL. */
export type KillAt =
  | { kind: 'spawn' }
  | { kind: 'delay'; ms: number }
  | { kind: 'start' }
  | { kind: 'lines'; lines: number; delayMs?: number };

export function describeKill(k: KillAt): string {
  switch (k.kind) {
    case 'spawn':
      return 'right after spawn';
    case 'delay':
      return `${k.ms} ms after spawn (start-up)`;
    case 'start':
      return 'at the "start" progress event';
    case 'lines':
      return `once ${k.lines} lines are applied${k.delayMs ? ` + ${k.delayMs} ms` : ''}`;
  }
}

export interface KillResult {
  /** SIGKILL was sent before the process ended on its own */
  sent: boolean;
  code: number | null;
  signal: NodeJS.Signals | null;
  /** lines of the last progress event seen when the signal was sent */
  linesAtKill: number | null;
  stdout: string;
  stderr: string;
}

/**
 * Run the built CLI with `args` (which must include `--progress json`) and SIGKILL it at
 * the instant `at` describes. Resolves once the process is gone.
 */
export function importAndKill(args: readonly string[], at: KillAt): Promise<KillResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [CLI, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    let pending = '';
    let sent = false;
    let exited = false;
    let lastLines: number | null = null;
    let linesAtKill: number | null = null;
    let timer: NodeJS.Timeout | undefined;
    const kill = (): void => {
      if (sent || exited) return;
      sent = true;
      linesAtKill = lastLines;
      child.kill('SIGKILL');
    };
    child.on('error', reject);
    child.on('exit', () => {
      exited = true;
    });
    child.on('close', (code, signal) => {
      if (timer) clearTimeout(timer);
      resolve({ sent: sent && signal === 'SIGKILL', code, signal, linesAtKill, stdout, stderr });
    });
    child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
    child.stderr.setEncoding('utf8').on('data', (d: string) => {
      stderr += d;
      pending += d;
      let nl: number;
      while ((nl = pending.indexOf('\n')) >= 0) {
        const line = pending.slice(0, nl);
        pending = pending.slice(nl + 1);
        let ev: { event?: string; lines?: number };
        try {
          ev = JSON.parse(line) as { event?: string; lines?: number };
        } catch {
          continue;
        }
        if (typeof ev.lines === 'number') lastLines = ev.lines;
        if (sent || timer) continue;
        if (at.kind === 'start' && ev.event === 'start') kill();
        else if (at.kind === 'lines' && ev.event === 'progress' && (ev.lines ?? 0) >= at.lines) {
          if (at.delayMs) timer = setTimeout(kill, at.delayMs);
          else kill();
        }
      }
    });
    if (at.kind === 'spawn') kill();
    else if (at.kind === 'delay') timer = setTimeout(kill, at.ms);
  });
}

/** Open a database read-write (recovering the WAL a killed writer left), run `fn`, close it. */
export function withDb<T>(path: string, fn: (db: Database.Database) => T): T {
  const db = new Database(path, { fileMustExist: true });
  try {
    return fn(db);
  } finally {
    db.close();
  }
}

/** Fold the WAL into the database file so that copying the one file copies the whole state. */
export function checkpoint(path: string): void {
  withDb(path, (db) => {
    db.pragma('journal_mode = WAL');
    db.pragma('wal_checkpoint(TRUNCATE)');
  });
}
