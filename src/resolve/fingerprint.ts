/**
 * Record fingerprints: the shortcut that lets a nightly feed skip the rows it already
 * imported. Every write of an object by an import stores, in the object's `_fp`
 * column, a 64-bit hash of the record that produced it under that run's mapping; any
 * other write of the object stores another fingerprint or NULL. So when a record
 * hashes to the `_fp` of exactly one object, that object still holds what this very
 * record would write: the row is unchanged, with no mapping, no key lookup and no write.
 *
 * What the hash covers (the "salt"): the parsed cells of the record, the plan (class,
 * header, keys, action, empty-cell handling), the separator, qualifier, --relax-quotes
 * and date format, the generation of every class the record's references and link
 * sets resolve in — an import that changes a class bumps its generation, since a renamed
 * organization could make the same text resolve elsewhere —, and the number of changes of
 * the class itself by runs that did not match all their rows by the same keys (one of them
 * may have given a second object the record's key values: see keyedGenerationKey).
 *
 * Sequential semantics still hold: the writer treats a fingerprint match as unchanged
 * only when no earlier row of the run touched the object or, once a row not matched by
 * the keys has written the class, the object's key values; otherwise it maps and
 * resolves the row's cells itself, in file order. Fingerprints are used only where a
 * record cannot change what it matches: CSV input, upsert or update, a reconciliation
 * key, no reference into the imported class itself (nor into a class an earlier file of
 * the same bundle wrote), and no password column.
 */
import { createHash } from 'node:crypto';
import type Database from 'better-sqlite3';
import { FP_COLUMN, fingerprintIndexDDL, q } from '../model/schema.js';
import { type CsvOptions, type RecordSpans, parseRecords, scanRecords } from '../input/parse.js';
import type { ClassDef, Model } from '../model/types.js';
import type { ImportPlan } from '../rows/plan.js';
import { type Lookup, fingerprintDouble } from './lookup.js';

type DB = Database.Database;

/**
 * Before a run (inside the caller's transaction): give a class table created before
 * fingerprints its column, and keep the fingerprint index only where it serves. Workers
 * hold up to TABLE_CAP fingerprints in memory, read from the table itself; only a class
 * with more objects than that is matched by queries, which need the index. Anywhere
 * else the index would cost every write a random insert and every load a sort.
 */
export function prepareFingerprints(db: DB, cls: ClassDef): void {
  const cols = db.prepare(`SELECT name FROM pragma_table_info(?)`).pluck().all(cls.name) as string[];
  if (!cols.includes(FP_COLUMN)) db.exec(`ALTER TABLE ${q(cls.name)} ADD COLUMN ${FP_COLUMN} INTEGER`);
  ensureFingerprintIndex(db, cls);
}

/** Build the fingerprint index when the class has outgrown the in-memory table, else drop it. */
export function ensureFingerprintIndex(db: DB, cls: ClassDef, cap = TABLE_CAP): void {
  const maxId = (db.prepare(`SELECT max(id) FROM ${q(cls.name)}`).pluck().get() as number | null) ?? 0;
  db.exec(maxId > cap ? fingerprintIndexDDL(cls) : `DROP INDEX IF EXISTS ${q(`${cls.name}__fp`)}`);
}

/** The `_sluice_meta` key counting the committed runs that changed a class. */
export function generationKey(className: string): string {
  return `generation:${className}`;
}

/**
 * The `_sluice_meta` key counting the committed runs that changed a class while matching every
 * row they wrote by exactly these reconciliation keys. Such a run cannot give a second object
 * the key values of another (a row that finds no object by its key creates the only one with
 * it; a row that finds one leaves its key as it is), so it leaves the fingerprints recorded
 * under these keys valid; any other change of the class may not.
 */
export function keyedGenerationKey(className: string, keys: readonly string[]): string {
  return `generation:${className}:keys:${keys.join(',')}`;
}

/**
 * Count one more change of `className`, made by rows all matched by `keys` (or not: null);
 * run in the transaction that commits it.
 */
export function bumpGeneration(db: DB, className: string, keys: readonly string[] | null): void {
  const bump = db.prepare(`INSERT INTO _sluice_meta (key, value) VALUES (?, '1') ON CONFLICT(key) DO UPDATE SET value = CAST(value AS INTEGER) + 1`);
  bump.run(generationKey(className));
  if (keys !== null && keys.length > 0) bump.run(keyedGenerationKey(className, keys));
}

/** Whether records of this plan can be matched by fingerprint at all (see the module comment). */
export function fingerprintsApply(plan: ImportPlan, cls: ClassDef, format: 'csv' | 'json'): boolean {
  if (format !== 'csv') return false;
  // A fast hash of a record that holds a password would sit beside the password's slow
  // hash and could be brute-forced at hashing speed.
  if (plan.slots.some((code) => cls.byCode.get(code)?.type === 'password')) return false;
  if (plan.action !== 'upsert' && plan.action !== 'update') return false;
  if (plan.keys.length === 0) return false;
  if (plan.refs.some((g) => g.target === plan.className)) return false;
  // A bundle's earlier file may have changed what a reference resolves to, in the run's open transaction.
  if (plan.writtenBefore !== undefined && plan.writtenBefore.length > 0) return false;
  return !plan.links.some((l) => l.target === plan.className);
}

export interface FingerprintSeed {
  a: number;
  b: number;
}

/** The two 32-bit seeds of this run's fingerprints: a digest of everything that shapes a row besides its cells. */
export function fingerprintSeed(
  db: DB,
  model: Model,
  plan: ImportPlan,
  parse: { delimiter: string; quote: string | null; relaxQuotes: boolean; dateFormat: string | undefined },
): FingerprintSeed {
  const gen = db.prepare(`SELECT value FROM _sluice_meta WHERE key = ?`).pluck();
  return seedOf(model, plan, parse, (key) => Number(gen.get(key) ?? 0));
}

/** fingerprintSeed, with the generation counters of `_sluice_meta` read by `count` (0 for a key it lacks). */
export function seedOf(
  model: Model,
  plan: ImportPlan,
  parse: { delimiter: string; quote: string | null; relaxQuotes: boolean; dateFormat: string | undefined },
  count: (key: string) => number,
): FingerprintSeed {
  const targets = [...new Set([...plan.refs.map((g) => g.target), ...plan.links.map((l) => l.target)])].sort();
  const generations = targets.map((t) => [t, String(count(generationKey(t)))]);
  // The changes of the class itself by runs not keyed like this one: after one of them a
  // record's key values may find a second object, which the record's fingerprint cannot tell.
  const otherChanges = count(generationKey(plan.className)) - count(keyedGenerationKey(plan.className, plan.keys));
  const cls = model.classes.get(plan.className) as ClassDef;
  const signature = JSON.stringify({
    v: 2,
    otherChanges,
    plan,
    attributes: cls.attributes,
    // --relax-quotes gives `"ab"c` a meaning; named only when given, so the fingerprints
    // stored by runs without it stay valid.
    parse: parse.relaxQuotes ? [parse.delimiter, parse.quote, parse.dateFormat ?? null, 'relax-quotes'] : [parse.delimiter, parse.quote, parse.dateFormat ?? null],
    generations,
  });
  const d = createHash('sha256').update(signature).digest();
  return { a: d.readInt32LE(0), b: d.readInt32LE(4) };
}

/** The fingerprint of each record span of a frame. */
export function hashSpans(buf: Uint8Array, spans: { start: ArrayLike<number>; end: ArrayLike<number> }, seed: FingerprintSeed): BigInt64Array {
  const n = spans.start.length;
  const fp = new BigInt64Array(n);
  const halves = new Int32Array(fp.buffer);
  for (let i = 0; i < n; i++) hashBytes(buf, spans.start[i] as number, spans.end[i] as number, seed, halves, i);
  return fp;
}

let viewOf: Uint8Array | null = null;
let view: DataView<ArrayBufferLike> = new DataView(new ArrayBuffer(0));

/**
 * Hash the raw bytes of one record, `bytes[start..end)`, into two 32-bit lanes, written
 * as the low and high halves of entry `index` of a BigInt64Array seen through `halves`,
 * its Int32Array view, so no BigInt is made per record. A record need not be parsed to
 * be matched.
 */
export function hashBytes(bytes: Uint8Array, start: number, end: number, seed: FingerprintSeed, halves: Int32Array, index: number): void {
  let a = seed.a;
  let b = seed.b;
  let i = start;
  // Four bytes a step (one little-endian load through a DataView: a third faster than
  // assembling them), then the tail byte by byte. The records of a frame share its view.
  if (bytes !== viewOf) {
    viewOf = bytes;
    view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  }
  const v = view;
  for (; i + 4 <= end; i += 4) {
    const w = v.getInt32(i, true);
    a = Math.imul(a ^ w, 0x5bd1e995);
    a ^= a >>> 15;
    b = Math.imul(b ^ w, 0x27d4eb2d);
    b = (b << 13) | (b >>> 19);
  }
  for (; i < end; i++) {
    const c = bytes[i] as number;
    a = Math.imul(a ^ c, 0x5bd1e995);
    a ^= a >>> 15;
    b = Math.imul(b ^ c, 0x27d4eb2d);
    b = (b << 13) | (b >>> 19);
  }
  halves[index * 2] = fmix(a ^ (end - start));
  halves[index * 2 + 1] = fmix(b ^ Math.imul(end - start, 0x9e3779b1));
}

/**
 * Reads the decimal integers of a page ("fingerprint,id,fingerprint,id,…") into `out` as
 * [low half, high half, id] triples; a fingerprint's 64 bits are rebuilt exactly from its
 * digits in two 32-bit limbs. Returns the number of triples.
 */
export function readFingerprintPage(text: string, out: Int32Array): number {
  let n = 0;
  let i = 0;
  const len = text.length;
  while (i < len) {
    let neg = false;
    if (text.charCodeAt(i) === 45) {
      neg = true;
      i++;
    }
    // Up to 15 digits are a double exactly; the 4 at most a 64-bit value has beyond them
    // are folded into the two limbs at once (a carry per digit cost a third of the fill).
    let head = 0;
    let c = text.charCodeAt(i);
    const stop = i + 15;
    for (; c >= 48 && c <= 57 && i < stop; c = text.charCodeAt(++i)) head = head * 10 + (c - 48);
    let tail = 0;
    let scale = 1;
    for (; c >= 48 && c <= 57; c = text.charCodeAt(++i)) {
      tail = tail * 10 + (c - 48);
      scale *= 10;
    }
    let hi = Math.floor(head / 4294967296);
    let lo = (head - hi * 4294967296) * scale + tail;
    const carry = Math.floor(lo / 4294967296);
    lo -= carry * 4294967296;
    hi = hi * scale + carry;
    i++;
    let id = 0;
    for (c = text.charCodeAt(i); c >= 48 && c <= 57; c = text.charCodeAt(++i)) id = id * 10 + (c - 48);
    i++;
    if (neg) {
      // Two's complement of the magnitude.
      hi = ~hi + (lo === 0 ? 1 : 0);
      lo = -lo;
    }
    out[n * 3] = lo | 0;
    out[n * 3 + 1] = hi | 0;
    out[n * 3 + 2] = id;
    n++;
  }
  return n;
}

/** MurmurHash3's finalizer: every input bit affects every output bit. */
function fmix(h: number): number {
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  return h ^ (h >>> 16);
}

/** A CSV frame whose records were hashed and looked for among the committed fingerprints (matchFrame). */
export interface MatchedFrame {
  /** each record's cells; null for a record a fingerprint matched, which is not parsed */
  records: ((string | undefined)[] | null)[];
  /** the physical line each record starts on */
  lines: Int32Array;
  /** each record's fingerprint; null when the frame's records could not be told apart by a scan (malformed CSV) */
  fp: BigInt64Array | null;
  /** per record, the object its fingerprint matched (0: none); null when none matched */
  hit: Float64Array | null;
  /** how many records matched */
  hits: number;
  /** where each record lies in the frame; null with fp */
  spans: RecordSpans | null;
}

/**
 * Hash every record of a CSV frame from its bytes and look the fingerprints up in `index`:
 * the records that match an object are left unparsed, the others are parsed one by one
 * (the whole frame at once when none matched). A fingerprint is kept only for a span known
 * to hold exactly one record: a span that parses otherwise (malformed CSV) sends the whole
 * frame down the ordinary path, without fingerprints.
 */
export function matchFrame(buf: Buffer, firstLine: number, opts: CsvOptions, seed: FingerprintSeed, index: FingerprintIndex): MatchedFrame {
  const spans = scanRecords(buf, firstLine, opts);
  const n = spans.start.length;
  const fp = hashSpans(buf, spans, seed);
  const hit = index.find(fp);
  let hits = 0;
  for (let i = 0; i < n; i++) if ((hit[i] as number) > 0) hits++;
  const whole = (keepFp: boolean): MatchedFrame => {
    const parsed = parseRecords(buf, firstLine, opts);
    const same = keepFp && sameLines(parsed.lines, spans.lines);
    return { records: parsed.records, lines: parsed.lines, fp: same ? fp : null, hit: null, hits: 0, spans: same ? spans : null };
  };
  if (hits === 0) return whole(true);
  const records: ((string | undefined)[] | null)[] = new Array(n);
  for (let i = 0; i < n; i++) {
    if ((hit[i] as number) > 0) {
      records[i] = null;
      continue;
    }
    const one = parseRecords(buf.subarray(spans.start[i] as number, spans.end[i] as number), spans.lines[i] as number, opts);
    if (one.records.length !== 1) return whole(false);
    records[i] = one.records[0] as string[];
  }
  return { records, lines: spans.lines, fp, hit, hits, spans };
}

/** The one record at span `i` of a matched frame, parsed: a record the fingerprint matched, read after all. */
export function recordAt(buf: Buffer, spans: RecordSpans, i: number, opts: CsvOptions): (string | undefined)[] {
  const one = parseRecords(buf.subarray(spans.start[i] as number, spans.end[i] as number), spans.lines[i] as number, opts);
  // A span whose bytes matched a stored fingerprint was one record when it was stored.
  return one.records[0] ?? [];
}

function sameLines(a: Int32Array, b: Int32Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

/** Where a worker finds the objects holding each fingerprint: per row, the object id, 0 for none. */
export interface FingerprintIndex {
  find(fp: BigInt64Array): Float64Array;
}

/** Up to this many fingerprinted objects a worker holds them in memory (12 bytes a slot, half full at most). */
export const TABLE_CAP = 2_000_000;
export const PAGE = 65_536;

/**
 * The fingerprints of a class as they were committed when the run began, in an
 * open-addressing hash table: a lookup is a few array reads, where a query costs
 * microseconds. Stale entries are harmless: a fingerprint match counts only for an
 * object the run has not touched, and the writer checks that.
 */
export class FingerprintTable implements FingerprintIndex {
  /** per slot: low half, high half, id (0: empty, -1: several objects) */
  private readonly slots: Int32Array;
  private readonly mask: number;

  private constructor(slots: Int32Array) {
    this.slots = slots;
    this.mask = slots.length / 3 - 1;
  }

  /** An empty table sized for the committed fingerprints of `className`, or null when its ids go beyond 32 bits. */
  static sized(db: DB, className: string, cap = TABLE_CAP): FingerprintTable | null {
    return FingerprintTable.forIds((db.prepare(`SELECT max(id) FROM ${q(className)}`).pluck().get() as number | null) ?? 0, cap);
  }

  /** An empty table for the fingerprints of objects whose ids go up to `maxId`, or null when they go beyond 32 bits. */
  static forIds(maxId: number, cap = TABLE_CAP): FingerprintTable | null {
    if (maxId >= 2 ** 31) return null;
    // Ids are distinct: never more fingerprints than the largest id.
    let size = 1024;
    while (size < Math.min(maxId, cap) * 2) size *= 2;
    return new FingerprintTable(new Int32Array(size * 3));
  }

  /** The committed fingerprints of `className`, or null when there are more than `cap` (or ids beyond 32 bits). */
  static load(db: DB, className: string, cap = TABLE_CAP, pageRows = PAGE): FingerprintTable | null {
    const table = FingerprintTable.sized(db, className, cap);
    return table?.fill(db, className, cap, pageRows) ? table : null;
  }

  /** A table another thread holds (its `memory`), seen from this one. */
  static shared(memory: SharedArrayBuffer): FingerprintTable {
    return new FingerprintTable(new Int32Array(memory));
  }

  /** Read the committed fingerprints of `className` in; false when there are more than `cap`. */
  fill(db: DB, className: string, cap = TABLE_CAP, pageRows = PAGE): boolean {
    // One string per page, read from the table in id order: fetching rows one by one costs
    // three times as much, and SQLite writes integers as decimals twice as fast as through
    // printf. Objects sharing a fingerprint are told apart wherever their pages fall: the
    // table marks a fingerprint seen twice.
    const next = db
      .prepare(`SELECT group_concat(${FP_COLUMN} || ',' || id, ',') FROM (SELECT ${FP_COLUMN}, id FROM ${q(className)} NOT INDEXED WHERE id > ? AND ${FP_COLUMN} IS NOT NULL ORDER BY id LIMIT ${pageRows})`)
      .pluck();
    const triples = new Int32Array(pageRows * 3);
    let loaded = 0;
    for (let after = 0; ; ) {
      const n = this.addPage(next.get(after) as string | null, triples);
      if (n === 0) return true;
      loaded += n;
      if (loaded > cap) return false;
      after = triples[(n - 1) * 3 + 2] as number;
    }
  }

  /**
   * Add one page of fingerprints, `fp,id,fp,id…` in id order (null: none), read through
   * `triples` (room for the page's rows); how many it held. The page's last id is
   * `triples[(n - 1) * 3 + 2]`, where the next page starts.
   */
  addPage(text: string | null, triples: Int32Array): number {
    if (!text) return 0;
    const n = readFingerprintPage(text, triples);
    for (let k = 0; k < n; k++) this.add(triples[k * 3] as number, triples[k * 3 + 1] as number, triples[k * 3 + 2] as number);
    return n;
  }

  /** Add object `id`'s fingerprint, as its low and high 32-bit halves. */
  add(lo: number, hi: number, id: number): void {
    const s = this.slots;
    let k = lo & this.mask;
    for (;;) {
      const at = k * 3;
      if (s[at + 2] === 0) {
        s[at] = lo;
        s[at + 1] = hi;
        s[at + 2] = id;
        return;
      }
      if (s[at] === lo && s[at + 1] === hi) {
        s[at + 2] = -1;
        return;
      }
      k = (k + 1) & this.mask;
    }
  }

  find(fp: BigInt64Array): Float64Array {
    const halves = new Int32Array(fp.buffer, fp.byteOffset, fp.length * 2);
    const out = new Float64Array(fp.length);
    const s = this.slots;
    for (let i = 0; i < fp.length; i++) {
      const lo = halves[i * 2] as number;
      const hi = halves[i * 2 + 1] as number;
      let k = lo & this.mask;
      for (;;) {
        const at = k * 3;
        const id = s[at + 2] as number;
        if (id === 0) break;
        if (s[at] === lo && s[at + 1] === hi) {
          if (id > 0) out[i] = id;
          break;
        }
        k = (k + 1) & this.mask;
      }
    }
    return out;
  }
}

/**
 * A class's committed fingerprints in one table the run's threads share and fill together.
 * Each worker used to read the whole class into a table of its own: 0.8 s of a nightly
 * reload of 1M objects before its first frame, per worker, and a copy each. The writer
 * sizes the table once it holds the write lock (so no other run can commit while it is
 * read) and offers it with its ready message; then the writer and every worker that
 * starts claim ranges of ids, read them and insert them with atomic operations, until
 * none is left. A worker matches its first frame once the last range is in.
 */
export interface SharedFingerprints {
  /** the table: per slot, low half, high half, id (see FingerprintTable) */
  memory: SharedArrayBuffer;
  /** Int32s: the table's state (SharedState), ranges claimed, ranges done */
  control: SharedArrayBuffer;
  /** the ranges: range k holds the ids (k × span, (k + 1) × span] */
  ranges: number;
  span: number;
}

export const enum SharedState {
  Filling = 0,
  Filled = 1,
  Failed = 2,
}

const STATE = 0;
const CLAIMED = 1;
const DONE = 2;
/** a slot a thread is writing: its halves are not there yet */
const WRITING = -2;
/** Ids per range: a few pages each, enough ranges to spread over the threads of a large machine. */
const RANGE_IDS = 131_072;

/**
 * The table for the workers of a run, empty; null when the class may have too many
 * fingerprints to hold (each worker then reads its own or queries, as FingerprintTable.load).
 */
export function sharedFingerprints(db: DB, className: string, cap = TABLE_CAP, rangeIds = RANGE_IDS): SharedFingerprints | null {
  const maxId = (db.prepare(`SELECT max(id) FROM ${q(className)}`).pluck().get() as number | null) ?? 0;
  if (maxId > cap || maxId >= 2 ** 31) return null;
  let size = 1024;
  while (size < maxId * 2) size *= 2;
  const ranges = Math.max(1, Math.ceil(maxId / rangeIds));
  return { memory: new SharedArrayBuffer(size * 3 * 4), control: new SharedArrayBuffer(3 * 4), ranges, span: Math.ceil(maxId / ranges) || 1 };
}

/**
 * Claim ranges of the shared table and read them in, until none is left; the thread that
 * ends the last one says the table is filled. A failure says so to every thread waiting.
 */
export function helpFill(db: DB, className: string, shared: SharedFingerprints, pageRows = PAGE): void {
  const control = new Int32Array(shared.control);
  const slots = new Int32Array(shared.memory);
  const mask = slots.length / 3 - 1;
  try {
    const next = db
      .prepare(
        `SELECT group_concat(${FP_COLUMN} || ',' || id, ',') FROM (SELECT ${FP_COLUMN}, id FROM ${q(className)} NOT INDEXED WHERE id > ? AND id <= ? AND ${FP_COLUMN} IS NOT NULL ORDER BY id LIMIT ${pageRows})`,
      )
      .pluck();
    const triples = new Int32Array(pageRows * 3);
    for (let k = Atomics.add(control, CLAIMED, 1); k < shared.ranges; k = Atomics.add(control, CLAIMED, 1)) {
      const last = (k + 1) * shared.span;
      let text = next.get(k * shared.span, last) as string | null;
      while (text) {
        const n = readFingerprintPage(text, triples);
        for (let i = 0; i < n; i++) insertShared(slots, mask, triples[i * 3] as number, triples[i * 3 + 1] as number, triples[i * 3 + 2] as number);
        text = n < pageRows ? null : (next.get(triples[(n - 1) * 3 + 2] as number, last) as string | null);
      }
      if (Atomics.add(control, DONE, 1) + 1 === shared.ranges) {
        Atomics.store(control, STATE, SharedState.Filled);
        Atomics.notify(control, STATE);
      }
    }
  } catch (e) {
    Atomics.store(control, STATE, SharedState.Failed);
    Atomics.notify(control, STATE);
    throw e;
  }
}

/**
 * FingerprintTable's insert, by several threads at once: a thread takes an empty slot by
 * marking it WRITING, writes the halves, then the id; another thread that meets the slot
 * waits for the id before it compares the halves, so a fingerprint two objects share is
 * marked as such whichever thread inserts first.
 */
function insertShared(s: Int32Array, mask: number, lo: number, hi: number, id: number): void {
  let k = lo & mask;
  for (;;) {
    const at = k * 3;
    let cur = Atomics.load(s, at + 2);
    if (cur === 0) {
      cur = Atomics.compareExchange(s, at + 2, 0, WRITING);
      if (cur === 0) {
        // The halves are plain writes: the atomic store of the id publishes them to a
        // thread that reads it atomically (half the atomic operations of the fill).
        s[at] = lo;
        s[at + 1] = hi;
        Atomics.store(s, at + 2, id);
        return;
      }
    }
    while (cur === WRITING) cur = Atomics.load(s, at + 2);
    if (s[at] === lo && s[at + 1] === hi) {
      Atomics.store(s, at + 2, -1);
      return;
    }
    k = (k + 1) & mask;
  }
}

/**
 * A worker's view of the shared table: its first lookup helps fill it and waits until it
 * is filled, then reads it as a FingerprintTable.
 */
export class SharedFingerprintTable implements FingerprintIndex {
  private table: FingerprintTable | null = null;

  constructor(
    private readonly shared: SharedFingerprints,
    private readonly fill: () => void,
  ) {}

  find(fp: BigInt64Array): Float64Array {
    if (!this.table) {
      const control = new Int32Array(this.shared.control);
      if (Atomics.load(control, STATE) === SharedState.Filling) this.fill();
      while (Atomics.load(control, STATE) === SharedState.Filling) Atomics.wait(control, STATE, SharedState.Filling);
      if (Atomics.load(control, STATE) === SharedState.Failed) throw new Error('another thread of the run could not read the fingerprints');
      this.table = FingerprintTable.shared(this.shared.memory);
    }
    return this.table.find(fp);
  }
}

/** The same, by queries on the fingerprint index: for classes too large to hold in memory. */
export class FingerprintQueries implements FingerprintIndex {
  constructor(
    private readonly lookup: Lookup,
    private readonly className: string,
  ) {}

  find(fp: BigInt64Array): Float64Array {
    const halves = new Int32Array(fp.buffer, fp.byteOffset, fp.length * 2);
    const found = this.lookup.fingerprints(this.className, fp);
    const out = new Float64Array(fp.length);
    if (found.size === 0) return out;
    for (let i = 0; i < fp.length; i++) {
      const id = found.get(fingerprintDouble(halves, i));
      if (id !== undefined && id > 0) out[i] = id;
    }
    return out;
  }
}
