/**
 * The writer of an import into PostgreSQL: the counterpart of write/apply.ts, with the same
 * rules, statuses, messages, history and change record, so that a run gives the report and
 * the data an SQLite run gives.
 *
 * Shape: a block (one frame of mapped rows) is applied as segments. For the rows of the
 * block not yet applied, every lookup (references, link items, the row's object by id,
 * source or keys, its link sets, its referrers, the holders of its unique values) is asked
 * set-wise, one statement per kind of lookup over arrays of the block's tuples, on the
 * writer's own connection: it sees every row the run applied before. Then the rows are
 * decided in file order from those answers, until a row whose answer an earlier row of the
 * segment may have changed (it touched the row's key, source pair, self-reference, unique
 * value or object, or wrote the class a self link or a delete depends on). The segment's
 * writes go to the server then (creates, link rows and history set-wise), and the rest of
 * the block is looked up again. A block without in-run dependencies is one segment; a
 * block where every row depends on the one before is applied one row at a time, in file
 * order. Either way the result is that of applying the rows one at a time.
 *
 * Ids: a create's id is decided with the row (ranges of consecutive ids share a history
 * row, as on SQLite), from the class's identity sequence, which the run holds alone under
 * the writer lock; it is set past each segment's creates, and put back where it stood when
 * the transaction it advanced rolls back (SQLite's AUTOINCREMENT counter is part of the
 * transaction; a PostgreSQL sequence is not).
 */
import { quoted } from '../../base/errors.js';
import { SluiceError } from '../../base/errors.js';
import { pausePoint } from '../../base/pause.js';
import type { Attribute, ClassDef, Model, Scalar } from '../../model/types.js';
import { emptyValue } from '../../rows/cast.js';
import type { LinkItem, MappedRows } from '../../rows/map.js';
import { type ImportPlan, type RefGroup, SlotPolicy } from '../../rows/plan.js';
import { keyTuple } from '../../resolve/resolve.js';
import { type TupleKey, hasEmpty, tupleKey } from '../../resolve/tuple.js';
import { type Counts, emptyCounts } from '../../report/types.js';
import { type AppliedChunk, type BundlePart, type ChangeLabel, type RunInfo, Status, addCounts } from '../../write/apply.js';
import { MASK, hashPassword, verifyPassword } from '../../write/password.js';
import type { LookupIndex } from '../../write/prepare.js';
import { TouchedKeys, touchedLog2Bits } from '../../write/touched.js';
import { FP_COLUMN, q } from '../../model/schema.js';
import type { FingerprintTable } from '../../resolve/fingerprint.js';
import { CopyText, copyRows } from './copy.js';
import { bumpGeneration } from './fingerprints.js';
import { pgLookupIndexDDL, pgType } from './schema.js';
import { type SequenceMark, markSequences, restoreSequences, trackingSequences } from './sequences.js';
import type { PgClient } from './store.js';
import { PgSyncWriter } from './sync.js';
import type { SyncOutcome, SyncRunConfig } from '../../sync/writer.js';

interface Match {
  count: number;
  id: number | null;
  row: Scalar[] | null;
}

const NO_MATCH: Match = { count: 0, id: null, row: null };

/** Objects a run creates before it first analyzes the class (then again at each doubling). */
const ANALYZE_AFTER = 10_000;

/**
 * The fewest rows of a block looked up at once. A segment looks up the rows after it too,
 * which a row depending on the one before wastes: after a short segment the next looks up
 * twice its length (at least this many), after a full one twice as many as it did, so a
 * block where every row depends on the one before costs rows × MIN_WINDOW lookups, not rows².
 */
const MIN_WINDOW = 64;

/** Kept answers per class and attributes (resolveStable), at most: past that they start again. */
const STABLE_ANSWERS = 100_000;

interface RowPlan {
  status: Status;
  id: number | null;
  message: string | null;
  changed: string | null;
}

/** What the set-wise lookups answered for the rows of a block from one position on. */
interface Answers {
  /** per ref group: tuple → match */
  refs: Map<TupleKey, Match>[];
  /** per link spec: item attr → value → match */
  links: Map<string, Map<TupleKey, Match>>[];
  byId: Map<TupleKey, Match>;
  bySource: Map<TupleKey, Match>;
  byKeys: Map<TupleKey, Match>;
  /** per link spec of the plan: owner id → member ids */
  members: Map<number, number[]>[];
  /** per link attribute of the class (a delete records them all) */
  ownMembers: Map<number, number[]>[];
  /** per referrer kind: referenced id → up to three referrer ids */
  referrers: Map<number, number[]>[];
  /** per unique attribute of the plan: value → ids holding it */
  unique: Map<TupleKey, number[]>[];
  /** `${table}\0${attr}` → up to three existing values */
  samples: Map<string, string[]>;
  /** the source pairs rows would give the objects they match (pairOf) → the objects holding them */
  pairs: Map<TupleKey, Match>;
  /** a sync with --on-multiple take-first: the oldest object of each key tuple several match, with its fetched columns */
  firstRows: Map<number, Scalar[]>;
  /** a sync with --load-only: the replicas of the block's records, by record */
  replicas: Map<string, { cells: string | null; object: number | null; status: string }>;
}

/** A history row, in the order SQLite's writer inserts them. */
interface HistoryRow {
  objectId: number;
  lastObjectId: number | null;
  op: string;
  changes: string;
}

/** What a segment writes, sent when it ends. */
interface Pending {
  /** fp: the record's fingerprint to store with the object (null: none) */
  /** the creates' rows as COPY's text lines (id, insertCols, fingerprint), written as each row is decided: its values die young */
  creates: CopyText;
  updates: { id: number; cols: string[]; values: Scalar[]; fp: bigint | null }[];
  /** unchanged objects whose stored fingerprint may differ from their record's */
  fps: { id: number; fp: bigint }[];
  deletes: number[];
  /** link sets replaced: owner id, per link spec index, new members (creates: no delete first) */
  linkSets: { li: number; id: number; ids: number[]; replace: boolean }[];
  history: HistoryRow[];
  /** a sync with --load-only: what each record does to its replica (a new one, seen again, or new cells), and when */
  loads: { record: string; op: 'insert' | 'seen' | 'update'; cells: string | null; at: string }[];
}

/** A block's fingerprint matches, found as it was read (PgApplier.apply). */
export interface FoundRows {
  /** per row, the object its record's fingerprint matched (0: none) */
  hit: Float64Array;
  /** 1 for a row left unmapped */
  unmapped: Uint8Array;
  /** map row i into `m` (its match stopped counting) */
  map(m: MappedRows, i: number): void;
}

/** A row's warnings as the report shows them: one per line, null for none. */
function warningText(w: string[] | null): string | null {
  return w && w.length > 0 ? w.join('\n') : null;
}

/**
 * Rows decided between two pauses (a mask: 1,024 rows). On a 200,000-row initial load the
 * run waited 0.6–0.7 s for its sent writes with the pauses, 1.0–1.1 s without them.
 */
const YIELD_ROWS = 1023;

/** A turn of the event loop: pending socket reads and writes are done. */
function idle(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}

/** A row's link sets and their errors where the plan has none: shared, and never written (the plan has no link to write). */
const NO_LINKS: (number[] | undefined)[] = [];
const NO_LINK_ERRORS: (string | null)[] = [];

/** How a row finds its object: by id, by source pair or by its keys, and the tuple it looks up. */
interface RowMatch {
  space: 'id' | 'source' | 'keys';
  tuple: Scalar[];
}

function findMatch(plan: ImportPlan, cls: ClassDef, m: MappedRows, i: number): RowMatch | null {
  if (m.id[i] !== null) return { space: 'id', tuple: [m.id[i] as number] };
  if (m.source[i] !== null && m.sourceId[i] !== null) return { space: 'source', tuple: [m.source[i] as string, m.sourceId[i] as string] };
  if (plan.keys.length > 0) return { space: 'keys', tuple: keyTuple(plan, cls, m.values, i * plan.slots.length) };
  return null;
}

function emptyPending(): Pending {
  return { creates: new CopyText(), updates: [], fps: [], deletes: [], linkSets: [], history: [], loads: [] };
}

/** Tuples an earlier row of a segment touched, by lookup space, and the objects it wrote. */
class Touched {
  /** objects written, but those of the range of ids created [createdFrom, createdTo) */
  private readonly ids = new Set<number>();
  private createdFrom = 0;
  private createdTo = 0;
  /** per lookup space, the tuples' keys (a one-value key keeps its type: 5 is not "5") */
  private readonly spaces = new Map<string, Set<TupleKey>>();
  wroteClass = false;
  rows = 0;
  /** Whether an earlier row of the segment wrote object `id`. */
  wrote(id: number): boolean {
    return (id >= this.createdFrom && id < this.createdTo) || this.ids.has(id);
  }
  /** Object `id` is written; a create's id next to the last one created widens their range (a set of them was most of what a create allocated). */
  addId(id: number, created: boolean): void {
    if (created && id === this.createdTo && this.createdTo > this.createdFrom) this.createdTo++;
    else if (created && this.createdTo === this.createdFrom) {
      this.createdFrom = id;
      this.createdTo = id + 1;
    } else this.ids.add(id);
  }
  add(space: string, t: readonly Scalar[]): void {
    let set = this.spaces.get(space);
    if (!set) this.spaces.set(space, (set = new Set()));
    set.add(tupleKey(t));
  }
  has(space: string, t: readonly Scalar[]): boolean {
    return this.spaces.get(space)?.has(tupleKey(t)) ?? false;
  }
}

/** The PostgreSQL type of a column a lookup compares. */
function columnType(cls: ClassDef, code: string): string {
  if (code === 'id') return 'bigint';
  if (code === 'source' || code === 'source_id') return 'text';
  const a = cls.byCode.get(code);
  return a ? pgType(a) : 'text';
}

function isTextType(t: string): boolean {
  return t.startsWith('text');
}

/** A value as the text an array parameter carries (cast to the column's type in the statement). */
/** Attribute `code` of an object's values laid out by `index` (null where it has none). */
function valueOf(code: string, values: readonly Scalar[], index: ReadonlyMap<string, number>): Scalar {
  const k = index.get(code);
  return k === undefined ? null : (values[k] ?? null);
}

function tupleOf(codes: readonly string[], values: readonly Scalar[], index: ReadonlyMap<string, number>): Scalar[] {
  const out: Scalar[] = new Array(codes.length);
  for (let k = 0; k < codes.length; k++) out[k] = valueOf(codes[k] as string, values, index);
  return out;
}

function text(v: Scalar | undefined): string | null {
  if (v === null || v === undefined) return null;
  if (typeof v === 'boolean') return v ? 'true' : 'false';
  return String(v);
}

/** What an applier is told of its run: write/apply.ts's RunInfo, and the input's size when known (it sizes the run's key filter). */
export interface PgRunInfo extends RunInfo {
  inputBytes?: number | null;
}

export class PgApplier {
  readonly counts: Counts = emptyCounts();
  rolledBack: Counts | null = null;
  lastCommittedLine: number | null;
  changeId = 0;
  private committed: Counts = emptyCounts();
  private stopWarned = false;
  private stopped = false;
  private stopMessage: string | null = null;
  private readonly cls: ClassDef;
  private readonly stored: Attribute[];
  private readonly storedSlot: number[];
  private readonly defaults: Scalar[];
  private readonly slotAttrs: Attribute[];
  private readonly fetchIndex = new Map<string, number>();
  private readonly mandatoryLinks: Attribute[];
  private readonly insertCols: number[];
  private readonly rangeHistory: boolean;
  private readonly rangeAttributes: string;
  private readonly ownLinks: Attribute[];
  private readonly referrerKinds: { label: string; table: string; col: string; owner: string; self: boolean }[];
  private readonly uniqueSlots: number[];
  private readonly selfGroups: number[];
  private readonly selfLinks: number[];
  private nextId = 1;
  /** whether the run's rows carry fingerprints (useFingerprints), and the committed ones a row may match */
  private fingerprinted = false;
  private fpTable: FingerprintTable | null = null;
  /** the block's fingerprints and warnings, while it is applied */
  private fp: BigInt64Array | null = null;
  private warn: (string | null)[] = [];
  /** objects the run has written: a fingerprint match on one of them does not count */
  private readonly written = new Set<number>();
  /** a row matched by id or source, not by the keys, wrote the class: no fingerprint match counts any more */
  private loose = false;
  /** within the open transaction: the class changed, and whether by such a row (the commit counts a generation) */
  private changedInTx = false;
  private looseInTx = false;
  /** objects the run has created, and how many there were when it last analyzed the class */
  private createdInRun = 0;
  private analyzedAt = 0;
  /** the columns of the class the run looks values up in, besides its unique id and source pair */
  private readonly analyzed: string[];
  /** answers on classes the run does not write, kept from frame to frame (resolveStable) */
  private readonly stable = new Map<string, Map<TupleKey, Match>>();
  /** sequence positions to go back to when the open transaction rolls back (a bundle's: its earlier files' classes too) */
  private seqAtCommit: SequenceMark[] = [];
  private pendingFirst = 0;
  private pendingLast = -1;
  private rowsInTx = 0;
  private lastLine = 0;
  private rowsHandled = 0;
  /** what the change record names (begin or join) */
  private label: ChangeLabel = { className: '', action: '' };
  /** a bundle's earlier files: their figures, added to this file's in the change record */
  private prior: BundlePart['prior'] | null = null;
  private inTx = false;
  /** a bundle's file has ended (endPart): a failure of the bundle before the next file joins still ends the run here */
  private partEnded = false;
  private pending: Pending = emptyPending();
  /** the last write sent (send) and the first error of those sent */
  private sentLast: Promise<void> = Promise.resolve();
  private sentError: unknown = null;
  /** the class's sequence is behind the ids the run has given (saveSequence) */
  private sequenceBehind = false;
  private touched = new Touched();
  /** each row's match in the block being applied, kept from its segment's lookup (matchOf) */
  private matches: (RowMatch | null | undefined)[] = [];
  /**
   * When the class held no object as the run began: every tuple of its objects' text keys,
   * source pairs and self references the run has written, in fixed memory (write/touched.ts).
   * A lookup of a tuple it has never written has no match, without asking the server.
   */
  private runKeys: TouchedKeys | null = null;
  /** the lookups runKeys answers: their attributes (joined by NUL) and their spaces there */
  private readonly keySpaces = new Map<string, number>();
  private readonly keySpaceAttrs: string[][] = [];
  /** the space of the run's keys among them, if they are text */
  private readonly keysSpace: number | undefined;
  /** a tuple of the last resolve() matches nothing (sample) */
  private unmatched = false;
  private readonly classSeq: string;
  /** a create's row: its position of each column (source, source_id, then the stored attributes) */
  private readonly rowIndex: Map<string, number>;
  /** a sync's update policy per value slot and per link spec (all master otherwise) */
  private readonly slotPolicy: SlotPolicy[];
  private readonly linkPolicy: SlotPolicy[];
  /** a sync's replicas, guard and absent objects; null for an import */
  private readonly syncer: PgSyncWriter | null;
  /** what a sync did at its end, besides its rows */
  syncOutcome: SyncOutcome | null = null;
  /** the change a run that failed at its end recorded (finish), for the caller's own finish */
  private endedChange: number | null = null;
  private endFailed = false;
  /** a sync's row being applied: whether the source owns the object it found */
  private rowOwned = false;

  constructor(
    private readonly client: PgClient,
    private readonly model: Model,
    private readonly plan: ImportPlan,
    private readonly run: PgRunInfo,
    private readonly schema: string,
    sync: SyncRunConfig | null = null,
  ) {
    this.cls = model.classes.get(plan.className) as ClassDef;
    this.lastCommittedLine = run.chunkSize > 0 && !run.simulate ? 0 : null;
    this.stored = this.cls.attributes.filter((a) => a.type !== 'links');
    this.storedSlot = this.stored.map((a) => plan.slots.indexOf(a.code));
    this.defaults = this.stored.map(defaultValue);
    this.slotAttrs = plan.slots.map((c) => this.cls.byCode.get(c) as Attribute);
    plan.fetch.forEach((c, i) => this.fetchIndex.set(c, i));
    this.mandatoryLinks = this.cls.attributes.filter((a) => a.type === 'links' && a.mandatory);
    const fromPlan = (k: number): boolean => (this.storedSlot[k] as number) >= 0;
    const pairs = plan.sourceColumn >= 0 || plan.sync !== null;
    this.slotPolicy = plan.sync?.policy ?? plan.slots.map(() => SlotPolicy.Master);
    this.linkPolicy = plan.sync?.linkPolicy ?? plan.links.map(() => SlotPolicy.Master);
    this.syncer = plan.sync && sync ? new PgSyncWriter(client, model, plan.className, sync, schema) : null;
    this.insertCols = ['source', 'source_id', ...this.stored.map((a) => a.code)].map((_, k) => k).filter((k) => (k < 2 ? pairs : fromPlan(k - 2) || this.defaults[k - 2] !== null));
    const inHistory = this.stored.filter((_, k) => fromPlan(k) || (this.defaults[k] !== null && this.defaults[k] !== ''));
    this.rangeAttributes = JSON.stringify(inHistory.map((a) => a.code));
    this.rangeHistory = !(plan.links.length > 0 || inHistory.some((a) => a.type === 'password'));
    this.ownLinks = this.cls.attributes.filter((a) => a.type === 'links');
    this.referrerKinds = [];
    for (const other of model.classes.values()) {
      for (const a of other.attributes) {
        if (a.target !== this.cls.name) continue;
        const self = other === this.cls;
        if (a.type === 'ref') this.referrerKinds.push({ label: `${other.name}.${a.code}`, table: other.name, col: a.code, owner: 'id', self });
        else if (a.type === 'links') this.referrerKinds.push({ label: `${other.name}.${a.code}`, table: a.linkTable as string, col: 'to_id', owner: 'from_id', self });
      }
    }
    this.uniqueSlots = plan.slots.flatMap((code, s) => (this.cls.byCode.get(code)?.unique && this.cls.byCode.get(code)?.type !== 'links' ? [s] : []));
    this.selfGroups = plan.refs.flatMap((g, gi) => (g.target === plan.className ? [gi] : []));
    this.selfLinks = plan.links.flatMap((l, li) => (l.target === plan.className ? [li] : []));
    this.classSeq = `${q(schema)}.${q(`_seq_${this.cls.name}`)}`;
    this.rowIndex = new Map(['source', 'source_id', ...this.stored.map((a) => a.code)].map((c, k) => [c, k]));
    const selfSubs = plan.refs.filter((g) => g.target === plan.className).flatMap((g) => g.subs);
    const selfItems = plan.links.filter((l) => l.target === plan.className).map((l) => l.itemAttr);
    const textual = (attrs: readonly string[]): boolean => attrs.length > 0 && attrs.every((c) => c !== 'id' && isTextType(columnType(this.cls, c)));
    // Text only: the server compares text as the filter does, character for character.
    for (const attrs of [plan.keys, ['source', 'source_id'], ...this.selfGroups.map((gi) => (plan.refs[gi] as RefGroup).subs)]) {
      if (!textual(attrs) || this.keySpaces.has(attrs.join('\0'))) continue;
      this.keySpaces.set(attrs.join('\0'), this.keySpaceAttrs.length);
      this.keySpaceAttrs.push([...attrs]);
    }
    this.keysSpace = this.keySpaces.get(plan.keys.join('\0'));
    this.analyzed = [...new Set([...plan.keys, ...selfSubs, ...selfItems, ...this.uniqueSlots.map((s) => plan.slots[s] as string)])].filter((c) => c !== 'id' && this.cls.byCode.has(c));
  }

  /** A statement and its rows, once the writes sent before it have landed (the first that failed throws instead). */
  private async query(sql: string, values: unknown[] = []): Promise<Scalar[][]> {
    await this.landed();
    return (await this.client.query<Scalar[]>({ text: sql, values, rowMode: 'array' })).rows;
  }

  /**
   * A write whose answer the run does not wait for (flush): it starts once the writes sent
   * before it have landed, one at a time, and whatever the run asks next waits for it (query).
   * Its failure is told by the next statement, by landed(), or by the commit; the writes
   * after a failure are not sent (the transaction is aborted).
   */
  private send(start: () => Promise<unknown>): void {
    const write = this.sentLast.then(() => (this.sentError === null ? start() : undefined));
    write.catch((err: unknown) => {
      this.sentError ??= err;
    });
    this.sentLast = write.then(
      () => undefined,
      () => undefined,
    );
  }

  private sendQuery(sql: string, values: unknown[] = []): void {
    this.send(() => this.client.query({ text: sql, values, rowMode: 'array' }));
  }

  /** The writes sent so far have been done by the server; the first that failed throws. */
  private async landed(): Promise<void> {
    await this.sentLast;
    if (this.sentError !== null) throw this.sentError;
  }

  /** The class's sequence at the last id given, before a commit or the next file of a bundle reads it. */
  private async saveSequence(): Promise<void> {
    if (!this.sequenceBehind) return;
    await this.query(`SELECT setval($1::regclass, $2::bigint, true)`, [this.classSeq, this.nextId - 1]);
    this.sequenceBehind = false;
  }

  /** COMMIT, once the writes sent have landed: an aborted transaction's COMMIT would say nothing. */
  private async commit(): Promise<void> {
    await this.landed();
    await this.query('COMMIT');
  }

  /** ROLLBACK, once the writes sent have ended, whatever became of them. */
  private async rollback(): Promise<void> {
    await this.sentLast;
    this.sentError = null;
    await this.query('ROLLBACK');
  }

  /**
   * The sequences whose positions a rollback puts back: the class's ids, the change's, the
   * history's, and those the transaction had marked already (a bundle's earlier files'
   * classes), each where it stands now; `kept`: positions marked earlier in the same
   * transaction (a bundle's next file), which stay.
   */
  private async markSequences(kept: readonly SequenceMark[] = []): Promise<void> {
    const own = [this.classSeq, ...(await trackingSequences(this.client))];
    const seqs = [...new Set([...own, ...this.seqAtCommit.map((s) => s.seq), ...kept.map((s) => s.seq)])];
    const now = await markSequences(this.client, seqs);
    const cls = now[0] as SequenceMark;
    this.nextId = Number(cls.value) + (cls.called ? 1 : 0);
    this.seqAtCommit = now.map((m) => kept.find((s) => s.seq === m.seq) ?? m);
  }

  /** Where the open transaction's sequences stood when it began: a bundle's next file keeps them (join). */
  get sequenceMarks(): readonly SequenceMark[] {
    return this.seqAtCommit;
  }

  private async restoreSequences(): Promise<void> {
    await restoreSequences(this.client, this.seqAtCommit);
  }

  /**
   * Open the run: its transaction, with the indexes its lookups need (`indexes`, as an SQLite
   * run creates them: a set-wise lookup joins on them), and its change record.
   */
  async begin(className: string, action: string, indexes: readonly LookupIndex[] = []): Promise<void> {
    this.label = { className, action };
    await this.query('BEGIN');
    this.inTx = true;
    await this.makeIndexes(indexes);
    await this.markSequences();
    const r = await this.query(`INSERT INTO _sluice_change ("user", started_at, comment, class, file, action, outcome) VALUES ($1, $2, $3, $4, $5, $6, 'running') RETURNING id`, [
      this.run.user,
      new Date().toISOString(),
      this.run.comment,
      className,
      this.run.file,
      action,
    ]);
    this.changeId = Number((r[0] as Scalar[])[0]);
    await this.checkFresh();
    await this.syncer?.track(this.changeId);
    await this.syncer?.begin();
  }

  private async makeIndexes(indexes: readonly LookupIndex[]): Promise<void> {
    for (const ix of indexes) await this.query(pgLookupIndexDDL(this.schema, this.model.classes.get(ix.cls) as ClassDef, ix.cols));
  }

  /**
   * A bundle's next file: go on with the change `part.change` and the transaction an earlier
   * file's applier left open (endPart), keeping the sequence positions it marked, instead of
   * opening a run of its own (write/apply.ts join).
   */
  async join(label: ChangeLabel, part: BundlePart, sequences: readonly SequenceMark[], indexes: readonly LookupIndex[] = []): Promise<void> {
    this.label = label;
    this.changeId = part.change;
    this.prior = part.prior;
    this.inTx = true;
    this.rowsInTx = 0;
    await this.makeIndexes(indexes);
    await this.markSequences(sequences);
    await this.checkFresh();
  }

  /** Whether the class holds no object yet (a bundle's earlier files may have written some): then the run keeps runKeys. */
  private async checkFresh(): Promise<void> {
    if (this.plan.sync || this.keySpaces.size === 0) return;
    const [row] = await this.query(`SELECT (EXISTS (SELECT 1 FROM ${q(this.cls.name)}))::int`);
    if (Number((row as Scalar[])[0]) === 0) this.runKeys = new TouchedKeys(touchedLog2Bits(this.run.inputBytes ?? null, this.keySpaces.size));
  }

  /**
   * The end of a bundle's file that another follows: its rows are written and its class's
   * generation counted, and with --chunk-size it commits; the transaction stays open for the
   * next file's applier (write/apply.ts endPart).
   */
  async endPart(lines: number): Promise<void> {
    if (!this.inTx) throw new SluiceError('E_INTERNAL', 'a bundle file ended twice');
    this.flushCreates();
    await this.flush();
    // The next file's applier goes on in this transaction: the writes sent must have landed.
    await this.landed();
    await this.saveSequence();
    await this.countGeneration();
    if (this.run.chunkSize > 0 && !this.run.simulate) {
      await this.updateChange('running', lines);
      await this.commit();
      this.lastCommittedLine = this.lastLine;
      this.committed = { ...this.counts };
      await this.query('BEGIN');
      await this.markSequences();
    }
    this.inTx = false;
    this.partEnded = true;
  }

  /** A transaction that changed the class counts one more generation of it (resolve/fingerprint.ts). */
  private async countGeneration(): Promise<void> {
    if (!this.changedInTx) return;
    await bumpGeneration(this.client, this.cls.name, this.looseInTx ? null : this.plan.keys);
    this.changedInTx = false;
    this.looseInTx = false;
  }

  private async updateChange(outcome: string, lines: number): Promise<void> {
    const c = this.prior ? addCounts(this.prior.counts, this.counts) : this.counts;
    await this.query(`UPDATE _sluice_change SET finished_at = $1, lines = $2, created = $3, updated = $4, unchanged = $5, deleted = $6, skipped = $7, errors = $8, warnings = $9, outcome = $10 WHERE id = $11`, [
      new Date().toISOString(),
      lines + (this.prior?.lines ?? 0),
      c.created,
      c.updated,
      c.unchanged,
      c.deleted,
      c.skipped,
      c.errors,
      c.warnings,
      outcome,
      this.changeId,
    ]);
  }

  // ------------------------------------------------------------------ a block

  /**
   * The run's records are fingerprinted (resolve/fingerprint.ts): each write stores its
   * record's fingerprint, and a record matching the committed fingerprint of exactly one
   * object (`table`) that the run has not written is unchanged, without a lookup.
   */
  useFingerprints(table: FingerprintTable | null): void {
    this.fingerprinted = true;
    this.fpTable = table;
  }

  /** Whether row i's fingerprint match (hit[i]: the object, 0 for none) counts. */
  private hitCounts(m: MappedRows, hit: Float64Array | null, i: number): boolean {
    if (!hit || m.error[i] !== null || this.loose) return false;
    const id = hit[i] as number;
    return id > 0 && !this.written.has(id);
  }

  /** The fingerprint row i's write stores: none for a row with warnings. */
  private fpOf(i: number): bigint | null {
    const fp = this.fp?.[i];
    return fp === undefined || fp === 0n || this.warn[i] !== null ? null : fp;
  }

  /** The committed fingerprints a record of the run may still match; null when none can (matchFrame). */
  matchable(): FingerprintTable | null {
    return this.loose ? null : this.fpTable;
  }

  /**
   * Apply a block of mapped rows. `fp`: each row's fingerprint (null: none). `found`: the
   * block's fingerprint matches, when they were looked for as it was read (matchFrame); its
   * matched rows were left unmapped, and are mapped here if their match stops counting.
   */
  async apply(m: MappedRows, wantRows: boolean, fp: BigInt64Array | null = null, found: FoundRows | null = null): Promise<AppliedChunk> {
    const n = m.count;
    const warn = Array.from({ length: n }, (_, i) => warningText(m.warn[i] ?? null));
    const out: AppliedChunk = {
      seq: 0,
      count: n,
      hits: 0,
      status: new Uint8Array(n),
      id: new Float64Array(n),
      message: new Array(n).fill(null),
      changed: new Array(n).fill(null),
      stop: null,
      lastCommittedLine: this.lastCommittedLine,
      rows: wantRows ? { line: m.line, warn } : null,
      counts: this.counts,
    };
    if (this.stopped) return { ...out, count: 0 };
    const linesSoFar = this.rowsHandled;
    this.fp = this.fingerprinted ? fp : null;
    this.warn = warn;
    const hit = found ? found.hit : this.fp && this.fpTable ? this.fpTable.find(this.fp) : null;
    this.matches = new Array<RowMatch | null | undefined>(n);
    // Rows whose fingerprint match counted when the rest of the block was looked up: not looked up.
    const skipped = new Uint8Array(n);
    let i = 0;
    let window = n;
    while (i < n && !this.stopped) {
      const start = i;
      const end = Math.min(n, i + window);
      for (let k = i; k < end; k++) {
        skipped[k] = this.hitCounts(m, hit, k) ? 1 : 0;
        if (skipped[k] === 0 && found?.unmapped[k] === 1) {
          found.unmapped[k] = 0;
          found.map(m, k);
          warn[k] = warningText(m.warn[k] ?? null);
        }
      }
      const answers = await this.lookUp(m, i, end, skipped);
      this.touched = new Touched();
      let commitAt = -1;
      for (; i < end && !this.stopped; i++) {
        // The connection's socket is written and read while this thread is idle: a pause now
        // and then keeps the server fed with the writes sent (flush) while rows are decided.
        if ((i & YIELD_ROWS) === YIELD_ROWS) await idle();
        let r: RowPlan;
        let record: string | null = null;
        if (skipped[i]) {
          // An earlier row wrote its object since: it is looked up with the rest of the block.
          if (!this.hitCounts(m, hit, i)) break;
          // As on SQLite, a matched record is neither mapped nor checked: no warning.
          warn[i] = null;
          r = { status: Status.Unchanged, id: hit?.[i] as number, message: null, changed: null };
          out.hits++;
        } else {
          if (this.touched.rows > 0 && this.depends(m, i, answers)) break;
          record = this.syncer ? (m.sourceId[i] ?? null) : null;
          this.rowOwned = false;
          r = this.applyRow(m, i, answers, warn);
        }
        this.settle(out, m, warn, i, r);
        if (this.stopped) break;
        if (this.syncer) this.syncRow(m, i, r, record);
        if (this.run.chunkSize > 0 && !this.run.simulate && this.rowsInTx >= this.run.chunkSize && (this.syncer?.mayCommit() ?? true)) {
          commitAt = linesSoFar + i + 1;
          i++;
          break;
        }
      }
      if (this.stopped) break;
      window = 2 * (i - start) < end - start ? Math.max(MIN_WINDOW, 2 * (i - start)) : Math.min(n, 2 * window);
      await this.flush();
      await this.syncer?.flushIfFull(this.changeId);
      if (commitAt >= 0) await this.commitChunk(commitAt);
    }
    // A range of creates goes on into the next block: its history is written when another
    // kind of change, a gap in the ids, or a commit ends it.
    if (!this.stopped) await this.flush();
    this.rowsHandled += out.count;
    out.lastCommittedLine = this.lastCommittedLine;
    out.counts = { ...this.counts };
    // The report's rows carry the warnings as the rows ended (a link error drops the key's).
    if (out.rows) out.rows.warn = warn;
    return out;
  }

  private settle(out: AppliedChunk, m: MappedRows, warn: (string | null)[], i: number, r: RowPlan): void {
    out.status[i] = r.status;
    out.id[i] = r.id ?? 0;
    out.message[i] = r.message;
    out.changed[i] = r.changed;
    const c = this.counts;
    const s = r.status;
    if (s === Status.Created) c.created++;
    else if (s === Status.Updated) c.updated++;
    else if (s === Status.Unchanged) c.unchanged++;
    else if (s === Status.Deleted) c.deleted++;
    else if (s === Status.Skipped) c.skipped++;
    else c.errors++;
    if (warn[i] !== null) c.warnings++;
    const line = m.line[i] as number;
    this.lastLine = line;
    if (r.status === Status.Error && this.run.stopOnError) {
      out.count = i + 1;
      out.stop = { line, message: `line ${line}: ${r.message}` };
      this.stopMessage = out.stop.message;
      this.stopped = true;
      this.stopWarned = warn[i] !== null;
      this.pending = emptyPending();
      return;
    }
    this.rowsInTx++;
  }

  /**
   * A sync's row once settled (write/apply.ts syncRow): the object it found or created is
   * seen; the replica of its record keeps the object, its cells, and its error.
   */
  private syncRow(m: MappedRows, i: number, r: RowPlan, record: string | null): void {
    const syncer = this.syncer as PgSyncWriter;
    if (r.id !== null && r.status !== Status.Error) syncer.saw(r.id);
    if (record !== null || r.status !== Status.Error) syncer.sawRecord();
    // A load wrote its replica already (loadRecord); a row in error still keeps its error there.
    if (record === null || (this.plan.sync?.loadOnly && r.status !== Status.Error)) return;
    if (this.plan.sync?.loadOnly) this.touched.add('record', [record]);
    const owned = r.status === Status.Created || this.rowOwned;
    syncer.replica(record, r.status === Status.Error ? null : r.id, owned, r.status === Status.Error ? r.message : null, m.replica?.[i] ?? null);
  }

  private async commitChunk(lines: number): Promise<void> {
    this.flushCreates();
    await this.flush();
    await this.landed();
    await this.saveSequence();
    await this.syncer?.flush(this.changeId);
    await this.updateChange('running', lines);
    await this.countGeneration();
    await this.commit();
    pausePoint('chunk-committed');
    this.lastCommittedLine = this.lastLine;
    this.committed = { ...this.counts };
    this.rowsInTx = 0;
    await this.query('BEGIN');
    await this.markSequences();
  }

  // ------------------------------------------------------------------ lookups

  /** Rows `from` to `end` that a lookup concerns: those without an error of their own, nor a fingerprint match that counts. */
  private async lookUp(m: MappedRows, from: number, end: number, skipped: Uint8Array): Promise<Answers> {
    const plan = this.plan;
    const nRefs = plan.refs.length;
    const nLinks = plan.links.length;
    const nSlots = plan.slots.length;
    const rows: number[] = [];
    for (let i = from; i < end; i++) if (m.error[i] === null && skipped[i] === 0) rows.push(i);
    const samples = new Map<string, string[]>();
    const refs: Map<TupleKey, Match>[] = [];
    for (let gi = 0; gi < nRefs; gi++) {
      const g = plan.refs[gi] as RefGroup;
      const tuples: Scalar[][] = [];
      for (const i of rows) {
        const t = m.refTuples[i * nRefs + gi];
        if (t) tuples.push(t);
      }
      const found = await this.resolve(g.target, g.subs, tuples, []);
      refs.push(found);
      if (this.unmatched) await this.sample(samples, g.target, g.subs[0] as string);
      // The resolved id is the reference's value (the keys may be references).
      for (const i of rows) {
        const t = m.refTuples[i * nRefs + gi];
        if (t === undefined) m.values[i * nSlots + g.slot] = undefined;
        else if (t === null) m.values[i * nSlots + g.slot] = null;
        else {
          const r = found.get(tupleKey(t)) ?? NO_MATCH;
          m.values[i * nSlots + g.slot] = r.count === 1 ? r.id : null;
        }
      }
    }
    const links: Map<string, Map<TupleKey, Match>>[] = [];
    for (let li = 0; li < nLinks; li++) {
      const l = plan.links[li] as (typeof plan.links)[number];
      const byAttr = new Map<string, Scalar[][]>();
      for (const i of rows) {
        for (const it of m.linkItems[i * nLinks + li] ?? []) {
          let list = byAttr.get(it.attr);
          if (!list) byAttr.set(it.attr, (list = []));
          list.push([it.value]);
        }
      }
      const found = new Map<string, Map<TupleKey, Match>>();
      for (const [attr, tuples] of byAttr) {
        const f = await this.resolve(l.target, [attr], tuples, []);
        found.set(attr, f);
        if (this.unmatched) await this.sample(samples, l.target, attr);
      }
      links.push(found);
    }
    const byId: Scalar[][] = [];
    const bySource: Scalar[][] = [];
    const byKeys: Scalar[][] = [];
    // A load writes no object: it looks up the records' replicas only.
    // The rows' values are final now (their references resolved): each row's match is kept for the segment.
    this.matches.fill(undefined, from, end);
    for (const i of plan.sync?.loadOnly ? [] : rows) {
      const match = this.matchOf(m, i);
      if (match === null) continue;
      if (match.space === 'id') byId.push(match.tuple);
      else if (match.space === 'source') {
        bySource.push(match.tuple);
        // A sync's record its source has no object for is looked for by the keys.
        if (plan.sync && plan.keys.length > 0) byKeys.push(keyTuple(plan, this.cls, m.values, i * nSlots));
      } else byKeys.push(match.tuple);
    }
    const a: Answers = {
      refs,
      links,
      byId: await this.resolve(this.cls.name, ['id'], byId, plan.fetch),
      bySource: await this.resolve(this.cls.name, ['source', 'source_id'], bySource, plan.fetch),
      byKeys: await this.resolve(this.cls.name, plan.keys, byKeys, plan.fetch),
      members: [],
      ownMembers: [],
      referrers: [],
      unique: [],
      samples,
      pairs: new Map(),
      firstRows: new Map(),
      replicas: new Map(),
    };
    if (plan.sync?.loadOnly) {
      const records = [...new Set(rows.flatMap((i) => (m.sourceId[i] === null ? [] : [m.sourceId[i] as string])))];
      if (records.length > 0) {
        const found = await this.query('SELECT record, cells, object_id, status FROM _sluice_replica WHERE source_ref = $1 AND record = ANY($2::text[])', [plan.sync.ref, records]);
        for (const r of found) a.replicas.set(r[0] as string, { cells: (r[1] ?? null) as string | null, object: (r[2] ?? null) as number | null, status: r[3] as string });
      }
    }
    const matched: number[] = [];
    for (const map of [a.byId, a.bySource, a.byKeys]) for (const x of map.values()) if (x.count === 1) matched.push(x.id as number);
    if (plan.sync?.onMultiple === 'take-first') {
      const first = [...a.byKeys.values()].filter((x) => x.count > 1).map((x) => x.id as number);
      if (first.length > 0) {
        for (const r of await this.query(`SELECT id, ${plan.fetch.map(q).join(', ')} FROM ${q(this.cls.name)} WHERE id = ANY($1::bigint[])`, [first])) a.firstRows.set(Number(r[0]), r.slice(1));
        matched.push(...first);
      }
    }
    for (const l of plan.links) a.members.push(await this.members(l.linkTable, matched));
    if (plan.action === 'delete') {
      for (const l of this.ownLinks) a.ownMembers.push(await this.members(l.linkTable as string, matched));
      for (const k of this.referrerKinds) a.referrers.push(await this.referrersOf(k, matched));
    }
    for (const s of this.uniqueSlots) {
      const values = new Set<Scalar>();
      for (const i of rows) {
        const v = m.values[i * nSlots + s];
        if (v !== undefined && v !== null && v !== '') values.add(v);
      }
      a.unique.push(await this.holders(plan.slots[s] as string, [...values]));
    }
    const pairs: Scalar[][] = [];
    for (const i of rows) {
      const pair = this.pairOf(m, i, a);
      if (pair) pairs.push(pair);
    }
    a.pairs = await this.resolve(this.cls.name, ['source', 'source_id'], pairs, []);
    return a;
  }

  /** Each distinct tuple's matches among `table`'s objects: how many, the lowest id, and `fetch` of a single one. */
  private async resolve(table: string, attrs: readonly string[], tuples: readonly (readonly Scalar[])[], fetch: readonly string[]): Promise<Map<TupleKey, Match>> {
    this.unmatched = false;
    const stableKey = table === this.cls.name || fetch.length > 0 ? null : `${table}\0${attrs.join('\0')}`;
    if (stableKey !== null) {
      const kept = await this.resolveStable(stableKey, table, attrs, tuples);
      if (kept) return kept;
    }
    const out = new Map<TupleKey, Match>();
    const distinct: (readonly Scalar[])[] = [];
    const space = this.runKeys && table === this.cls.name ? this.keySpaces.get(attrs.join('\0')) : undefined;
    for (const t of tuples) {
      // A tuple the run has not written matches nothing in a class it began empty: it is
      // left out of the answers, which give no match for a tuple they do not hold.
      if (space !== undefined && !(this.runKeys as TouchedKeys).has(space, t)) {
        this.unmatched = true;
        continue;
      }
      const k = tupleKey(t);
      if (out.has(k)) continue;
      out.set(k, NO_MATCH);
      distinct.push(t);
    }
    if (distinct.length > 0 && attrs.length > 0) await this.answer(table, attrs, distinct, fetch, out);
    if (!this.unmatched) for (const a of out.values()) if (a.count === 0) this.unmatched = true;
    if (stableKey !== null) this.stable.set(stableKey, new Map(out));
    return out;
  }

  /**
   * The answers about a class the run does not write, kept from frame to frame (under the
   * writer lock no other run writes it either): the kept map itself, once it holds every
   * tuple of `tuples`; null when it would grow past STABLE_ANSWERS (resolve starts it again).
   */
  private async resolveStable(key: string, table: string, attrs: readonly string[], tuples: readonly (readonly Scalar[])[]): Promise<Map<TupleKey, Match> | null> {
    let known = this.stable.get(key);
    if (!known) this.stable.set(key, (known = new Map()));
    const missing = new Map<TupleKey, readonly Scalar[]>();
    for (const t of tuples) {
      const k = tupleKey(t);
      const a = known.get(k);
      if (a === undefined) {
        if (!missing.has(k)) missing.set(k, t);
      } else if (a.count === 0) this.unmatched = true;
    }
    if (missing.size === 0) return known;
    if (known.size + missing.size > STABLE_ANSWERS) return null;
    const found = new Map<TupleKey, Match>();
    for (const k of missing.keys()) found.set(k, NO_MATCH);
    if (attrs.length > 0) await this.answer(table, attrs, [...missing.values()], [], found);
    for (const [k, a] of found) {
      known.set(k, a);
      if (a.count === 0) this.unmatched = true;
    }
    return known;
  }

  /** Look `distinct` tuples up, setting the answers of those found in `out`. */
  private async answer(table: string, attrs: readonly string[], distinct: readonly (readonly Scalar[])[], fetch: readonly string[], out: Map<TupleKey, Match>): Promise<void> {
    const cls = this.model.classes.get(table) as ClassDef;
    const types = attrs.map((a) => columnType(cls, a));
    for (const withNull of [false, true]) {
      const group = distinct.filter((t) => t.some((v) => v === null) === withNull);
      if (group.length === 0) continue;
      const params = attrs.map((_, k) => group.map((t) => text(t[k])));
      const on = attrs.map((a, k) => {
        const v = `v.c${k}::${isTextType(types[k] as string) ? 'text' : types[k]}`;
        return withNull ? `t.${q(a)} IS NOT DISTINCT FROM ${v}` : `t.${q(a)} = ${v}`;
      });
      // A lateral count per tuple: the index on the attributes answers each, whatever the
      // planner believes of the table's size (its statistics lag behind a run that fills it).
      const sql = `SELECT v.ord, x.n, x.m FROM unnest(${attrs.map((_, k) => `$${k + 1}::text[]`).join(', ')}) WITH ORDINALITY AS v(${attrs.map((_, k) => `c${k}`).join(', ')}, ord) CROSS JOIN LATERAL (SELECT count(*) AS n, min(t.id) AS m FROM ${q(table)} t WHERE ${on.join(' AND ')}) AS x WHERE x.n > 0`;
      const single: number[] = [];
      const byId = new Map<number, TupleKey>();
      for (const r of await this.query(sql, params)) {
        const t = group[Number(r[0]) - 1] as readonly Scalar[];
        const count = Number(r[1]);
        if (count === 0) continue;
        const id = Number(r[2]);
        out.set(tupleKey(t), { count, id, row: count === 1 ? [] : null });
        if (count === 1 && fetch.length > 0) {
          single.push(id);
          byId.set(id, tupleKey(t));
        }
      }
      if (single.length > 0) {
        for (const r of await this.query(`SELECT id, ${fetch.map(q).join(', ')} FROM ${q(table)} WHERE id = ANY($1::bigint[])`, [single])) {
          const k = byId.get(Number(r[0])) as TupleKey;
          (out.get(k) as Match).row = r.slice(1);
        }
      }
    }
  }

  private async sample(samples: Map<string, string[]>, table: string, attr: string): Promise<void> {
    const key = `${table}\0${attr}`;
    if (samples.has(key)) return;
    const cls = this.model.classes.get(table) as ClassDef;
    const textual = isTextType(columnType(cls, attr));
    const rows = await this.query(`SELECT DISTINCT ${q(attr)} FROM ${q(table)} WHERE ${q(attr)} IS NOT NULL${textual ? ` AND ${q(attr)} <> ''` : ''} ORDER BY ${q(attr)} LIMIT 3`);
    samples.set(key, rows.map((r) => String(r[0])));
  }

  private async members(linkTable: string, ids: number[]): Promise<Map<number, number[]>> {
    const out = new Map<number, number[]>();
    for (const id of ids) out.set(id, []);
    if (ids.length === 0) return out;
    for (const r of await this.query(`SELECT from_id, to_id FROM ${q(linkTable)} WHERE from_id = ANY($1::bigint[]) ORDER BY from_id, to_id`, [ids])) {
      (out.get(Number(r[0])) as number[]).push(Number(r[1]));
    }
    return out;
  }

  private async referrersOf(k: PgApplier['referrerKinds'][number], ids: number[]): Promise<Map<number, number[]>> {
    const out = new Map<number, number[]>();
    if (ids.length === 0) return out;
    const ref = q(k.col);
    const owner = q(k.owner);
    const sql = `SELECT ref, owner FROM (SELECT ${ref} AS ref, ${owner} AS owner, row_number() OVER (PARTITION BY ${ref} ORDER BY ${owner}) AS n FROM ${q(k.table)} WHERE ${ref} = ANY($1::bigint[])${k.self ? ` AND ${owner} <> ${ref}` : ''}) s WHERE n <= 3 ORDER BY ref, owner`;
    for (const r of await this.query(sql, [ids])) {
      const id = Number(r[0]);
      let list = out.get(id);
      if (!list) out.set(id, (list = []));
      list.push(Number(r[1]));
    }
    return out;
  }

  private async holders(code: string, values: Scalar[]): Promise<Map<TupleKey, number[]>> {
    const out = new Map<TupleKey, number[]>();
    if (values.length === 0) return out;
    const type = columnType(this.cls, code);
    const rows = await this.query(`SELECT ${q(code)}, id FROM ${q(this.cls.name)} WHERE ${q(code)} = ANY($1::${isTextType(type) ? 'text' : type}[]) ORDER BY id`, [values.map(text)]);
    for (const r of rows) {
      const k = tupleKey([r[0] as Scalar]);
      let list = out.get(k);
      if (!list) out.set(k, (list = []));
      list.push(Number(r[1]));
    }
    return out;
  }

  // ------------------------------------------------------------------ dependencies

  /** How row i finds its object, and the tuple it looks up. */
  private matchOf(m: MappedRows, i: number): RowMatch | null {
    let match = this.matches[i];
    if (match === undefined) this.matches[i] = match = findMatch(this.plan, this.cls, m, i);
    return match;
  }

  /**
   * The source pair a row not matched by it would give its single match, when it sets source
   * or source_id: another object may hold that pair already (the pair is unique).
   */
  private pairOf(m: MappedRows, i: number, a: Answers): Scalar[] | null {
    if (m.source[i] === null && m.sourceId[i] === null) return null;
    const match = this.matchOf(m, i);
    if (!match || match.space === 'source') return null;
    const r = this.answerOf(a, match);
    if (r.count !== 1 || !r.row) return null;
    const cur = r.row;
    const pair = [m.source[i] ?? cur[this.fetchIndex.get('source') as number] ?? null, m.sourceId[i] ?? cur[this.fetchIndex.get('source_id') as number] ?? null];
    return pair[0] === null || pair[1] === null ? null : pair;
  }

  /** Whether an earlier row of the segment may have changed what the lookups answered for row i. */
  private depends(m: MappedRows, i: number, a: Answers): boolean {
    if (m.error[i] !== null) return false;
    const plan = this.plan;
    const t = this.touched;
    // A load reads its record's replica, which an earlier row of the segment may have written.
    if (plan.sync?.loadOnly) return m.sourceId[i] !== null && t.has('record', [m.sourceId[i] as string]);
    const nRefs = plan.refs.length;
    const nLinks = plan.links.length;
    for (const li of this.selfLinks) if (m.linkItems[i * nLinks + li] && t.wroteClass) return true;
    for (const gi of this.selfGroups) {
      const tuple = m.refTuples[i * nRefs + gi];
      if (!tuple) continue;
      const g = plan.refs[gi] as RefGroup;
      if (g.subs.length === 1 && g.subs[0] === 'id' ? t.wrote(tuple[0] as number) : t.has(`ref${gi}`, tuple)) return true;
      if ((a.refs[gi]?.get(tupleKey(tuple))?.count ?? 0) !== 1 && t.wroteClass) return true;
    }
    const match = this.matchOf(m, i);
    if (match) {
      if (match.space === 'id' ? t.wrote(match.tuple[0] as number) : t.has(match.space, match.tuple)) return true;
      const r = this.answerOf(a, match);
      if (r.count === 1 && t.wrote(r.id as number)) return true;
      // A sync's record may be found by the keys: an earlier row may have written them, or the object they find.
      if (plan.sync && match.space === 'source' && plan.keys.length > 0) {
        const keys = { space: 'keys', tuple: keyTuple(plan, this.cls, m.values, i * plan.slots.length) };
        if (t.has('keys', keys.tuple)) return true;
        const k = this.answerOf(a, keys);
        if (k.count >= 1 && t.wrote(k.id as number)) return true;
      }
    }
    if (plan.action === 'delete' && t.wroteClass && this.referrerKinds.some((k) => k.self)) return true;
    const pair = this.pairOf(m, i, a);
    if (pair && t.has('source', pair)) return true;
    for (const s of this.uniqueSlots) {
      const v = m.values[i * plan.slots.length + s];
      if (v !== undefined && v !== null && v !== '' && t.has(`u${s}`, [v])) return true;
    }
    return false;
  }

  private answerOf(a: Answers, match: { space: string; tuple: Scalar[] }): Match {
    const map = match.space === 'id' ? a.byId : match.space === 'source' ? a.bySource : a.byKeys;
    return map.get(tupleKey(match.tuple)) ?? NO_MATCH;
  }

  /**
   * Record the tuples an object has (before or after a write) in the spaces the segment's
   * rows look up: `values` are its attributes, at the positions `index` gives (a code it
   * does not give is null).
   */
  private touch(id: number, values: readonly Scalar[], index: ReadonlyMap<string, number>, created = false): void {
    this.changedInTx = true;
    if (this.fpTable) this.written.add(id);
    const t = this.touched;
    t.addId(id, created);
    t.wroteClass = true;
    const keys = this.plan.keys.length > 0 ? tupleOf(this.plan.keys, values, index) : null;
    if (keys) t.add('keys', keys);
    // A pair with a null holds no place in the (source, source_id) space: no row can match by it.
    const source = valueOf('source', values, index);
    const sourceId = source === null ? null : valueOf('source_id', values, index);
    if (source !== null && sourceId !== null) t.add('source', [source, sourceId]);
    for (const gi of this.selfGroups) {
      const g = this.plan.refs[gi] as RefGroup;
      if (!(g.subs.length === 1 && g.subs[0] === 'id')) t.add(`ref${gi}`, tupleOf(g.subs, values, index));
    }
    for (const s of this.uniqueSlots) {
      const v = valueOf(this.plan.slots[s] as string, values, index);
      if (v !== null && v !== '') t.add(`u${s}`, [v]);
    }
    if (this.runKeys) {
      for (let space = 0; space < this.keySpaceAttrs.length; space++) {
        this.runKeys.add(space, space === this.keysSpace && keys ? keys : tupleOf(this.keySpaceAttrs[space] as string[], values, index));
      }
    }
  }

  // ------------------------------------------------------------------ one row

  private applyRow(m: MappedRows, i: number, a: Answers, warn: (string | null)[]): RowPlan {
    this.touched.rows++;
    if (m.error[i] !== null) return err(m.error[i] as string);
    const plan = this.plan;
    const nRefs = plan.refs.length;
    const nLinks = plan.links.length;
    const nSlots = plan.slots.length;
    const base = i * nSlots;
    // As the worker finds them: the first reference or link set into another class in error.
    for (let gi = 0; gi < nRefs; gi++) {
      const g = plan.refs[gi] as RefGroup;
      if (g.target === plan.className) continue;
      const t = m.refTuples[i * nRefs + gi];
      if (!t) continue;
      const r = a.refs[gi]?.get(tupleKey(t)) as Match;
      if (r.count !== 1) return err(this.refMessage(g, t, r, a));
    }
    const links: (number[] | undefined)[] = nLinks === 0 ? NO_LINKS : new Array(nLinks);
    const linkErrors: (string | null)[] = nLinks === 0 ? NO_LINK_ERRORS : new Array(nLinks).fill(null);
    for (let li = 0; li < nLinks; li++) {
      const items = m.linkItems[i * nLinks + li];
      if (!items) continue;
      const r = this.linkIds(li, items, a);
      links[li] = r.ids;
      linkErrors[li] = r.error;
      if (r.error !== null && (plan.links[li] as (typeof plan.links)[number]).target !== plan.className) return err(r.error);
    }
    if (plan.sync?.loadOnly) return this.loadRecord(m, i, a);
    let match = this.matchOf(m, i);
    // A sync's record: among the source's own objects, else by the keys.
    if (plan.sync && match?.space === 'source' && plan.keys.length > 0 && this.answerOf(a, match).count === 0) {
      match = { space: 'keys', tuple: keyTuple(plan, this.cls, m.values, base) };
    }
    // What a row matched by id or source writes may give an object the key values another
    // record's fingerprint stands for: from then on no match counts, and the commit does not
    // count as a change keyed like this run (resolve/fingerprint.ts). A sync's rows are not fingerprinted.
    if (match !== null && match.space !== 'keys' && !plan.sync) {
      this.loose = true;
      this.looseInTx = true;
    }
    if (match?.space === 'keys') {
      const t = match.tuple;
      if (hasEmpty(t)) {
        const empty = plan.keyLabels.filter((_, k) => t[k] === null || t[k] === '');
        // A key given by a reference into the class itself that names an object is not empty.
        const selfKeyRef = plan.keys.map((k) => plan.refs.findIndex((g) => g.target === plan.className && g.attr === k));
        const shown = empty.filter((label) => {
          const k = plan.keyLabels.indexOf(label);
          const gi = selfKeyRef[k] as number;
          return !(gi !== -1 && m.refTuples[i * nRefs + gi]);
        });
        if (shown.length > 0) {
          const w = `empty reconciliation key ${shown.join(', ')} matches objects where it is empty`;
          warn[i] = warn[i] === null ? w : `${warn[i]}\n${w}`;
        }
      }
    }
    // Into the class itself: link items first, then references, as the writer checks them.
    for (const li of this.selfLinks) {
      if (linkErrors[li] !== null) {
        warn[i] = null;
        return err(linkErrors[li] as string);
      }
    }
    for (const gi of this.selfGroups) {
      const g = plan.refs[gi] as RefGroup;
      const t = m.refTuples[i * nRefs + gi];
      if (!t) continue;
      const r = a.refs[gi]?.get(tupleKey(t)) ?? NO_MATCH;
      if (r.count !== 1) return err(this.refMessage(g, t, r, a));
    }
    let r = match ? this.answerOf(a, match) : NO_MATCH;
    if (r.count > 1 && plan.sync && plan.sync.onMultiple !== 'error') {
      // The source's --on-multiple: the oldest of the objects, or a new one.
      r = plan.sync.onMultiple === 'create' ? NO_MATCH : { count: 1, id: r.id, row: a.firstRows.get(r.id as number) ?? null };
    }
    const count = r.count;
    if (count > 1) return err(`ambiguous reconciliation: ${count} objects match ${plan.keyLabels.length && match?.space === 'keys' ? `on ${plan.keyLabels.join(', ')}` : ''}`.trimEnd());
    if (count === 0 && plan.sync?.onZero === 'error') {
      return err(`no ${this.cls.name} matches ${plan.keyLabels.join(', ')}; the source ${plan.sync.source} creates none (--on-zero error)`);
    }
    if (count === 1 && plan.sync) this.rowOwned = match?.space === 'source' || this.ownership(m, i, r.row as Scalar[]);
    if (count === 0) {
      if (match?.space === 'id') return err(`no ${this.cls.name} with id ${m.id[i]}`);
      if (plan.action === 'update' || plan.action === 'delete') return { status: Status.Skipped, id: null, message: `no matching ${this.cls.name} to ${plan.action}`, changed: null };
      return this.create(m, i, base, links, a);
    }
    const id = r.id as number;
    if (plan.action === 'insert') return { status: Status.Skipped, id, message: `${this.cls.name} ${id} already exists (--action insert)`, changed: null };
    if (plan.action === 'delete') return this.remove(id, r.row as Scalar[], a);
    const currentLinks = plan.links.map((_, li) => a.members[li]?.get(id) ?? []);
    return this.update(m, i, base, id, r.row as Scalar[], currentLinks, links, a);
  }

  /** --load-only: the row's record goes to its replica; its status says what became of the replica (sync/writer.ts load). */
  private loadRecord(m: MappedRows, i: number, a: Answers): RowPlan {
    const record = m.sourceId[i] as string;
    const cells = m.replica?.[i] ?? null;
    this.touched.add('record', [record]);
    const old = a.replicas.get(record);
    const at = new Date().toISOString();
    if (!old) {
      this.pending.loads.push({ record, op: 'insert', cells, at });
      return { status: Status.Created, id: null, message: 'replica only (--load-only)', changed: null };
    }
    if (old.cells === cells && old.status !== 'obsolete') {
      this.pending.loads.push({ record, op: 'seen', cells, at });
      return { status: Status.Unchanged, id: old.object, message: null, changed: null };
    }
    this.pending.loads.push({ record, op: 'update', cells, at });
    return { status: Status.Updated, id: old.object, message: 'replica only (--load-only)', changed: null };
  }

  /**
   * A sync's row found an object by the keys, not as the source's own (write/apply.ts
   * ownership): it claims the object when the source claims and no source owns it yet;
   * otherwise it updates the object's attributes and leaves its owner be.
   */
  private ownership(m: MappedRows, i: number, current: Scalar[]): boolean {
    const owner = current[this.fetchIndex.get('source') as number] ?? null;
    if (owner === this.plan.sync?.source) return true;
    if (this.plan.sync?.claim && owner === null) return true;
    m.source[i] = null;
    m.sourceId[i] = null;
    return false;
  }

  private refMessage(group: RefGroup, tuple: readonly Scalar[], m: Match, a: Answers): string {
    const col = group.columns.map((c) => quoted(this.plan.header[c] ?? '')).join(' + ');
    const value = tuple.map((v) => (v === null ? '<NULL>' : quoted(String(v)))).join(' + ');
    if (m.count > 1) return `column ${col}: ambiguous: ${m.count} ${group.target} objects match ${value}`;
    const sample = a.samples.get(`${group.target}\0${group.subs[0]}`) ?? [];
    const existing = sample.length > 0 ? `; existing values: ${sample.join(', ')}` : `; there are no ${group.target} objects yet`;
    return `column ${col}: no ${group.target} matches ${value}${existing}`;
  }

  private linkIds(li: number, items: readonly LinkItem[], a: Answers): { ids: number[]; error: string | null } {
    const l = this.plan.links[li] as (typeof this.plan.links)[number];
    const column = quoted(this.plan.header[l.column] ?? '');
    const ids = new Set<number>();
    let error: string | null = null;
    const fail = (e: string): void => {
      error = error === null ? e : `${error}; ${e}`;
    };
    for (const it of items) {
      const r = a.links[li]?.get(it.attr)?.get(tupleKey([it.value])) ?? NO_MATCH;
      if (r.count === 1) ids.add(r.id as number);
      else if (r.count === 0) {
        const sample = a.samples.get(`${l.target}\0${it.attr}`) ?? [];
        fail(`column ${column}: unknown item ${quoted(it.text)} (no ${l.target} with ${it.attr} ${quoted(String(it.value))}${sample.length ? `; existing: ${sample.map((v) => quoted(v)).join(', ')}` : ''})`);
      } else fail(`column ${column}: item ${quoted(it.text)} is ambiguous: ${r.count} ${l.target} objects match`);
    }
    return { ids: [...ids].sort((x, y) => x - y), error };
  }

  /** The first unique value of the row that another object than `self` holds, as SQLite's constraint reports it. */
  private uniqueError(m: MappedRows, base: number, a: Answers, self: number | null, written: ((code: string) => boolean) | null): RowPlan | null {
    for (let k = 0; k < this.uniqueSlots.length; k++) {
      const s = this.uniqueSlots[k] as number;
      const code = this.plan.slots[s] as string;
      if (written !== null && !written(code)) continue;
      const v = m.values[base + s];
      if (v === undefined || v === null || v === '') continue;
      const holders = a.unique[k]?.get(tupleKey([v])) ?? [];
      if (holders.some((h) => h !== self)) return err(`${code} must be unique: the value is already used by another ${this.cls.name}`);
    }
    return null;
  }

  private create(m: MappedRows, i: number, base: number, given: (number[] | undefined)[], a: Answers): RowPlan {
    const plan = this.plan;
    const links = given.length === 0 ? given : given.map((ids, li) => (this.linkPolicy[li] === SlotPolicy.Ignore ? undefined : ids));
    const row: Scalar[] = new Array(this.stored.length + 2);
    row[0] = m.source[i] ?? null;
    row[1] = m.sourceId[i] ?? null;
    let json = '';
    let missing: string[] | null = null;
    for (let k = 0; k < this.stored.length; k++) {
      const attr = this.stored[k] as Attribute;
      const slot = this.storedSlot[k] as number;
      let v: Scalar | undefined = slot >= 0 && this.slotPolicy[slot] !== SlotPolicy.Ignore ? m.values[base + slot] : undefined;
      if (v === undefined) v = this.defaults[k] as Scalar;
      if (v === null || v === '') {
        if (attr.mandatory) (missing ??= []).push(describe(attr));
      } else {
        if (attr.type === 'password') v = hashPassword(v as string);
        if (!this.rangeHistory) json += (json === '' ? '{' : ',') + `${JSON.stringify(attr.code)}:` + (attr.type === 'password' ? `"${MASK}"` : JSON.stringify(v));
      }
      row[k + 2] = v;
    }
    for (const attr of this.mandatoryLinks) {
      const li = plan.links.findIndex((l) => l.attr === attr.code);
      if (li < 0 || (links[li]?.length ?? 0) === 0) (missing ??= []).push(describe(attr));
    }
    if (missing) return err(`missing mandatory ${missing.join(', ')}`);
    const unique = this.uniqueError(m, base, a, null, null);
    if (unique) return unique;
    const id = this.nextId++;
    const data = this.pending.creates;
    data.integer(id);
    for (const k of this.insertCols) data.scalar(row[k]);
    const fp = this.fpOf(i);
    data.value(fp === null ? null : String(fp));
    data.endLine();
    for (let li = 0; li < plan.links.length; li++) {
      const ids = links[li];
      if (!ids || ids.length === 0) continue;
      this.pending.linkSets.push({ li, id, ids, replace: false });
      json += `${json === '' ? '{' : ','}${JSON.stringify((plan.links[li] as (typeof plan.links)[number]).attr)}:${JSON.stringify(ids)}`;
    }
    if (this.rangeHistory) {
      if (id !== this.pendingLast + 1) this.flushCreates();
      if (this.pendingLast < this.pendingFirst) this.pendingFirst = id;
      this.pendingLast = id;
    } else this.pending.history.push({ objectId: id, lastObjectId: null, op: 'create', changes: json === '' ? '{}' : `${json}}` });
    this.touch(id, row, this.rowIndex, true);
    return { status: Status.Created, id, message: null, changed: null };
  }

  private flushCreates(): void {
    if (this.pendingLast < this.pendingFirst) return;
    this.pending.history.push({ objectId: this.pendingFirst, lastObjectId: this.pendingLast, op: 'create', changes: this.rangeAttributes });
    this.pendingFirst = 0;
    this.pendingLast = -1;
  }

  private update(m: MappedRows, i: number, base: number, id: number, current: Scalar[], currentLinks: number[][], links: (number[] | undefined)[], a: Answers): RowPlan {
    const plan = this.plan;
    const cols: string[] = [];
    const values: Scalar[] = [];
    const changes: Record<string, [unknown, unknown]> = {};
    const missing: string[] = [];
    for (let s = 0; s < plan.slots.length; s++) {
      let v = m.values[base + s];
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
        if (v === null || v === '' ? old === null || old === '' : verifyPassword(v as string, old as string | null)) continue;
        v = typeof v === 'string' && v !== '' ? hashPassword(v) : v;
        changes[attr.code] = [old, v];
      } else {
        if (v === old) continue;
        changes[attr.code] = [old, v];
      }
      cols.push(attr.code);
      values.push(v);
    }
    if (missing.length > 0) return err(`mandatory ${missing.join(', ')} cannot be empty`);
    for (const [col, v] of [
      ['source', m.source[i]],
      ['source_id', m.sourceId[i]],
    ] as const) {
      const old = current[this.fetchIndex.get(col) as number] ?? null;
      if (v !== null && v !== undefined && v !== old) {
        cols.push(col);
        values.push(v);
        changes[col] = [old, v];
      }
    }
    const linkChanges: number[] = [];
    plan.links.forEach((l, li) => {
      const next = links[li];
      if (next === undefined) return;
      const prev = currentLinks[li] ?? [];
      const policy = this.linkPolicy[li] as SlotPolicy;
      if (policy === SlotPolicy.Ignore || (policy === SlotPolicy.WriteIfEmpty && prev.length > 0)) return;
      if (sameIds(prev, next)) return;
      linkChanges.push(li);
      changes[l.attr] = [prev, next];
    });
    const changed = Object.keys(changes);
    if (changed.length === 0) {
      // An unchanged row still records its fingerprint, so the next run of the same feed can skip it.
      const fp = this.fpOf(i);
      if (fp !== null) this.pending.fps.push({ id, fp });
      return { status: Status.Unchanged, id, message: null, changed: null };
    }
    if ('source' in changes || 'source_id' in changes) {
      const pair = this.pairOf(m, i, a);
      const holder = pair ? a.pairs.get(tupleKey(pair)) : undefined;
      if (holder && holder.count > 0 && !(holder.count === 1 && holder.id === id)) return err(`source + source_id already used by another ${this.cls.name}`);
    }
    const unique = this.uniqueError(m, base, a, id, (code) => code in changes);
    if (unique) return unique;
    this.flushCreates();
    this.pending.updates.push({ id, cols, values, fp: this.fpOf(i) });
    for (const li of linkChanges) this.pending.linkSets.push({ li, id, ids: links[li] as number[], replace: true });
    this.pending.history.push({ objectId: id, lastObjectId: null, op: 'update', changes: JSON.stringify(changes) });
    this.touch(id, current, this.fetchIndex);
    const after = current.slice();
    for (const [code, [, v]] of Object.entries(changes)) {
      const k = this.fetchIndex.get(code);
      if (k !== undefined) after[k] = v as Scalar;
    }
    this.touch(id, after, this.fetchIndex);
    return { status: Status.Updated, id, message: null, changed: changed.join(',') };
  }

  private remove(id: number, current: Scalar[], a: Answers): RowPlan {
    const users: string[] = [];
    this.referrerKinds.forEach((k, n) => {
      const ids = a.referrers[n]?.get(id) ?? [];
      if (ids.length > 0) users.push(`${k.label} of ${ids.join(', ')}${ids.length === 3 ? '…' : ''}`);
    });
    if (users.length > 0) return err(`cannot delete ${this.cls.name} ${id}: still referenced by ${users.join('; ')}`);
    const changes: Record<string, Scalar | number[]> = {};
    this.plan.fetch.forEach((code, k) => {
      const v = current[k] ?? null;
      if (v !== null) changes[code] = v;
    });
    this.flushCreates();
    this.ownLinks.forEach((l, k) => {
      const ids = a.ownMembers[k]?.get(id) ?? [];
      if (ids.length > 0) changes[l.code] = ids;
    });
    this.pending.deletes.push(id);
    this.pending.history.push({ objectId: id, lastObjectId: null, op: 'delete', changes: JSON.stringify(changes) });
    this.touch(id, current, this.fetchIndex);
    return { status: Status.Deleted, id, message: null, changed: null };
  }

  // ------------------------------------------------------------------ writes

  /** The segment's writes: creates, link rows and history set-wise, each update and delete by its id. */
  private async flush(): Promise<void> {
    const p = this.pending;
    this.pending = emptyPending();
    const t = q(this.cls.name);
    if (!this.syncer && p.creates.lines + p.updates.length + p.fps.length + p.deletes.length + p.linkSets.length + p.history.length + p.loads.length === 0) return;
    // One segment's writes at the server while the run makes the next: the last ones land first.
    await this.landed();
    if (this.plan.sync?.loadOnly) {
      await this.writeLoads(p.loads);
      // The replicas of its rows in error, before the next segment reads them.
      await this.syncer?.flush(this.changeId);
    }
    if (p.creates.lines > 0) {
      const codes = ['source', 'source_id', ...this.stored.map((a) => a.code)];
      const columns = ['id', ...this.insertCols.map((k) => q(codes[k] as string)), FP_COLUMN];
      const created = p.creates.lines;
      const buffers = p.creates.take();
      this.send(() => copyRows(this.client, t, columns, buffers));
      this.sequenceBehind = true;
      this.createdInRun += created;
      // The planner's statistics of a class the run fills are those of the class before it
      // (autovacuum cannot see the open transaction's rows): with them, a lookup by key
      // seemed to match thousands of rows and scanned the class for each block, whose cost
      // grew with every block. ANALYZE in the transaction sees the run's rows; again at each
      // doubling, a few times per run.
      if (this.analyzed.length > 0 && this.createdInRun >= Math.max(ANALYZE_AFTER, 2 * this.analyzedAt)) {
        this.sendQuery(`ANALYZE ${t} (${this.analyzed.map(q).join(', ')})`);
        this.analyzedAt = this.createdInRun;
      }
    }
    // Updates that set the same columns go as one statement (a segment updates an object once at most).
    const byCols = new Map<string, Pending['updates']>();
    for (const u of p.updates) {
      const key = u.cols.join('\0');
      let list = byCols.get(key);
      if (!list) byCols.set(key, (list = []));
      list.push(u);
    }
    for (const list of byCols.values()) {
      const cols = (list[0] as Pending['updates'][number]).cols;
      const sets = cols.map((c, k) => `${q(c)} = v.c${k}::${isTextType(columnType(this.cls, c)) ? 'text' : columnType(this.cls, c)}`);
      // Any write of an object replaces its fingerprint: with its record's, or with none.
      const params: unknown[] = [list.map((u) => u.id), list.map((u) => (u.fp === null ? null : String(u.fp))), ...cols.map((_, k) => list.map((u) => text(u.values[k])))];
      this.sendQuery(
        `UPDATE ${t} SET ${[...sets, `${FP_COLUMN} = v.fp`].join(', ')} FROM unnest($1::bigint[], $2::bigint[]${cols.map((_, k) => `, $${k + 3}::text[]`).join('')}) AS v(id, fp${cols.map((_, k) => `, c${k}`).join('')}) WHERE ${t}.id = v.id`,
        params,
      );
    }
    if (p.fps.length > 0) {
      this.sendQuery(
        `UPDATE ${t} SET ${FP_COLUMN} = v.fp FROM unnest($1::bigint[], $2::bigint[]) AS v(id, fp) WHERE ${t}.id = v.id AND ${t}.${FP_COLUMN} IS DISTINCT FROM v.fp`,
        [p.fps.map((x) => x.id), p.fps.map((x) => String(x.fp))],
      );
    }
    if (p.deletes.length > 0) {
      for (const l of this.ownLinks) this.sendQuery(`DELETE FROM ${q(l.linkTable as string)} WHERE from_id = ANY($1::bigint[])`, [p.deletes]);
      this.sendQuery(`DELETE FROM ${t} WHERE id = ANY($1::bigint[])`, [p.deletes]);
    }
    for (let li = 0; li < this.plan.links.length; li++) {
      const sets = p.linkSets.filter((s) => s.li === li);
      if (sets.length === 0) continue;
      const table = q((this.plan.links[li] as (typeof this.plan.links)[number]).linkTable);
      const replaced = sets.filter((s) => s.replace).map((s) => s.id);
      if (replaced.length > 0) this.sendQuery(`DELETE FROM ${table} WHERE from_id = ANY($1::bigint[])`, [replaced]);
      const from = sets.flatMap((s) => s.ids.map(() => s.id));
      const to = sets.flatMap((s) => s.ids);
      if (from.length > 0) this.sendQuery(`INSERT INTO ${table} (from_id, to_id) SELECT * FROM unnest($1::bigint[], $2::bigint[])`, [from, to]);
    }
    if (p.history.length > 0) {
      const h = p.history;
      this.sendQuery(
        `INSERT INTO _sluice_history (change_id, class, object_id, last_object_id, op, changes) SELECT $1, $2, v.o, v.l, v.op, v.c FROM unnest($3::bigint[], $4::bigint[], $5::text[], $6::text[]) WITH ORDINALITY AS v(o, l, op, c, n) ORDER BY v.n`,
        [this.changeId, this.cls.name, h.map((x) => x.objectId), h.map((x) => x.lastObjectId), h.map((x) => x.op), h.map((x) => x.changes)],
      );
    }
    // A sync's writer goes on with statements of its own, whose errors it tells itself.
    if (this.syncer) await this.landed();
  }

  /** A load's replica writes (loadRecord), one statement per kind. */
  private async writeLoads(loads: Pending['loads']): Promise<void> {
    const ref = this.plan.sync?.ref;
    const of = (op: string): Pending['loads'] => loads.filter((l) => l.op === op);
    const inserts = of('insert');
    if (inserts.length > 0) {
      await this.query(
        `INSERT INTO _sluice_replica (source_ref, record, status, cells, seen_sync, seen_at, created_change)
         SELECT $1, v.r, 'new', v.c, $2, v.t, $2 FROM unnest($3::text[], $4::text[], $5::text[]) WITH ORDINALITY AS v(r, c, t, n) ORDER BY v.n`,
        [ref, this.changeId, inserts.map((l) => l.record), inserts.map((l) => l.cells), inserts.map((l) => l.at)],
      );
    }
    const seen = of('seen');
    if (seen.length > 0) await this.query('UPDATE _sluice_replica SET seen_sync = $2 WHERE source_ref = $1 AND record = ANY($3::text[])', [ref, this.changeId, seen.map((l) => l.record)]);
    const updates = of('update');
    if (updates.length > 0) {
      await this.query(
        `UPDATE _sluice_replica r SET cells = v.c, status = CASE WHEN r.object_id IS NULL THEN 'new' ELSE 'modified' END, seen_sync = $2, seen_at = v.t, absent_since = NULL
         FROM unnest($3::text[], $4::text[], $5::text[]) AS v(rec, c, t) WHERE r.source_ref = $1 AND r.record = v.rec`,
        [ref, this.changeId, updates.map((l) => l.record), updates.map((l) => l.cells), updates.map((l) => l.at)],
      );
    }
  }

  // ------------------------------------------------------------------ the end

  async finish(ok: boolean, outcome: string, lines: number, failure: string | null = null): Promise<number | null> {
    if (!this.inTx && !this.partEnded) return this.endedChange;
    if (ok && this.syncer) {
      // The end of a sync writes in the run's last transaction, or stops it (the guard). As
      // SQLite's writer does, a failure there ends the run as failed (its change record
      // counting no line) and keeps the counts of the rows applied.
      this.flushCreates();
      await this.flush();
      try {
        this.syncOutcome = await this.syncer.finish(this.changeId, this.rowsHandled);
      } catch (err) {
        const applied = { ...this.counts };
        const message = err instanceof Error ? err.message : String(err);
        this.endFailed = true;
        this.endedChange = await this.finish(false, 'failed', 0, message);
        Object.assign(this.counts, applied);
        this.rolledBack = null;
        throw err;
      }
      if (this.syncOutcome.obsoleted + this.syncOutcome.deleted > 0) {
        this.changedInTx = true;
        this.looseInTx = true;
      }
    }
    this.inTx = false;
    this.partEnded = false;
    if (!ok) this.keepCommittedCounts();
    // A bundle's earlier files: what a failure keeps of them.
    if (!ok && this.prior) this.prior = { ...this.prior, counts: this.prior.committed };
    if (this.run.simulate) {
      // What a simulation would have failed on, it fails on.
      if (ok) {
        this.flushCreates();
        await this.flush();
        await this.landed();
      }
      await this.rollback();
      await this.restoreSequences();
      return null;
    }
    if (ok) {
      this.flushCreates();
      await this.flush();
      await this.landed();
      await this.saveSequence();
      await this.syncer?.flush(this.changeId);
      await this.updateChange(outcome, lines);
      await this.syncLog(outcome, null);
      await this.countGeneration();
      await this.commit();
      return this.changeId;
    }
    await this.rollback();
    await this.restoreSequences();
    await this.query('BEGIN');
    const exists = await this.query('SELECT 1 FROM _sluice_change WHERE id = $1', [this.changeId]);
    if (exists.length === 0) {
      const r = await this.query(`INSERT INTO _sluice_change ("user", started_at, comment, class, file, action, outcome) VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING id`, [
        this.run.user,
        new Date().toISOString(),
        this.run.comment,
        this.label.className,
        this.run.file,
        this.label.action,
        outcome,
      ]);
      this.changeId = Number((r[0] as Scalar[])[0]);
    }
    await this.updateChange(outcome, lines);
    await this.syncLog(outcome, this.stopMessage ?? failure);
    await this.commit();
    return this.changeId;
  }

  /** A sync's row in its source's log (_sluice_sync), in the transaction that records the change. */
  private async syncLog(outcome: string, message: string | null): Promise<void> {
    if (!this.plan.sync || !this.syncer) return;
    const c = this.counts;
    const o = this.syncOutcome;
    await this.query(
      `INSERT INTO _sluice_sync (source_ref, change_id, mode, started_at, finished_at, outcome, replicas_seen, replicas_total, created, updated, unchanged, deleted, obsoleted, errors, warnings, message)
       SELECT $1, $2, $3, started_at, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15 FROM _sluice_change WHERE id = $2`,
      [this.plan.sync.ref, this.changeId, this.syncer.mode, new Date().toISOString(), outcome, o?.replicasSeen ?? 0, o?.replicasTotal ?? 0, c.created, c.updated, c.unchanged, c.deleted + (o?.deleted ?? 0), o?.obsoleted ?? 0, c.errors, c.warnings, message],
    );
  }

  /** A failed run counts what it keeps: the committed chunks and the row that stopped it. */
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

  /** Whether the run failed at its end (a sync's guard), after its rows were acknowledged: what they said stands. */
  get failedAtEnd(): boolean {
    return this.endFailed;
  }

  /** What stopped the run, when a row did. */
  get stopLine(): string | null {
    return this.stopMessage;
  }
}

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

function sameIds(a: readonly number[], b: readonly number[]): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

/** A server failure while writing ends the run (it is not a row error). */
export function writeFailed(e: unknown, shown: string): SluiceError {
  if (e instanceof SluiceError) return e;
  const state = (e as { code?: unknown }).code;
  return new SluiceError('E_DB', `--db: cannot write to ${shown}: ${(e as Error).message}${typeof state === 'string' ? ` (SQLSTATE ${state})` : ''}`, { option: '--db', cause: e });
}
