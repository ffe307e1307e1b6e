/**
 * The bearer tokens of `sluice serve` (SPEC §6): `sluice token add|list|revoke`.
 *
 * A token is `slu_<key id>_<secret>`: the key id (8 hex digits) finds its row, the secret
 * (32 random bytes) is kept only as its SHA-256 and compared in constant time. The secret is
 * random, so a fast hash is enough: there is no password to guess from it. Tokens live in the
 * service's own database beside the job table (JobStore), not in the data database: adding
 * or revoking one never waits for a running import's write lock, and a copy of the data
 * carries no credentials.
 */
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import type Database from 'better-sqlite3';
import { SluiceError, quoted } from '../base/errors.js';

type DB = Database.Database;

export type Role = 'admin' | 'importer' | 'reader';

export const ROLES: readonly Role[] = ['admin', 'importer', 'reader'];

/** Who a request comes from: a token's name, role and classes (null: every class). */
export interface Principal {
  name: string;
  role: Role;
  classes: readonly string[] | null;
}

export interface TokenInfo extends Principal {
  createdAt: string;
  revokedAt: string | null;
  lastUsedAt: string | null;
}

export const TOKEN_DDL = [
  `CREATE TABLE IF NOT EXISTS _sluice_token (
    id INTEGER PRIMARY KEY,
    name TEXT NOT NULL UNIQUE,
    key_id TEXT NOT NULL UNIQUE,
    hash BLOB NOT NULL,
    role TEXT NOT NULL,
    classes TEXT,
    created_at TEXT NOT NULL,
    revoked_at TEXT,
    last_used_at TEXT
  )`,
];

const TOKEN_RE = /^slu_([0-9a-f]{8})_([A-Za-z0-9_-]{43})$/;

/** How often a token's last use is written down, at most (a status poll is not a write). */
const LAST_USED_EVERY_MS = 60_000;

interface TokenRow {
  name: string;
  key_id: string;
  hash: Buffer;
  role: Role;
  classes: string | null;
  created_at: string;
  revoked_at: string | null;
  last_used_at: string | null;
}

function infoOf(r: TokenRow): TokenInfo {
  return { name: r.name, role: r.role, classes: r.classes === null ? null : (JSON.parse(r.classes) as string[]), createdAt: r.created_at, revokedAt: r.revoked_at, lastUsedAt: r.last_used_at };
}

function digest(secret: string): Buffer {
  return createHash('sha256').update(secret).digest();
}

export function checkTokenName(name: string): string {
  if (!/^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$/.test(name)) {
    throw new SluiceError('E_USAGE', `--name: ${quoted(name)} is not valid (1 to 64 letters, digits, _ . -, starting with a letter or digit)`, { option: '--name' });
  }
  return name;
}

export function checkRole(role: string): Role {
  if (!(ROLES as readonly string[]).includes(role)) throw new SluiceError('E_USAGE', `--role: ${quoted(role)} is not valid (valid: ${ROLES.join(', ')})`, { option: '--role' });
  return role as Role;
}

export class TokenStore {
  private readonly byKey;
  private readonly touch;
  /** when each token's last use was last written (key id → ms) */
  private readonly touched = new Map<string, number>();

  constructor(private readonly db: DB) {
    for (const sql of TOKEN_DDL) db.exec(sql);
    this.byKey = db.prepare('SELECT * FROM _sluice_token WHERE key_id = ?');
    this.touch = db.prepare('UPDATE _sluice_token SET last_used_at = ? WHERE key_id = ?');
  }

  /** A new token; the secret is returned once and kept only as its hash. A revoked token's name can be given again. */
  add(name: string, role: Role, classes: readonly string[] | null): string {
    return this.db.transaction(() => {
      const old = this.db.prepare('SELECT revoked_at FROM _sluice_token WHERE name = ?').get(name) as { revoked_at: string | null } | undefined;
      if (old && old.revoked_at === null) throw new SluiceError('E_USAGE', `--name: a token named ${quoted(name)} exists; revoke it first (sluice token revoke --name ${name}) or pick another name`, { option: '--name' });
      if (old) this.db.prepare('DELETE FROM _sluice_token WHERE name = ?').run(name);
      let keyId: string;
      do keyId = randomBytes(4).toString('hex');
      while (this.byKey.get(keyId) !== undefined);
      const secret = randomBytes(32).toString('base64url');
      this.db
        .prepare('INSERT INTO _sluice_token (name, key_id, hash, role, classes, created_at) VALUES (?, ?, ?, ?, ?, ?)')
        .run(name, keyId, digest(secret), role, classes === null ? null : JSON.stringify(classes), new Date().toISOString());
      return `slu_${keyId}_${secret}`;
    }).immediate();
  }

  list(): TokenInfo[] {
    return (this.db.prepare('SELECT * FROM _sluice_token ORDER BY name').all() as TokenRow[]).map(infoOf);
  }

  /** Whether any token could be used: a server with none refuses every request. */
  anyActive(): boolean {
    return this.db.prepare('SELECT 1 FROM _sluice_token WHERE revoked_at IS NULL LIMIT 1').get() !== undefined;
  }

  revoke(name: string): TokenInfo {
    const r = this.db.prepare('SELECT * FROM _sluice_token WHERE name = ?').get(name) as TokenRow | undefined;
    if (!r) throw new SluiceError('E_USAGE', `--name: no token is named ${quoted(name)} (sluice token list shows them)`, { option: '--name' });
    if (r.revoked_at !== null) return infoOf(r);
    const at = new Date().toISOString();
    this.db.prepare('UPDATE _sluice_token SET revoked_at = ? WHERE name = ?').run(at, name);
    return infoOf({ ...r, revoked_at: at });
  }

  /**
   * The principal an `Authorization` header names; an E_AUTH error saying what is wrong
   * otherwise. The message never repeats the header's value.
   */
  authenticate(header: string | undefined): Principal {
    if (header === undefined || header.trim() === '') {
      throw new SluiceError('E_AUTH', 'no token: send the header "Authorization: Bearer <token>" (sluice token add creates one)');
    }
    const m = /^Bearer\s+(\S+)\s*$/i.exec(header);
    if (!m) throw new SluiceError('E_AUTH', 'the Authorization header is not "Bearer <token>"');
    const t = TOKEN_RE.exec(m[1] as string);
    const r = t ? (this.byKey.get(t[1]) as TokenRow | undefined) : undefined;
    // The hash is compared even for an unknown key id, so both take the same time.
    const presented = digest(t ? (t[2] as string) : (m[1] as string));
    const ok = timingSafeEqual(presented, r ? r.hash : digest('')) && r !== undefined;
    if (!ok || !r) throw new SluiceError('E_AUTH', 'the token is not valid (sluice token list shows the tokens there are)');
    if (r.revoked_at !== null) throw new SluiceError('E_AUTH', `the token ${quoted(r.name)} was revoked (${r.revoked_at})`);
    const now = Date.now();
    if (now - (this.touched.get(r.key_id) ?? 0) >= LAST_USED_EVERY_MS) {
      this.touched.set(r.key_id, now);
      this.touch.run(new Date(now).toISOString(), r.key_id);
    }
    return { name: r.name, role: r.role, classes: r.classes === null ? null : (JSON.parse(r.classes) as string[]) };
  }
}

/** What a request may do with a class: `write` imports, syncs and cancels; `read` exports and reads job states. */
export function authorize(p: Principal, need: 'read' | 'write', className: string | null): void {
  if (need === 'write' && p.role === 'reader') {
    throw new SluiceError('E_FORBIDDEN', `the token ${quoted(p.name)} is a reader: it may export and read job states, not import, sync or cancel`);
  }
  if (className !== null && p.classes !== null && !p.classes.includes(className)) {
    throw new SluiceError('E_FORBIDDEN', `the token ${quoted(p.name)} (${p.role}) may not touch class ${className} (its classes: ${p.classes.join(', ')})`);
  }
}
