/**
 * The writer's logic: applies resolved rows in file order on the one write
 * connection, re-checking any lookup the run itself may have changed, so the result
 * is exactly that of applying the rows one at a time (SPEC §2, the invariant).
 */
import { encodeBlock } from '../report/spool.js';
import type Database from 'better-sqlite3';
import { SluiceError } from '../base/errors.js';
import { pausePoint } from '../base/pause.js';
import { FP_COLUMN, q } from '../model/schema.js';
import type { Attribute, ClassDef, Model, Scalar } from '../model/types.js';
import { emptyValue } from '../rows/cast.js';
import { compileDateFormat, type DateParser } from '../rows/dates.js';
import { mapRows } from '../rows/map.js';
import { type ImportPlan, type LinkSpec, type RefGroup, SlotPolicy } from '../rows/plan.js';
import { Lookup, type Match } from '../resolve/lookup.js';
import { type HitRows, MatchBy, type ResolvedChunk } from '../resolve/protocol.js';
import { type CsvOptions, parseRecords } from '../input/parse.js';
import { bumpGeneration, ensureFingerprintIndex } from '../resolve/fingerprint.js';
import { type LinkIds, keyTuple, refMessage, resolveChunk, resolveLinkItems } from '../resolve/resolve.js';
import { tupleKey } from '../resolve/tuple.js';
import { type Counts, emptyCounts } from '../report/types.js';
import { MASK, hashPassword, verifyPassword } from './password.js';
import { TouchedIds, TouchedKeys, touchedLog2Bits } from './touched.js';
import type { DeferredConstraints } from './prepare.js';
import { type SyncOutcome, type SyncRunConfig, SyncWriter } from '../sync/writer.js';

type DB = Database.Database;
type Stmt = Database.Statement;

export const enum Status {
  Created = 0,
  Updated = 1,
  Unchanged = 2,
  Deleted = 3,
  Skipped = 4,
  Error = 5,
}

export const STATUS_NAMES = ['created', 'updated', 'unchanged', 'deleted', 'skipped', 'error'] as const;

/**
 * Starts a checkpoint of the committed WAL on another connection and thread; the function
 * it returns waits for it to end.
 */
export type CheckpointAside = () => () => void;

export interface RunInfo {
  user: string;
  comment: string;
  file: string;
  simulate: boolean;
  stopOnError: boolean;
  /** commit every N rows; 0 = one transaction */
  chunkSize: number;
}

/**
 * A bundle's file after its first (engine/bundle.ts): its Applier joins the change and the
 * transaction the first file's opened. `prior` is what the bundle's earlier files did: added
 * to this file's figures in the change record, and `committed` (their rows that a failure
 * keeps: all of them with --chunk-size, none in one transaction) to what a failure keeps.
 */
export interface BundlePart {
  change: number;
  prior: { counts: Counts; committed: Counts; lines: number };
}

/** The change record of a run: what it names as its class and action (a bundle names several classes). */
export interface ChangeLabel {
  className: string;
  action: string;
}

/** The writer's verdict on each row of a chunk (columnar, sent back to the run thread). */
export interface AppliedChunk {
  seq: number;
  /** rows handled; fewer than the chunk's when the run stopped inside it */
  count: number;
  /** rows of the chunk matched by fingerprint: not parsed or mapped by the worker */
  hits: number;
  /** each row's outcome (the writer sends them on as a block: replyOf) */
  status: Uint8Array;
  id: Float64Array;
  message: (string | null)[];
  /** updated rows: changed attribute codes, comma-separated */
  changed: (string | null)[];
  /** set when the run stopped at this chunk (first error in all-or-nothing mode) */
  stop: { line: number; message: string } | null;
  lastCommittedLine: number | null;
  /** the run's counts after this chunk */
  counts: Counts;
  /** when the report keeps rows: each row's line and warnings */
  rows: { line: Int32Array; warn: (string | null)[] } | null;
}

/** Lookup "spaces" in the touched-keys filter. */
const SPACE_KEYS = 1;
const SPACE_SOURCE = 2;
const SPACE_REF = 16;

interface RowPlan {
  status: Status;
  id: number | null;
  message: string | null;
  changed: string | null;
}

export class Applier {
  /** The run's counts: of the rows applied while it runs; of the rows kept once it failed (finish). */
  readonly counts: Counts = emptyCounts();
  /** What a failed run applied and then rolled back, by the status those rows had; null until then. */
  rolledBack: Counts | null = null;
  /** The counts as of the last chunk commit: what a failure keeps. */
  private committed: Counts = emptyCounts();
  /** The row in error that stopped the run carries a warning. */
  private stopWarned = false;
  lastCommittedLine: number | null;
  changeId = 0;
  private readonly cls: ClassDef;
  /** rows carry source + source_id (the columns, or a sync's source and record key) */
  private readonly pairs: boolean;
  private readonly lookup: Lookup;
  private readonly touchedKeys: TouchedKeys;
  private readonly touchedIds = new TouchedIds();
  private readonly stored: Attribute[];
  /** for each stored attribute, its value slot or -1 */
  private readonly storedSlot: number[];
  private readonly storedIndex = new Map<string, number>();
  /** where a create's row holds each value of its key tuples (touchRow): the keys, and each self-reference group's */
  private readonly keyPos: number[];
  private readonly selfPos: number[][];
  /** a create's row while it is built (its values are copied to the insert's parameters) */
  private readonly row: Scalar[];
  private readonly defaults: Scalar[];
  private readonly jsonKeys: string[];
  private readonly mandatoryLinks: Attribute[];
  private readonly fetchIndex = new Map<string, number>();
  private readonly slotAttrs: Attribute[];
  /** a sync's update policy per value slot and per link spec (all master otherwise) */
  private readonly slotPolicy: SlotPolicy[];
  private readonly linkPolicy: SlotPolicy[];
  private readonly insertStmt: Stmt;
  /** positions in a create's row of the columns its insert sets (the fingerprint follows) */
  private readonly insertCols: number[];
  private readonly insertParams: Scalar[];
  /**
   * Creates are written CREATE_BATCH rows per INSERT (one statement per row count, made
   * when first needed): binding a row's values one statement call at a time cost the
   * writer more than SQLite's insert itself. Null when a create needs its id at once
   * (link sets, or a history row of its own).
   */
  private readonly batchStmts: (Stmt | undefined)[] | null;
  private readonly batchParams: Scalar[];
  /** the creates waiting in batchParams: their positions in the chunk being applied */
  private readonly queued: number[] = [];
  /** the chunk being applied, while its creates wait */
  private current: {
    out: AppliedChunk;
    line: Int32Array;
    warn: (string | null)[];
    linesSoFar: number;
    /** a sync's rows: each one's record (its source_id, null for a row matched by fingerprint), its replica's cells, and whether the source owns its object */
    record: (string | null)[] | null;
    replica: (string | null)[] | null;
    owned: Uint8Array | null;
  } | null = null;
  private readonly historyStmt: Stmt;
  /**
   * Plain creates of consecutive new ids share one history row, the range, whose values
   * are read back from the objects (export/history-read.ts): a copy of every value cost
   * the initial load as much again as the objects themselves. Null when the plan has link
   * sets (their ids are not in the row) or passwords (a later change of one records no
   * old value to read back).
   */
  private readonly createHistoryStmt: Stmt | null;
  private readonly insertSql: { head: string; row: string };
  /** the attribute codes a range's creates record, as its `changes` (a JSON array) */
  private readonly rangeAttributes: string;
  private pendingFirst = 0;
  private pendingLast = -1;
  private readonly updateStmts = new Map<string, Stmt>();
  private readonly deleteStmt: Stmt;
  private readonly linkDelete: Stmt[];
  private readonly linkInsert: Stmt[];
  private readonly ownLinkDeletes: Stmt[];
  /** the codes of the class's link sets, and the statements that read an object's members of each (a delete records them) */
  private readonly ownLinkCodes: string[];
  private readonly ownLinkMembers: Stmt[];
  private readonly referrers: { label: string; stmt: Stmt }[];
  private readonly selfGroups: { group: RefGroup; index: number; space: number }[];
  /** the link specs (by index) whose items name objects of the imported class itself */
  private readonly selfLinks: number[];
  /** a bundle's file: the reference groups and link specs into classes its earlier files wrote (plan.writtenBefore), settled here */
  private readonly earlierGroups: { group: RefGroup; index: number }[];
  private readonly earlierLinks: number[];
  private readonly hasEarlier: boolean;
  /** what the change record names (begin or join) */
  private label: ChangeLabel = { className: '', action: '' };
  /** a bundle's earlier files: their figures, added to this file's in the change record */
  private prior: BundlePart['prior'] | null = null;
  /** whether the run has written the imported class: link items into it are then resolved again */
  private wroteClass = false;
  /**
   * Whether a row matched by id or by source (not by the keys) has written the class: its key
   * values may then be those of an object another row matches by fingerprint.
   */
  private looseWrites = false;
  /** the same, within the open transaction (its commit then moves the keyed generation on too) */
  private looseInTx = false;
  /** the key values of an object, for a row matched by fingerprint once looseWrites is set */
  private readonly keyOfStmt: Stmt | null;
  private readonly refreshFpStmt: Stmt;
  /** a row matched by fingerprint whose object the run touched is parsed and mapped here, with these options */
  private readonly dates: DateParser;
  private readonly csv: CsvOptions;
  /**
   * Lookup indexes on the imported class left out while it fills (it was empty): built by
   * the commit that ends the run, or before the first query the run makes on the class.
   * The touched-keys filter answers most re-checks without one.
   */
  private deferredIndexes: string[];
  /** unique indexes left out of the run (prepare.ts): dropped when it begins, made before its last commit */
  private readonly constraintDrops: readonly string[];
  private deferredConstraints: string[];
  private readonly checkpointAside: CheckpointAside | null;
  /** whether the open transaction changed an object (the class's generation moves on at commit) */
  private changedInTx = false;
  /** a sync's replicas, guard and absent objects; null for an import */
  private readonly syncer: SyncWriter | null;
  /** what a sync did at its end, besides its rows */
  syncOutcome: SyncOutcome | null = null;
  /** the run is open: from begin() to finish() */
  private inTx = false;
  /** a bundle's file has ended (endPart): a failure of the bundle before the next file joins still ends the run here */
  private partEnded = false;
  /**
   * A chunk was committed and the next transaction is not open yet: it opens when the next
   * row comes (resume), so that the run does not hold SQLite's lock while it waits for input.
   */
  private betweenChunks = false;
  /** PRAGMA data_version after this run's last chunk commit: another connection's commit changes it */
  private versionAtCommit: unknown = null;
  private rowsInTx = 0;
  private lastLine = 0;
  /** rows handled by the chunks applied so far, and whether one of them stopped the run */
  private rowsHandled = 0;
  private stopped = false;
  /** what stopped the run (its first row error in all-or-nothing mode) */
  private stopMessage: string | null = null;

  constructor(
    private readonly db: DB,
    private readonly model: Model,
    private readonly plan: ImportPlan,
    private readonly run: RunInfo,
    parsing: {
      dates?: DateParser;
      csv?: CsvOptions;
      deferredIndexes?: readonly string[];
      constraints?: DeferredConstraints | null;
      checkpointAside?: CheckpointAside;
      sync?: SyncRunConfig | null;
      /** the input's size when known, which sizes the filter of touched keys */
      inputBytes?: number | null;
    } = {},
  ) {
    this.checkpointAside = parsing.checkpointAside ?? null;
    this.deferredIndexes = [...(parsing.deferredIndexes ?? [])];
    this.constraintDrops = parsing.constraints?.drop ?? [];
    this.deferredConstraints = [...(parsing.constraints?.build ?? [])];
    this.dates = parsing.dates ?? compileDateFormat(undefined);
    this.csv = parsing.csv ?? { delimiter: 44, quote: 34 };
    this.cls = model.classes.get(plan.className) as ClassDef;
    this.pairs = plan.sourceColumn >= 0 || plan.sync !== null;
    this.lookup = new Lookup(db, {
      // A bundle's earlier files are done: the classes they wrote do not change while this one runs.
      stable: plan.writtenBefore ?? [],
      beforeQuery: (table) => {
        // A query of the imported class sees the creates before it.
        if (table !== plan.className) return;
        this.writeQueued();
        this.buildDeferredIndexes();
      },
    });
    this.lastCommittedLine = run.chunkSize > 0 && !run.simulate ? 0 : null;
    this.stored = this.cls.attributes.filter((a) => a.type !== 'links');
    this.storedSlot = this.stored.map((a) => plan.slots.indexOf(a.code));
    // A create's values, in this order (`create` builds its row so).
    const rowColumns = ['source', 'source_id', ...this.stored.map((a) => a.code)];
    rowColumns.forEach((code, k) => this.storedIndex.set(code, k));
    this.defaults = this.stored.map(defaultValue);
    this.jsonKeys = this.stored.map((a) => `${JSON.stringify(a.code)}:`);
    this.mandatoryLinks = this.cls.attributes.filter((a) => a.type === 'links' && a.mandatory);
    plan.fetch.forEach((c, i) => this.fetchIndex.set(c, i));
    this.slotAttrs = plan.slots.map((c) => this.cls.byCode.get(c) as Attribute);
    this.slotPolicy = plan.sync?.policy ?? plan.slots.map(() => SlotPolicy.Master);
    this.linkPolicy = plan.sync?.linkPolicy ?? plan.links.map(() => SlotPolicy.Master);
    const t = q(this.cls.name);
    // A create sets only what this plan can fill (its columns, defaults): the rest keeps its
    // null, and every bound parameter costs.
    const fromPlan = (k: number): boolean => (this.storedSlot[k] as number) >= 0;
    this.insertCols = rowColumns.map((_, k) => k).filter((k) => (k < 2 ? this.pairs : fromPlan(k - 2) || this.defaults[k - 2] !== null));
    const cols = this.insertCols.map((k) => rowColumns[k] as string);
    // One-row statements with spread parameters: measured faster in better-sqlite3 than an array
    // of parameters, and than multi-row VALUES of 64 or 256 rows.
    this.insertSql = { head: `INSERT INTO ${t} (${[...cols.map(q), FP_COLUMN].join(', ')}) VALUES `, row: `(${[...cols, FP_COLUMN].map(() => '?').join(', ')})` };
    this.insertStmt = db.prepare(this.insertSql.head + this.insertSql.row);
    this.insertParams = new Array(cols.length + 1);
    this.refreshFpStmt = db.prepare(`UPDATE ${t} SET ${FP_COLUMN} = ? WHERE id = ? AND ${FP_COLUMN} IS NOT ?`);
    this.historyStmt = db.prepare(`INSERT INTO _sluice_history (change_id, class, object_id, op, changes) VALUES (?, ?, ?, ?, ?)`);
    // Attributes a create leaves null or empty have no place in its history.
    const inHistory = this.stored.filter((_, k) => fromPlan(k) || (this.defaults[k] !== null && this.defaults[k] !== ''));
    this.rangeAttributes = JSON.stringify(inHistory.map((a) => a.code));
    this.createHistoryStmt =
      plan.links.length > 0 || inHistory.some((a) => a.type === 'password')
        ? null
        : db.prepare(`INSERT INTO _sluice_history (change_id, class, object_id, last_object_id, op, changes) VALUES (?, ?, ?, ?, 'create', ?)`);
    this.batchStmts = this.createHistoryStmt && plan.links.length === 0 ? [] : null;
    this.batchParams = this.batchStmts ? new Array<Scalar>(CREATE_BATCH * this.insertParams.length) : [];
    this.deleteStmt = db.prepare(`DELETE FROM ${t} WHERE id = ?`);
    this.linkDelete = plan.links.map((l) => db.prepare(`DELETE FROM ${q(l.linkTable)} WHERE from_id = ?`));
    this.linkInsert = plan.links.map((l) => db.prepare(`INSERT INTO ${q(l.linkTable)} (from_id, to_id) VALUES (?, ?)`));
    this.ownLinkDeletes = this.cls.attributes.filter((a) => a.type === 'links').map((a) => db.prepare(`DELETE FROM ${q(a.linkTable as string)} WHERE from_id = ?`));
    this.ownLinkCodes = this.cls.attributes.filter((a) => a.type === 'links').map((a) => a.code);
    this.ownLinkMembers = this.cls.attributes.filter((a) => a.type === 'links').map((a) => db.prepare(`SELECT to_id FROM ${q(a.linkTable as string)} WHERE from_id = ? ORDER BY to_id`).pluck());
    this.referrers = [];
    for (const other of model.classes.values()) {
      for (const a of other.attributes) {
        if (a.target !== this.cls.name) continue;
        // An object that refers to itself (its own parent) does not keep itself from being deleted.
        const self = other === this.cls;
        const sql =
          a.type === 'ref'
            ? `SELECT id FROM ${q(other.name)} WHERE ${q(a.code)} = @id${self ? ' AND id <> @id' : ''} ORDER BY id LIMIT 3`
            : `SELECT from_id FROM ${q(a.linkTable as string)} WHERE to_id = @id${self ? ' AND from_id <> @id' : ''} ORDER BY from_id LIMIT 3`;
        if (a.type === 'ref' || a.type === 'links') this.referrers.push({ label: `${other.name}.${a.code}`, stmt: db.prepare(sql).pluck() });
      }
    }
    this.selfGroups = plan.refs.map((group, index) => ({ group, index, space: SPACE_REF + index })).filter((g) => g.group.target === plan.className);
    this.selfLinks = plan.links.flatMap((l, li) => (l.target === plan.className ? [li] : []));
    const earlier = new Set(plan.writtenBefore ?? []);
    this.earlierGroups = plan.refs.map((group, index) => ({ group, index })).filter((g) => earlier.has(g.group.target));
    this.earlierLinks = plan.links.flatMap((l, li) => (earlier.has(l.target) ? [li] : []));
    this.hasEarlier = this.earlierGroups.length + this.earlierLinks.length > 0;
    // 64 Mbit per kind of tuple a created row adds (keys, source pair, self-references; at
    // most 256 Mbit): a sync's first load of 1M records, two tuples each, had false positives
    // past 500k rows in one 64 Mbit filter, and each sent the writer to query the class,
    // building its deferred indexes in the middle of the run.
    const spaces = (plan.keys.length > 0 ? 1 : 0) + (this.pairs ? 1 : 0) + this.selfGroups.length;
    this.touchedKeys = new TouchedKeys(touchedLog2Bits(parsing.inputBytes ?? null, spaces));
    this.keyOfStmt = plan.keys.length > 0 ? db.prepare(`SELECT ${plan.keys.map(q).join(', ')} FROM ${t} WHERE id = ?`).raw() : null;
    const pos = (code: string): number => this.storedIndex.get(code) ?? -1;
    this.keyPos = plan.keys.map(pos);
    this.selfPos = this.selfGroups.map((sg) => sg.group.subs.map(pos));
    this.row = new Array<Scalar>(rowColumns.length);
    this.syncer = parsing.sync ? new SyncWriter(db, model, plan.className, parsing.sync) : null;
  }

  /** What the run reads before its first row but need not wait for: a sync's owned objects (SyncWriter.begin). */
  warmUp(): void {
    this.syncer?.begin();
  }

  /** Open the run: the change record is written in the first transaction. */
  begin(className: string, action: string): void {
    this.label = { className, action };
    this.beginTx();
    const info = this.db
      .prepare(`INSERT INTO _sluice_change (user, started_at, comment, class, file, action, outcome) VALUES (?, ?, ?, ?, ?, ?, 'running')`)
      .run(this.run.user, new Date().toISOString(), this.run.comment, className, this.run.file, action);
    this.changeId = Number(info.lastInsertRowid);
    for (const ddl of this.constraintDrops) this.db.exec(ddl);
  }

  /**
   * A bundle's next file: go on with the change `part.change` and the transaction an earlier
   * file's Applier left open (endPart), instead of opening a run of its own.
   */
  join(label: ChangeLabel, part: BundlePart): void {
    if (!this.db.inTransaction) throw new SluiceError('E_INTERNAL', 'a bundle file joined a run with no open transaction');
    this.label = label;
    this.changeId = part.change;
    this.prior = part.prior;
    this.inTx = true;
    this.rowsInTx = 0;
    for (const ddl of this.constraintDrops) this.db.exec(ddl);
  }

  /**
   * The end of a bundle's file that another follows: its rows are written, what it left for
   * the end of the run is done now (the next file's lookups need its indexes), and with
   * --chunk-size it commits; the write transaction stays open for the next file's Applier.
   */
  endPart(lines: number): void {
    if (!this.inTx) throw new SluiceError('E_INTERNAL', 'a bundle file ended twice');
    this.resume();
    this.writeQueued();
    this.flushCreates();
    this.bumpIfChanged();
    this.buildDeferredIndexes(true);
    if (this.run.chunkSize > 0 && !this.run.simulate) {
      this.updateChange('running', lines);
      this.db.exec('COMMIT');
      this.lastCommittedLine = this.lastLine;
      this.committed = { ...this.counts };
      // Other imports wait for the run's lease, so nothing comes between the files.
      this.db.exec('BEGIN IMMEDIATE');
    }
    this.inTx = false;
    this.partEnded = true;
  }

  /** Open a write transaction, unless the caller holds one for the run already (write/lock.ts). */
  private beginTx(): void {
    try {
      if (!this.db.inTransaction) this.db.exec('BEGIN IMMEDIATE');
    } catch (err) {
      throw dbError(err, 'start a write transaction');
    }
    this.inTx = true;
    this.rowsInTx = 0;
  }

  private updateChange(outcome: string, lines: number): void {
    const c = this.prior ? addCounts(this.prior.counts, this.counts) : this.counts;
    this.db
      .prepare(`UPDATE _sluice_change SET finished_at = ?, lines = ?, created = ?, updated = ?, unchanged = ?, deleted = ?, skipped = ?, errors = ?, warnings = ?, outcome = ? WHERE id = ?`)
      .run(new Date().toISOString(), lines + (this.prior?.lines ?? 0), c.created, c.updated, c.unchanged, c.deleted, c.skipped, c.errors, c.warnings, outcome, this.changeId);
  }

  private commitChunk(lines: number): void {
    this.writeQueued();
    this.flushCreates();
    this.syncer?.flush(this.changeId);
    this.bumpIfChanged();
    this.updateChange('running', lines);
    this.db.exec('COMMIT');
    this.versionAtCommit = this.db.pragma('data_version', { simple: true });
    this.lastCommittedLine = this.lastLine;
    this.committed = { ...this.counts };
    this.betweenChunks = true;
    pausePoint('chunk-committed');
  }

  /**
   * Open the next chunk's transaction. Other imports wait for this run's lease
   * (write/lock.ts), but a writer that is not an import may have committed since the last
   * chunk: what the workers read at the start may no longer hold, and the run stops.
   */
  private resume(): void {
    if (!this.betweenChunks) return;
    this.betweenChunks = false;
    this.beginTx();
    if (this.db.pragma('data_version', { simple: true }) !== this.versionAtCommit) {
      throw new SluiceError(
        'E_DB',
        `another program wrote to the database after line ${this.lastCommittedLine}, between two chunks of this import; ` +
          'the rows up to that line are committed: run the import again to apply the rest (re-applied rows are unchanged)',
        { option: '--db' },
      );
    }
  }

  /**
   * Apply one chunk of resolved rows, in order. A chunk that comes after one that stopped
   * the run (the run thread sends the next before it hears of the stop) is not applied.
   */
  apply(chunk: ResolvedChunk, wantRows: boolean): AppliedChunk {
    if (this.stopped) return this.nothingApplied();
    // What a sync knew before its first row (warmUp reads it sooner when it can).
    this.syncer?.begin();
    const linesSoFar = this.rowsHandled;
    const hits = chunk.hits;
    const nHits = hits ? hits.row.length : 0;
    const n = chunk.count + nHits;
    // Rows matched by fingerprint travel apart; merged back in file order here.
    const line = nHits === 0 ? chunk.line : new Int32Array(n);
    const warn = nHits === 0 ? chunk.warn : new Array<string | null>(n).fill(null);
    const out: AppliedChunk = {
      seq: chunk.seq,
      count: n,
      hits: nHits,
      status: new Uint8Array(n),
      id: new Float64Array(n),
      message: new Array(n).fill(null),
      changed: new Array(n).fill(null),
      stop: null,
      lastCommittedLine: this.lastCommittedLine,
      rows: wantRows ? { line, warn } : null,
      counts: this.counts,
    };
    const sync = this.syncer !== null;
    this.current = { out, line, warn, linesSoFar, record: sync ? new Array<string | null>(n).fill(null) : null, replica: sync ? new Array<string | null>(n).fill(null) : null, owned: sync ? new Uint8Array(n) : null };
    let h = 0;
    let m = 0;
    for (let i = 0; i < n && !this.stopped; i++) {
      if (this.betweenChunks) this.resume();
      let r: RowPlan;
      if (hits && h < nHits && hits.row[h] === i) {
        line[i] = hits.line[h] as number;
        r = this.applyHit(chunk, h, i);
        h++;
      } else {
        if (nHits > 0) {
          line[i] = chunk.line[m] as number;
          warn[i] = chunk.warn[m] ?? null;
        }
        if (this.current.record) this.current.record[i] = chunk.sourceId[m] ?? null;
        if (this.current.replica) this.current.replica[i] = chunk.replica?.[m] ?? null;
        r = this.applyRow(chunk, m, i);
        m++;
      }
      // Creates wait for their batch: a batch ends where a commit falls, and before any other row is settled.
      if (r === QUEUED) {
        const chunkEnd = this.run.chunkSize > 0 && !this.run.simulate && this.rowsInTx + this.queued.length >= this.run.chunkSize;
        if (this.queued.length === CREATE_BATCH || chunkEnd) this.writeQueued();
        continue;
      }
      this.writeQueued();
      if (!this.stopped) this.settle(i, r);
    }
    this.writeQueued();
    this.queued.length = 0;
    this.current = null;
    this.flushCreates();
    this.rowsHandled += out.count;
    out.lastCommittedLine = this.lastCommittedLine;
    out.counts = { ...this.counts };
    return out;
  }

  /**
   * Row `i`'s outcome, in file order: recorded, counted, and the run stopped or the chunk
   * committed as it asks.
   */
  private settle(i: number, r: RowPlan): void {
    const { out, line, warn, linesSoFar } = this.current as NonNullable<Applier['current']>;
    out.status[i] = r.status;
    out.id[i] = r.id ?? 0;
    out.message[i] = r.message;
    out.changed[i] = r.changed;
    this.count(r.status, warn[i] !== null);
    this.lastLine = line[i] as number;
    if (r.status === Status.Error && this.run.stopOnError) {
      out.count = i + 1;
      out.stop = { line: line[i] as number, message: `line ${line[i]}: ${r.message}` };
      this.stopMessage = out.stop.message;
      // Whatever the rows after it wrote is in the open transaction, which the run rolls back.
      this.stopped = true;
      this.stopWarned = warn[i] !== null;
      this.queued.length = 0;
      return;
    }
    if (this.syncer) this.syncRow(i, r);
    this.rowsInTx++;
    if (this.run.chunkSize > 0 && !this.run.simulate && this.rowsInTx >= this.run.chunkSize && (this.syncer?.mayCommit() ?? true)) this.commitChunk(linesSoFar + i + 1);
  }

  /** The result of a chunk that arrived after the run stopped: no row of it is applied. */
  private nothingApplied(): AppliedChunk {
    return {
      seq: -1,
      count: 0,
      hits: 0,
      status: new Uint8Array(0),
      id: new Float64Array(0),
      message: [],
      changed: [],
      stop: null,
      lastCommittedLine: this.lastCommittedLine,
      rows: null,
      counts: { ...this.counts },
    };
  }

  private count(s: Status, warned: boolean): void {
    const c = this.counts;
    if (s === Status.Created) c.created++;
    else if (s === Status.Updated) c.updated++;
    else if (s === Status.Unchanged) c.unchanged++;
    else if (s === Status.Deleted) c.deleted++;
    else if (s === Status.Skipped) c.skipped++;
    else c.errors++;
    if (warned) c.warnings++;
  }

  /**
   * End the run. `ok` false = roll back the open transaction (all of it, or the open
   * chunk). Returns the change id that stays recorded, or null.
   */
  finish(ok: boolean, outcome: string, lines: number, failure: string | null = null): number | null {
    if (!this.inTx && !this.partEnded) return null;
    this.partEnded = false;
    if (ok) this.resume();
    if (ok && this.syncer) {
      // The end of a sync writes in the run's last transaction (or stops it: the guard).
      this.writeQueued();
      this.flushCreates();
      this.syncOutcome = this.syncer.finish(this.changeId, this.rowsHandled);
      if (this.syncOutcome.obsoleted + this.syncOutcome.deleted > 0) {
        this.changedInTx = true;
        this.looseInTx = true;
      }
    }
    this.inTx = false;
    this.betweenChunks = false;
    if (!ok) this.keepCommittedCounts();
    // A bundle's earlier files: what a failure keeps of them.
    if (!ok && this.prior) this.prior = { ...this.prior, counts: this.prior.committed };
    if (this.run.simulate) {
      this.db.exec('ROLLBACK');
      return null;
    }
    if (ok) {
      this.writeQueued();
      this.flushCreates();
      this.bumpIfChanged();
      // Unique indexes are made in the run's last transaction: a failure to make one fails the run.
      this.buildIndexes(this.deferredConstraints.splice(0));
      if (this.deferredIndexes.length > 0 && this.checkpointAside) return this.commitThenIndex(outcome, lines, this.checkpointAside);
      // A run that grew the class past the in-memory fingerprint table leaves it its index.
      this.buildDeferredIndexes(true);
      this.updateChange(outcome, lines);
      this.syncLog(outcome, null);
      this.db.exec('COMMIT');
      return this.changeId;
    }
    if (this.db.inTransaction) this.db.exec('ROLLBACK');
    // The failed run is still recorded; with chunks its change row survived the rollback.
    this.db.exec('BEGIN IMMEDIATE');
    const exists = this.db.prepare('SELECT 1 FROM _sluice_change WHERE id = ?').get(this.changeId);
    if (!exists) {
      const info = this.db
        .prepare(`INSERT INTO _sluice_change (user, started_at, comment, class, file, action, outcome) VALUES (?, ?, ?, ?, ?, ?, ?)`)
        .run(this.run.user, new Date().toISOString(), this.run.comment, this.label.className, this.run.file, this.label.action, outcome);
      this.changeId = Number(info.lastInsertRowid);
    }
    this.updateChange(outcome, lines);
    this.syncLog(outcome, this.stopMessage ?? failure);
    this.db.exec('COMMIT');
    return this.changeId;
  }

  /** A sync's row in its source's log (_sluice_sync), in the transaction that records the change. */
  private syncLog(outcome: string, message: string | null): void {
    if (!this.plan.sync || !this.syncer) return;
    const c = this.counts;
    const o = this.syncOutcome;
    this.db
      .prepare(
        `INSERT INTO _sluice_sync (source_ref, change_id, mode, started_at, finished_at, outcome, replicas_seen, replicas_total, created, updated, unchanged, deleted, obsoleted, errors, warnings, message)
         SELECT ?, ?, ?, started_at, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ? FROM _sluice_change WHERE id = ?`,
      )
      .run(this.plan.sync.ref, this.changeId, this.syncer.mode, new Date().toISOString(), outcome, o?.replicasSeen ?? 0, o?.replicasTotal ?? 0, c.created, c.updated, c.unchanged, c.deleted + (o?.deleted ?? 0), o?.obsoleted ?? 0, c.errors, c.warnings, message, this.changeId);
  }

  /**
   * A failed run counts what it keeps: the rows of the committed chunks, and the row in
   * error that stopped it; the rows of the open transaction are counted apart, as rolled back.
   */
  private keepCommittedCounts(): void {
    const kept = { ...this.committed };
    if (this.stopped) {
      kept.errors++;
      if (this.stopWarned) kept.warnings++;
    }
    const back = emptyCounts();
    for (const k of Object.keys(back) as (keyof Counts)[]) back[k] = this.counts[k] - kept[k];
    this.rolledBack = back;
    Object.assign(this.counts, kept);
  }

  /**
   * The end of a run into a class that was empty: its rows commit first, then the indexes
   * it left out are built in a transaction of their own, while another connection copies
   * the rows' WAL frames into the database file. Sorting and copying took about a second
   * each at 1M rows, one after the other on one core. The indexes only speed lookups up:
   * when their transaction fails (another writer took the database, the disk filled), the
   * committed rows stay, and the next run into the class builds them before it starts.
   */
  private commitThenIndex(outcome: string, lines: number, aside: CheckpointAside): number {
    this.updateChange(outcome, lines);
    this.syncLog(outcome, null);
    // The commit leaves the copy to the other connection.
    const auto = this.db.pragma('wal_autocheckpoint', { simple: true }) as number;
    this.db.pragma('wal_autocheckpoint = 0');
    try {
      this.db.exec('COMMIT');
    } finally {
      this.db.pragma(`wal_autocheckpoint = ${auto}`);
    }
    const join = aside();
    try {
      this.db.exec('BEGIN IMMEDIATE');
      this.buildDeferredIndexes(true);
      this.db.exec('COMMIT');
    } catch (e) {
      if (this.db.inTransaction) this.db.exec('ROLLBACK');
      if (!(e as { code?: string }).code?.startsWith('SQLITE_')) throw e;
    } finally {
      join();
    }
    return this.changeId;
  }

  // ---------------------------------------------------------------- one row

  /** Row `i` of chunk `c`, which is row `at` of the chunk being applied. */
  private applyRow(c: ResolvedChunk, i: number, at: number): RowPlan {
    if (c.error[i] !== null) return err(c.error[i] as string);
    const plan = this.plan;
    if (plan.sync?.loadOnly) return this.loadRecord(c, i);
    // Ids of the creates still queued are not known yet: a row that names an id, or an object of the class, sees them first.
    if (c.matchBy[i] === MatchBy.Id || this.selfGroups.length > 0 || this.selfLinks.length > 0) this.writeQueued();
    const nSlots = plan.slots.length;
    const base = i * nSlots;
    const values = c.values;

    // References and link items into the imported class, resolved again where the run changed what they name.
    let reResolved = false;
    // Link items first: an unknown item is a row error before any reference is looked at, as in the worker.
    for (const li of this.selfLinks) {
      const k = i * plan.links.length + li;
      const items = c.selfLinkItems[k];
      if (!items) continue;
      if (this.wroteClass || c.selfLinkError[k] !== null) {
        const r = resolveLinkItems(this.lookup, plan, plan.links[li] as LinkSpec, [items])[0] as LinkIds;
        c.links[k] = r.ids;
        c.selfLinkError[k] = r.error;
        reResolved = true;
      }
      if (c.selfLinkError[k] !== null) return this.linkError(c, i, at, c.selfLinkError[k] as string);
    }
    // Into a class a bundle's earlier file wrote: always resolved here, where that file's writes are seen.
    if (this.hasEarlier) {
      const earlier = this.earlierRow(c, i, at, base);
      if (earlier === true) reResolved = true;
      else if (earlier !== false) return earlier;
    }

    for (const sg of this.selfGroups) {
      const k = i * plan.refs.length + sg.index;
      const t = c.selfRefTuple[k];
      if (!t) continue;
      const touched = sg.group.subs.length === 1 && sg.group.subs[0] === 'id' ? this.touchedIds.has(t[0] as number) : this.touchedKeys.has(sg.space, t);
      // An error is re-resolved too: its message lists values that exist when this row applies.
      if (touched || c.selfRefError[k] !== null) {
        const r = this.lookup.resolve(this.cls.name, sg.group.subs, [t]).get(tupleKey(t)) as Match;
        c.selfRefError[k] = r.count === 1 ? null : refMessage(this.lookup, plan.header, sg.group, t, r);
        values[base + sg.group.slot] = r.count === 1 ? r.id : null;
        reResolved = true;
      }
      if (c.selfRefError[k] !== null) return err(c.selfRefError[k] as string);
    }
    let by = c.matchBy[i] as MatchBy;
    let count = c.matchCount[i] as number;
    let id: number | null = count > 0 ? (c.matchId[i] as number) : null;
    let current = c.current[i] ?? null;
    let currentLinks: (number[] | null)[] = plan.links.length === 0 ? NO_LINKS : plan.links.map((_, li) => c.currentLinks[i * plan.links.length + li] ?? null);
    let sameAsSnapshot = c.diff[i] === 1;
    if (plan.sync) {
      const m = this.syncMatch(c, i, at, base, by, count, id, current !== null || sameAsSnapshot, reResolved);
      if (m) {
        ({ by, count, id, current, currentLinks } = m);
        sameAsSnapshot = false;
      }
    } else if (by !== MatchBy.None) {
      const t = by === MatchBy.Id ? [c.rowId[i] as number] : by === MatchBy.Source ? [c.source[i] ?? null, c.sourceId[i] ?? null] : keyTuple(plan, this.cls, values, base);
      if (this.snapshotStale(by, t, count, id, current !== null || sameAsSnapshot, reResolved)) {
        const attrs = by === MatchBy.Id ? ['id'] : by === MatchBy.Source ? ['source', 'source_id'] : plan.keys;
        const r = this.lookup.resolve(this.cls.name, attrs, [t], plan.fetch).get(tupleKey(t)) as Match;
        count = r.count;
        id = r.id;
        current = r.row;
        sameAsSnapshot = false;
        currentLinks = plan.links.map((l) => (r.count === 1 ? (this.lookup.linkMembers(l.linkTable, [r.id as number]).get(r.id as number) ?? []) : null));
      }
      // What this row writes may give an object the key values another row matches by fingerprint.
      if (by !== MatchBy.Keys) {
        this.looseWrites = true;
        this.looseInTx = true;
      }
    }

    if (count > 1 && plan.sync && plan.sync.onMultiple !== 'error') {
      // The source's --on-multiple: the oldest of the objects, or a new one.
      if (plan.sync.onMultiple === 'create') count = 0;
      else {
        const first = this.firstByKeys(keyTuple(plan, this.cls, values, base));
        ({ count, id, row: current } = first);
        currentLinks = this.linksOf(id as number);
      }
    }
    if (count > 1) return err(`ambiguous reconciliation: ${count} objects match ${plan.keyLabels.length && by === MatchBy.Keys ? `on ${plan.keyLabels.join(', ')}` : ''}`.trimEnd());
    const action = plan.action;
    if (count === 0 && plan.sync?.onZero === 'error') {
      return err(`no ${this.cls.name} matches ${plan.keyLabels.join(', ')}; the source ${plan.sync.source} creates none (--on-zero error)`);
    }
    if (count === 1 && plan.sync) {
      const owned = by === MatchBy.Source || this.ownership(c, i, current as Scalar[]);
      if (this.current?.owned) this.current.owned[at] = owned ? 1 : 0;
    }
    if (count === 0) {
      if (by === MatchBy.Id) return err(`no ${this.cls.name} with id ${c.rowId[i]}`);
      if (action === 'update' || action === 'delete') return { status: Status.Skipped, id: null, message: `no matching ${this.cls.name} to ${action}`, changed: null };
      return this.create(c, i, base, at);
    }
    const objectId = id as number;
    if (action === 'insert') return { status: Status.Skipped, id: objectId, message: `${this.cls.name} ${objectId} already exists (--action insert)`, changed: null };
    if (action === 'delete') return this.remove(objectId, current as Scalar[]);
    if (sameAsSnapshot) return this.unchanged(c, i, objectId);
    return this.update(c, i, base, objectId, current as Scalar[], currentLinks);
  }

  /** --load-only: the row's record goes to its replica; its status says what became of the replica. */
  private loadRecord(c: ResolvedChunk, i: number): RowPlan {
    const r = (this.syncer as SyncWriter).load(this.changeId, c.sourceId[i] as string, c.replica?.[i] ?? null);
    const status = r.status === 'created' ? Status.Created : r.status === 'updated' ? Status.Updated : Status.Unchanged;
    return { status, id: r.object, message: r.status === 'unchanged' ? null : 'replica only (--load-only)', changed: null };
  }

  /**
   * A sync's row once settled: the object it found or created is seen; the replica of its
   * record (not for a row matched by fingerprint, whose replica holds its cells already)
   * keeps the object, its cells, and its error.
   */
  private syncRow(at: number, r: RowPlan): void {
    const cur = this.current as NonNullable<Applier['current']>;
    const syncer = this.syncer as SyncWriter;
    if (r.id !== null && r.status !== Status.Error) syncer.saw(r.id);
    const record = cur.record?.[at] ?? null;
    // A row matched by fingerprint names its record too; a row without a source_id names none.
    if (record !== null || r.status !== Status.Error) syncer.sawRecord();
    // A load only wrote its replica already (loadRecord); a row in error still keeps its error there.
    if (record === null || (this.plan.sync?.loadOnly && r.status !== Status.Error)) return;
    const json = cur.replica?.[at] ?? null;
    const owned = r.status === Status.Created || cur.owned?.[at] === 1;
    syncer.replica(this.changeId, record, r.status === Status.Error ? null : r.id, owned, r.status === Status.Error ? r.message : null, json);
  }

  /**
   * A sync's row, matched again when what the worker read may no longer hold: by its record
   * among the source's objects (source + source_id), else by the keys. An earlier row of
   * the run may have created the record's object, or written an object with its key values.
   * Null when the worker's match stands.
   */
  private syncMatch(
    c: ResolvedChunk,
    i: number,
    at: number,
    base: number,
    by: MatchBy,
    count: number,
    id: number | null,
    hasSnapshot: boolean,
    reResolved: boolean,
  ): { by: MatchBy; count: number; id: number | null; current: Scalar[] | null; currentLinks: (number[] | null)[] } | null {
    if (by === MatchBy.None) return null;
    const plan = this.plan;
    const pair = [c.source[i] ?? null, c.sourceId[i] ?? null];
    const keys = by === MatchBy.Keys ? keyTuple(plan, this.cls, c.values, base) : null;
    const stale =
      reResolved ||
      this.touchedKeys.has(SPACE_SOURCE, pair) ||
      (keys !== null && this.touchedKeys.has(SPACE_KEYS, keys)) ||
      (count === 1 && (this.touchedIds.has(id as number) || !hasSnapshot));
    if (!stale) return null;
    let r = this.lookup.resolve(this.cls.name, ['source', 'source_id'], [pair], plan.fetch).get(tupleKey(pair)) as Match;
    let next = MatchBy.Source;
    if (r.count === 0) {
      const t = keys ?? keyTuple(plan, this.cls, c.values, base);
      r = this.lookup.resolve(this.cls.name, plan.keys, [t], plan.fetch).get(tupleKey(t)) as Match;
      next = MatchBy.Keys;
    } else if (by === MatchBy.Keys) this.dropKeyWarning(c, i, at);
    // What this row writes may give an object the key values another row matches by fingerprint.
    if (next === MatchBy.Source) {
      this.looseWrites = true;
      this.looseInTx = true;
    }
    return { by: next, count: r.count, id: r.id, current: r.row, currentLinks: this.linksOf(r.count === 1 ? r.id : null) };
  }

  /** A row found by its record after all never looked at its keys: their warning goes. */
  private dropKeyWarning(c: ResolvedChunk, i: number, at: number): void {
    const w = c.warn[i];
    if (!w) return;
    const kept = w.split('\n').filter((x) => !x.startsWith('empty reconciliation key')).join('\n') || null;
    c.warn[i] = kept;
    if (this.current) this.current.warn[at] = kept;
  }

  /** The current link sets of object `id` (none when null). */
  private linksOf(id: number | null): (number[] | null)[] {
    return this.plan.links.map((l) => (id !== null ? (this.lookup.linkMembers(l.linkTable, [id]).get(id) ?? []) : null));
  }

  /** The oldest object holding the key values `t`, with its fetched columns. */
  private firstByKeys(t: Scalar[]): { count: number; id: number; row: Scalar[] } {
    this.writeQueued();
    const where = this.plan.keys.map((k) => `${q(k)} IS ?`).join(' AND ');
    const id = this.db.prepare(`SELECT min(id) FROM ${q(this.cls.name)} WHERE ${where}`).pluck().get(...t) as number;
    const r = this.lookup.resolve(this.cls.name, ['id'], [[id]], this.plan.fetch).get(tupleKey([id])) as Match;
    return { count: 1, id, row: r.row as Scalar[] };
  }

  /**
   * A sync's row found an object by the keys, not as the source's own: it claims the object
   * (gives it the source and the record's key) when the source claims and no source owns
   * the object yet; otherwise it updates the object's attributes and leaves its owner be.
   */
  private ownership(c: ResolvedChunk, i: number, current: Scalar[]): boolean {
    const owner = current[this.fetchIndex.get('source') as number] ?? null;
    if (owner === this.plan.sync?.source) return true;
    if (this.plan.sync?.claim && owner === null) return true;
    c.source[i] = null;
    c.sourceId[i] = null;
    return false;
  }

  /**
   * A link item into the class itself that names no single object: the row is in error as
   * with an item of another class, which the worker finds before it looks the key up, so
   * the row has no warning about its key.
   */
  private linkError(c: ResolvedChunk, i: number, at: number, message: string): RowPlan {
    c.warn[i] = null;
    if (this.current) this.current.warn[at] = null;
    return err(message);
  }

  /**
   * A bundle's row: its references and link items into classes the bundle's earlier files
   * wrote, resolved on this connection. True when one of them differs from the worker's
   * answer (the row's match is then looked up again), false when none does, or the row's
   * error.
   */
  private earlierRow(c: ResolvedChunk, i: number, at: number, base: number): boolean | RowPlan {
    const plan = this.plan;
    const values = c.values;
    let changed = false;
    for (const li of this.earlierLinks) {
      const k = i * plan.links.length + li;
      const items = c.selfLinkItems[k];
      if (!items) continue;
      const r = resolveLinkItems(this.lookup, plan, plan.links[li] as LinkSpec, [items])[0] as LinkIds;
      if (c.selfLinkError[k] !== null || !sameIds(c.links[k] ?? [], r.ids)) changed = true;
      c.links[k] = r.ids;
      if (r.error !== null) return this.linkError(c, i, at, r.error);
    }
    for (const g of this.earlierGroups) {
      const k = i * plan.refs.length + g.index;
      const t = c.selfRefTuple[k];
      if (!t) continue;
      const r = this.lookup.resolve(g.group.target, g.group.subs, [t]).get(tupleKey(t)) as Match;
      const id = r.count === 1 ? r.id : null;
      if (c.selfRefError[k] !== null || values[base + g.group.slot] !== id) changed = true;
      values[base + g.group.slot] = id;
      if (r.count !== 1) return err(refMessage(this.lookup, plan.header, g.group, t, r));
    }
    return changed;
  }

  /**
   * Whether what a worker read for a row from the committed state may no longer hold when
   * the row is applied, so that the writer looks the row's object up again. The worker sent
   * the number of objects the row's match tuple found, the single match's id, and either its
   * current values or its verdict that they equal the row's. That snapshot is stale when:
   *  - match: an earlier row of the run wrote an object that holds, or held, the match tuple
   *    (the id; source + source_id; the key values): the tuple may now find other objects;
   *  - object: an earlier row of the run wrote the single object matched: its values are no
   *    longer those the worker read;
   *  - references: the writer resolved one of the row's references or link items into the
   *    imported class again: the row's values are no longer those the worker compared;
   *  - no snapshot: the single match came with neither its values nor a verdict.
   * A row matched by fingerprint is decided by hitStale.
   */
  private snapshotStale(by: MatchBy, tuple: Scalar[], count: number, id: number | null, hasSnapshot: boolean, reResolved: boolean): boolean {
    const matchTouched = by === MatchBy.Id ? this.touchedIds.has(tuple[0] as number) : this.touchedKeys.has(by === MatchBy.Source ? SPACE_SOURCE : SPACE_KEYS, tuple);
    if (matchTouched) return true;
    if (count === 1 && this.touchedIds.has(id as number)) return true;
    if (reResolved) return true;
    return count === 1 && !hasSnapshot;
  }

  /**
   * Whether a row matched by fingerprint to object `id` must be applied as any other row,
   * not reported unchanged: an earlier row of the run wrote the object; or a row not matched
   * by the keys wrote the class, and the object's key values were touched (a second object
   * may hold them now).
   */
  private hitStale(id: number): boolean {
    if (this.touchedIds.has(id)) return true;
    if (!this.looseWrites || !this.keyOfStmt) return false;
    const tuple = this.keyOfStmt.get(id) as Scalar[] | undefined;
    return tuple === undefined || this.touchedKeys.has(SPACE_KEYS, tuple);
  }

  /** The fingerprint to store with the object a row writes: none for a row with warnings. */
  private fingerprint(c: ResolvedChunk, i: number): bigint | null {
    const fp = c.fp?.[i];
    return fp === undefined || fp === 0n || c.warn[i] !== null ? null : fp;
  }

  /** An unchanged row still records its fingerprint, so the next run of the same feed can skip it. */
  private unchanged(c: ResolvedChunk, i: number, id: number): RowPlan {
    const fp = this.fingerprint(c, i);
    if (fp !== null) this.refreshFpStmt.run(fp, id, fp);
    return { status: Status.Unchanged, id, message: null, changed: null };
  }

  /**
   * A row matched by fingerprint: unchanged, unless what the match stands for may have changed
   * during the run (hitStale); then it is parsed, mapped and resolved here, against the run's own state.
   */
  private applyHit(c: ResolvedChunk, h: number, at: number): RowPlan {
    const hits = c.hits as HitRows;
    const id = hits.id[h] as number;
    if (!this.hitStale(id)) return { status: Status.Unchanged, id, message: null, changed: null };
    const frame = c.frame as Uint8Array;
    const start = hits.start[h] as number;
    const bytes = Buffer.from(frame.buffer, frame.byteOffset + start, (hits.end[h] as number) - start);
    const { records, lines } = parseRecords(bytes, hits.line[h] as number, this.csv);
    const mapped = mapRows(this.model, this.plan, records, lines, { dates: this.dates });
    const one = resolveChunk(this.model, this.plan, this.lookup, mapped, c.seq, 0);
    one.fp = BigInt64Array.of(hits.fp[h] as bigint);
    return this.applyRow(one, 0, at);
  }

  /**
   * Build the lookup indexes left out while the class filled, and with `fingerprints` the
   * fingerprint index when the class now needs one. An index build is a sort: SQLite's
   * sorter takes a buffer the size of the page cache for each of its threads. With one
   * helper thread and the cache at a quarter while it runs, the sort uses both cores (the
   * workers are done by then) in the memory the cache had: the end of a 1M-row initial
   * load took about a second less, and the fingerprint index of a 10M-row load no longer
   * set the run's peak memory.
   */
  private buildDeferredIndexes(fingerprints = false): void {
    this.buildIndexes([...this.deferredConstraints.splice(0), ...this.deferredIndexes.splice(0)], fingerprints);
  }

  private buildIndexes(ddls: readonly string[], fingerprints = false): void {
    if (ddls.length === 0 && !fingerprints) return;
    const cache = this.db.pragma('cache_size', { simple: true }) as number;
    this.db.pragma(`cache_size = ${Math.trunc(cache / 4)}`);
    this.db.pragma('threads = 1');
    try {
      for (const ddl of ddls) this.db.exec(ddl);
      if (fingerprints) ensureFingerprintIndex(this.db, this.cls);
    } finally {
      this.db.pragma('threads = 0');
      this.db.pragma(`cache_size = ${cache}`);
    }
  }

  private bumpIfChanged(): void {
    if (!this.changedInTx) return;
    bumpGeneration(this.db, this.cls.name, this.looseInTx ? null : this.plan.keys);
    this.changedInTx = false;
    this.looseInTx = false;
  }

  /** The run writes the class: what depended on it being as committed no longer holds. */
  private wrote(): void {
    this.changedInTx = true;
    this.wroteClass = true;
  }

  private create(c: ResolvedChunk, i: number, base: number, at: number): RowPlan {
    const plan = this.plan;
    // [source, source_id, ...stored attributes]; the insert binds the ones in insertCols.
    const row = this.row;
    row[0] = c.source[i] ?? null;
    row[1] = c.sourceId[i] ?? null;
    // History of a create holds the new values only (the old ones are all null).
    let json = '';
    let missing: string[] | null = null;
    for (let a = 0; a < this.stored.length; a++) {
      const attr = this.stored[a] as Attribute;
      const slot = this.storedSlot[a] as number;
      let v: Scalar | undefined = slot >= 0 && this.slotPolicy[slot] !== SlotPolicy.Ignore ? c.values[base + slot] : undefined;
      if (v === undefined) v = this.defaults[a] as Scalar;
      if (v === null || v === '') {
        if (attr.mandatory) (missing ??= []).push(describe(attr));
      } else {
        if (attr.type === 'password') v = hashPassword(v as string);
        if (!this.createHistoryStmt) json += (json === '' ? '{' : ',') + (this.jsonKeys[a] as string) + (attr.type === 'password' ? `"${MASK}"` : JSON.stringify(v));
      }
      row[a + 2] = v;
    }
    const links = plan.links.length === 0 ? NO_LINKS : plan.links.map((_, li) => (this.linkPolicy[li] === SlotPolicy.Ignore ? undefined : c.links[i * plan.links.length + li]));
    for (const a of this.mandatoryLinks) {
      const li = plan.links.findIndex((l) => l.attr === a.code);
      if (li < 0 || (links[li]?.length ?? 0) === 0) (missing ??= []).push(describe(a));
    }
    if (missing) return err(`missing mandatory ${missing.join(', ')}`);
    const cols = this.insertCols;
    if (this.batchStmts) {
      // Queued: written with the batch, and its id known then (writeQueued).
      const params = this.batchParams;
      let p = this.queued.length * (cols.length + 1);
      for (let k = 0; k < cols.length; k++) params[p++] = row[cols[k] as number] as Scalar;
      (params as unknown[])[p] = this.fingerprint(c, i);
      this.queued.push(at);
      this.touchRow(row);
      return QUEUED;
    }
    const params = this.insertParams;
    for (let k = 0; k < cols.length; k++) params[k] = row[cols[k] as number] as Scalar;
    (params as unknown[])[cols.length] = this.fingerprint(c, i);
    let id: number;
    try {
      id = Number(this.insertStmt.run(...params).lastInsertRowid);
    } catch (e) {
      return err(constraintMessage(e, this.cls));
    }
    this.wrote();
    plan.links.forEach((l, li) => {
      const ids = links[li];
      if (!ids || ids.length === 0) return;
      for (const to of ids) this.linkInsert[li]?.run(id, to);
      json += `${json === '' ? '{' : ','}${JSON.stringify(l.attr)}:${JSON.stringify(ids)}`;
    });
    if (this.createHistoryStmt) this.addToRange(id);
    else this.historyStmt.run(this.changeId, this.cls.name, id, 'create', json === '' ? '{}' : `${json}}`);
    this.touchedIds.add(id);
    this.touchRow(row);
    return { status: Status.Created, id, message: null, changed: null };
  }

  /** A plain create's history joins the pending range when its id follows the range's last. */
  private addToRange(id: number): void {
    if (id !== this.pendingLast + 1) this.flushCreates();
    if (this.pendingLast < this.pendingFirst) this.pendingFirst = id;
    this.pendingLast = id;
  }

  /**
   * Write the queued creates, then settle each in order. One INSERT of several rows gives
   * them consecutive ids ending at the last one inserted (the table's rowid grows by one
   * per row). When it fails, nothing of it stays and its rows go in one at a time, so the
   * row that breaks a constraint is the one that reports it.
   */
  private writeQueued(): void {
    const n = this.queued.length;
    if (n === 0 || this.stopped) return;
    const at = this.queued.splice(0);
    const width = this.insertParams.length;
    const params = this.batchParams;
    let first = -1;
    try {
      const stmt = this.batchStmt(n);
      const info = n === CREATE_BATCH ? stmt.run(...params) : stmt.run(...params.slice(0, n * width));
      first = Number(info.lastInsertRowid) - n + 1;
    } catch (e) {
      if (!(e as { code?: string }).code?.startsWith('SQLITE_CONSTRAINT')) throw dbError(e, 'write');
    }
    for (let k = 0; k < n && !this.stopped; k++) {
      let r: RowPlan;
      if (first >= 0) r = this.created(first + k);
      else {
        try {
          r = this.created(Number(this.insertStmt.run(...params.slice(k * width, (k + 1) * width)).lastInsertRowid));
        } catch (e) {
          r = err(constraintMessage(e, this.cls));
        }
      }
      this.settle(at[k] as number, r);
    }
  }

  private batchStmt(n: number): Stmt {
    const stmts = this.batchStmts as (Stmt | undefined)[];
    let s = stmts[n];
    if (!s) stmts[n] = s = this.db.prepare(this.insertSql.head + new Array(n).fill(this.insertSql.row).join(', '));
    return s;
  }

  /** What a queued create leaves once written with `id`. */
  private created(id: number): RowPlan {
    this.wrote();
    this.addToRange(id);
    this.touchedIds.add(id);
    return { status: Status.Created, id, message: null, changed: null };
  }

  private update(c: ResolvedChunk, i: number, base: number, id: number, current: Scalar[], currentLinks: (number[] | null)[]): RowPlan {
    const plan = this.plan;
    const sets: string[] = [];
    const params: Scalar[] = [];
    const changes: Record<string, [Scalar, Scalar]> = {};
    const missing: string[] = [];
    for (let s = 0; s < plan.slots.length; s++) {
      let v = c.values[base + s];
      if (v === undefined) continue;
      const attr = this.slotAttrs[s] as Attribute;
      const old = current[this.fetchIndex.get(attr.code) as number] ?? null;
      const policy = this.slotPolicy[s] as SlotPolicy;
      if (policy === SlotPolicy.Ignore || (policy === SlotPolicy.WriteIfEmpty && old !== null && old !== '')) continue;
      if (attr.mandatory && (v === null || v === '')) {
        missing.push(describe(attr));
        continue;
      }
      if (attr.type === 'password') {
        // No password (null or empty) stays none; a given one is compared with the stored hash.
        if (v === null || v === '' ? old === null || old === '' : verifyPassword(v as string, old as string | null)) continue;
        v = typeof v === 'string' && v !== '' ? hashPassword(v) : v;
        // The hashes, for an undo; history shows them masked.
        changes[attr.code] = [old, v];
      } else {
        if (v === old) continue;
        changes[attr.code] = [old, v];
      }
      sets.push(attr.code);
      params.push(v);
    }
    if (missing.length > 0) return err(`mandatory ${missing.join(', ')} cannot be empty`);
    for (const [col, idx] of [['source', 0], ['source_id', 1]] as const) {
      const v = idx === 0 ? c.source[i] : c.sourceId[i];
      const old = current[this.fetchIndex.get(col) as number] ?? null;
      if (v !== null && v !== undefined && v !== old) {
        sets.push(col);
        params.push(v);
        changes[col] = [old, v];
      }
    }
    const linkChanges: number[] = [];
    plan.links.forEach((l, li) => {
      const next = c.links[i * plan.links.length + li];
      if (next === undefined) return;
      const prev = currentLinks[li] ?? [];
      const policy = this.linkPolicy[li] as SlotPolicy;
      if (policy === SlotPolicy.Ignore || (policy === SlotPolicy.WriteIfEmpty && prev.length > 0)) return;
      if (sameIds(prev, next)) return;
      linkChanges.push(li);
      changes[l.attr] = [prev as never, next as never];
    });
    const changed = Object.keys(changes);
    if (changed.length === 0) return this.unchanged(c, i, id);
    // The object may be one whose create history is still pending: that history holds the values before this change.
    this.writeQueued();
    this.flushCreates();
    // Any write of the object replaces its fingerprint: with this row's, or with none.
    sets.push(FP_COLUMN);
    params.push(this.fingerprint(c, i) as never);
    const key = sets.join(',');
    let stmt = this.updateStmts.get(key);
    if (!stmt) {
      stmt = this.db.prepare(`UPDATE ${q(this.cls.name)} SET ${sets.map((s) => `${q(s)} = ?`).join(', ')} WHERE id = ?`);
      this.updateStmts.set(key, stmt);
    }
    try {
      stmt.run(...params, id);
    } catch (e) {
      return err(constraintMessage(e, this.cls));
    }
    this.wrote();
    for (const li of linkChanges) {
      this.linkDelete[li]?.run(id);
      for (const to of c.links[i * plan.links.length + li] as number[]) this.linkInsert[li]?.run(id, to);
    }
    this.history(id, 'update', changes);
    this.touchFrom(id, (code) => current[this.fetchIndex.get(code) as number] ?? null);
    this.touchFrom(id, (code) => (code in changes ? ((changes[code] as [Scalar, Scalar])[1] ?? null) : (current[this.fetchIndex.get(code) as number] ?? null)));
    return { status: Status.Updated, id, message: null, changed: changed.join(',') };
  }

  private remove(id: number, current: Scalar[]): RowPlan {
    const users: string[] = [];
    for (const r of this.referrers) {
      const ids = r.stmt.all({ id }) as number[];
      if (ids.length > 0) users.push(`${r.label} of ${ids.join(', ')}${ids.length === 3 ? '…' : ''}`);
    }
    if (users.length > 0) return err(`cannot delete ${this.cls.name} ${id}: still referenced by ${users.join('; ')}`);
    // Every value, a password's hash and the link sets too: what an undo recreates it from.
    const changes: Record<string, Scalar | number[]> = {};
    this.plan.fetch.forEach((code, k) => {
      const v = current[k] ?? null;
      if (v !== null) changes[code] = v;
    });
    // The object may be one whose create history is still pending.
    this.writeQueued();
    this.flushCreates();
    this.ownLinkCodes.forEach((code, k) => {
      const ids = (this.ownLinkMembers[k] as Stmt).all(id) as number[];
      if (ids.length > 0) changes[code] = ids;
    });
    for (const s of this.ownLinkDeletes) s.run(id);
    this.deleteStmt.run(id);
    this.wrote();
    this.history(id, 'delete', changes);
    this.touchedIds.add(id);
    this.touchFrom(id, (code) => current[this.fetchIndex.get(code) as number] ?? null);
    return { status: Status.Deleted, id, message: null, changed: null };
  }

  /** Record the tuples this object has (before or after a change) in every lookup space the run uses. */
  private touchFrom(id: number, get: (code: string) => Scalar): void {
    this.touchedIds.add(id);
    if (this.plan.keys.length > 0) this.touchedKeys.add(SPACE_KEYS, this.plan.keys.map(get));
    if (this.pairs) this.touchedKeys.add(SPACE_SOURCE, [get('source'), get('source_id')]);
    for (const sg of this.selfGroups) {
      if (sg.group.subs[0] === 'id' && sg.group.subs.length === 1) continue;
      this.touchedKeys.add(sg.space, sg.group.subs.map(get));
    }
  }

  /** touchFrom's keys for a create, by the positions of the key values in its row. */
  private touchRow(row: readonly Scalar[]): void {
    const tuple = (positions: readonly number[]): Scalar[] => {
      const t = new Array<Scalar>(positions.length);
      for (let k = 0; k < positions.length; k++) {
        const p = positions[k] as number;
        t[k] = p >= 0 ? (row[p] ?? null) : null;
      }
      return t;
    };
    // A create adds the key its lookup just asked about: the filter still has its hashes.
    if (this.keyPos.length > 0) this.touchedKeys.add(SPACE_KEYS, tuple(this.keyPos));
    if (this.pairs) this.touchedKeys.add(SPACE_SOURCE, [row[0] ?? null, row[1] ?? null]);
    this.selfGroups.forEach((sg, g) => {
      if (sg.group.subs[0] === 'id' && sg.group.subs.length === 1) return;
      this.touchedKeys.add(sg.space, tuple(this.selfPos[g] as number[]));
    });
  }

  /** Write the history range of the creates still pending. */
  private flushCreates(): void {
    if (this.pendingLast < this.pendingFirst) return;
    this.createHistoryStmt?.run(this.changeId, this.cls.name, this.pendingFirst, this.pendingLast, this.rangeAttributes);
    this.pendingFirst = 0;
    this.pendingLast = -1;
  }

  private history(id: number, op: string, changes: Record<string, unknown>): void {
    this.historyStmt.run(this.changeId, this.cls.name, id, op, JSON.stringify(changes));
  }
}

/** What the writer sends the run thread for an applied chunk: its outcome, and its rows as one spool block when the report keeps rows. */
export type AppliedReply = Omit<AppliedChunk, 'status' | 'id' | 'message' | 'changed' | 'rows'> & { block: Uint8Array | null };

/**
 * A chunk's reply. Its rows travel as one block of the row spool's encoding, written as it
 * is: cloning the per-row arrays (mostly of nulls) and making an object per row cost the
 * writer thread a fifth of its time and the run thread its young generation.
 */
export function replyOf(a: AppliedChunk): AppliedReply {
  const { status, id, message, changed, rows, ...rest } = a;
  return { ...rest, block: rows === null ? null : encodeBlock({ count: a.count, line: rows.line, status, id, changed, message, warn: rows.warn }) };
}

/**
 * Rows per INSERT of creates: sixteen rows of a dozen values measured fastest (about a
 * third less writer time than one row per statement); much longer parameter lists cost
 * more to pass than they save.
 */
const CREATE_BATCH = 16;

/** What a create that waits for its batch returns: its outcome is settled when the batch is written. */
const QUEUED: RowPlan = Object.freeze({ status: Status.Created, id: null, message: null, changed: null }) as RowPlan;

/** A plan without link sets: one shared empty list instead of one per row. */
const NO_LINKS: never[] = Object.freeze([]) as never[];

function err(message: string): RowPlan {
  return { status: Status.Error, id: null, message, changed: null };
}

function describe(a: Attribute): string {
  return a.label.toLowerCase() === a.code.toLowerCase() ? a.code : `${a.code} (${a.label})`;
}

function defaultValue(a: Attribute): Scalar {
  if (a.default === undefined || a.default === null) return emptyValue(a);
  if (typeof a.default === 'boolean') return a.default ? 1 : 0;
  return a.default;
}

export function addCounts(a: Counts, b: Counts): Counts {
  const out = emptyCounts();
  for (const k of Object.keys(out) as (keyof Counts)[]) out[k] = a[k] + b[k];
  return out;
}

function sameIds(a: readonly number[], b: readonly number[]): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

function constraintMessage(e: unknown, cls: ClassDef): string {
  const code = (e as { code?: string }).code ?? '';
  const msg = (e as Error).message ?? String(e);
  if (code.startsWith('SQLITE_CONSTRAINT')) {
    const m = /UNIQUE constraint failed: [^.]+\.(\w+)/.exec(msg);
    if (m && m[1] === 'source') return `source + source_id already used by another ${cls.name}`;
    if (m) return `${m[1]} must be unique: the value is already used by another ${cls.name}`;
    return `constraint failed: ${msg}`;
  }
  throw dbError(e, 'write');
}

/** Database failures (disk full, read-only, locked) end the run; they are not row errors. */
export function dbError(e: unknown, doing: string): SluiceError {
  const code = (e as { code?: string }).code ?? 'unknown';
  const hint =
    code === 'SQLITE_FULL' ? 'the disk is full' : code === 'SQLITE_READONLY' ? 'the database is read-only' : code === 'SQLITE_BUSY' ? 'another process is writing to the database' : (e as Error).message;
  return new SluiceError('E_DB', `cannot ${doing}: ${hint} (${code})`, { cause: e, option: '--db' });
}
