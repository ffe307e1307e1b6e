import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { resolve } from 'node:path';
import { SluiceError } from '../../../src/base/errors.js';
import { DEFAULT_SCHEMA, isPostgresUrl, maskUrl, parsePostgresUrl, postgresNotAvailable, postgresUrlIn } from '../../../src/store/postgres/url.js';

const SECRET = 's3cr3t-Pw';

function errorOf(fn: () => unknown): SluiceError {
  try {
    fn();
  } catch (e) {
    assert.ok(e instanceof SluiceError, `expected a SluiceError, got ${String(e)}`);
    return e;
  }
  assert.fail('expected an error');
}

describe('isPostgresUrl', () => {
  it('knows both schemes, in any case, and nothing else', () => {
    for (const yes of ['postgres://h/db', 'postgresql://h/db', 'POSTGRES://h/db', 'PostgreSQL://u@h/db']) assert.equal(isPostgresUrl(yes), true, yes);
    for (const no of ['sluice.db', './postgres://x', 'postgres:/h/db', 'postgres.db', 'file:postgres://h', 'mysql://h/db', '']) assert.equal(isPostgresUrl(no), false, no);
  });
});

describe('postgresUrlIn', () => {
  it('finds the URL in a --db value, also after a command made it an absolute path', () => {
    assert.equal(postgresUrlIn('postgres://u@h/db'), 'postgres://u@h/db');
    assert.equal(postgresUrlIn(resolve(`postgres://u:${SECRET}@h:5432/db`)), `postgres://u:${SECRET}@h:5432/db`);
    assert.equal(postgresUrlIn(resolve('postgresql://h/db?schema=x')), 'postgresql://h/db?schema=x');
  });

  it('is null for database files, postgres-looking names included', () => {
    for (const path of ['sluice.db', resolve('sluice.db'), '/var/lib/postgres/cmdb.db', resolve('postgres.db'), 'postgres:cmdb.db']) assert.equal(postgresUrlIn(path), null, path);
  });
});

describe('parsePostgresUrl', () => {
  it('reads user, password, host, port and database; the schema defaults to sluice', () => {
    const t = parsePostgresUrl(`postgres://alice:${SECRET}@db.example.org:6543/cmdb`);
    assert.equal(t.user, 'alice');
    assert.equal(t.password, SECRET);
    assert.equal(t.host, 'db.example.org');
    assert.equal(t.port, 6543);
    assert.equal(t.database, 'cmdb');
    assert.equal(t.schema, DEFAULT_SCHEMA);
    assert.equal(t.shown, 'postgres://alice:***@db.example.org:6543/cmdb');
  });

  it('leaves unsaid parts to the driver (PGHOST, PGPORT, PGUSER, PGPASSWORD)', () => {
    const t = parsePostgresUrl('postgresql:///cmdb');
    assert.deepEqual([t.host, t.port, t.user, t.password], [undefined, undefined, undefined, undefined]);
    assert.equal(t.database, 'cmdb');
  });

  it('decodes %-escapes in the user, password, host and database, as libpq does', () => {
    const t = parsePostgresUrl('postgres://a%40b:p%40ss%2Fw%23rd@%2Fvar%2Frun%2Fpostgresql/my%20db');
    assert.equal(t.user, 'a@b');
    assert.equal(t.password, 'p@ss/w#rd');
    assert.equal(t.host, '/var/run/postgresql');
    assert.equal(t.database, 'my db');
  });

  it('takes an empty host, leaving it to ?host= or the driver', () => {
    const t = parsePostgresUrl(`postgres://bob:${SECRET}@/cmdb?host=/run/postgresql`);
    assert.deepEqual([t.user, t.password, t.host, t.database], ['bob', SECRET, '/run/postgresql', 'cmdb']);
    const p = parsePostgresUrl('postgresql://:5433/cmdb');
    assert.deepEqual([p.host, p.port, p.database], [undefined, 5433, 'cmdb']);
  });

  it('takes an IPv6 address without its brackets', () => {
    assert.equal(parsePostgresUrl('postgres://[::1]:5432/db').host, '::1');
  });

  it('lets query parameters override the parts before them; a + stays a +', () => {
    const t = parsePostgresUrl('postgres://u@h:1/db?host=/tmp/sock&port=5433&user=bob&password=a+b&schema=cmdb_2&sslmode=require&application_name=nightly&connect_timeout=7');
    assert.equal(t.host, '/tmp/sock');
    assert.equal(t.port, 5433);
    assert.equal(t.user, 'bob');
    assert.equal(t.password, 'a+b');
    assert.equal(t.schema, 'cmdb_2');
    assert.equal(t.sslmode, 'require');
    assert.equal(t.applicationName, 'nightly');
    assert.equal(t.connectTimeout, 7);
    assert.equal(t.shown, 'postgres://u@h:1/db?host=/tmp/sock&port=5433&user=bob&password=***&schema=cmdb_2&sslmode=require&application_name=nightly&connect_timeout=7');
  });

  const bad: Array<[string, RegExp]> = [
    ['postgres://h', /names no database/],
    ['postgres://h/', /names no database/],
    ['postgres://h/a/b', /names one database/],
    ['postgres://h:0/db', /valid: 1 to 65535/],
    ['postgres://h:99999/db', /not a valid PostgreSQL URL/],
    ['postgres://h/db?port=http', /valid: 1 to 65535/],
    ['postgres://h/db?schema=Cmdb', /schema name Sluice creates/],
    ['postgres://h/db?schema=pg_x', /not starting with pg_/],
    ['postgres://h/db?schema=a;drop', /lower-case letters, digits and _/],
    ['postgres://h/db?sslmode=prefer', /valid: disable, require, verify-ca, verify-full/],
    ['postgres://h/db?search_path=x', /does not know \(valid: schema, host, port, user, password, sslmode, application_name, connect_timeout\)/],
    ['postgres://h/db?schema=a&schema=b', /twice/],
    ['postgres://h/db?schema', /without a value/],
    ['postgres://h/db?connect_timeout=-1', /number of seconds/],
    ['postgres://h/db#x', /fragment/],
    ['postgres://h/d%zzb', /malformed %-escape/],
  ];
  for (const [url, re] of bad) {
    it(`refuses ${url}, naming --db and what is valid`, () => {
      const e = errorOf(() => parsePostgresUrl(url));
      assert.equal(e.code, 'E_USAGE');
      assert.equal(e.option, '--db');
      assert.match(e.message, /^--db: /);
      assert.match(e.message, re);
    });
  }

  it('reads an unescaped & in a password parameter as part of the password, up to the next known parameter', () => {
    const t = parsePostgresUrl(`postgres://u@h/db?password=a&${SECRET}=x&schema=inv`);
    assert.equal(t.password, `a&${SECRET}=x`);
    assert.equal(t.schema, 'inv');
    assert.equal(t.shown, 'postgres://u@h/db?password=***&schema=inv');
  });

  it('names where the URL came from', () => {
    assert.match(errorOf(() => parsePostgresUrl('postgres://h', '--db (SLUICE_DB)')).message, /^--db \(SLUICE_DB\): postgres:\/\/h names no database/);
  });

  it('never shows the password in an error, however malformed the URL around it', () => {
    const urls = [
      `postgres://u:${SECRET}@h:99999/db`,
      `postgres://u:${SECRET}@h/db?bogus=1`,
      `postgres://u:${SECRET}@h/db?schema=BAD`,
      `postgres://u:${SECRET}@h`,
      `postgres://u:${SECRET}@h/a/b`,
      `postgres://u:pa/${SECRET}@h/db`,
      `postgres://u:pa#${SECRET}@h/db`,
      `postgres://u:pa?${SECRET}@h/db`,
      `postgres://u:pa@${SECRET}@h/db?sslmode=x`,
      `postgres://u@h/db?password=${SECRET}&sslmode=x`,
      `postgres://u@h/db?sslmode=x&password=${SECRET}`,
      `postgresql://u:${SECRET}@h/d%zz`,
      `postgres://u@h/db?password=a&${SECRET}&schema=BAD`,
      `postgres://u@h/db?password=a&${SECRET}=x&sslmode=x`,
      `postgres://u@h/db?password=a%zz&${SECRET}`,
    ];
    for (const url of urls) {
      const e = errorOf(() => parsePostgresUrl(url));
      assert.ok(!e.message.includes(SECRET), `${url} → ${e.message}`);
      assert.ok(!e.message.includes(SECRET.slice(0, 4)), `${url} → ${e.message}`);
      assert.equal(e.cause, undefined, 'the URL parser error carries the input: it is not kept');
    }
  });
});

describe('maskUrl', () => {
  it('hides the password and keeps the rest', () => {
    assert.equal(maskUrl(`postgres://u:${SECRET}@h:5432/db?schema=x`), 'postgres://u:***@h:5432/db?schema=x');
    assert.equal(maskUrl('postgres://u@h/db'), 'postgres://u@h/db');
    assert.equal(maskUrl('postgres://h:5432/db'), 'postgres://h:5432/db');
    assert.equal(maskUrl(`postgres://u@h/db?password=${SECRET}&schema=x`), 'postgres://u@h/db?password=***&schema=x');
    assert.equal(maskUrl('sluice.db'), 'sluice.db');
  });
});

describe('postgresNotAvailable', () => {
  it('names --db, says what works, and masks the password', () => {
    const e = postgresNotAvailable(`postgres://u:${SECRET}@h/db`);
    assert.equal(e.code, 'E_USAGE');
    assert.equal(e.option, '--db');
    assert.equal(
      e.message,
      '--db postgres://u:***@h/db: PostgreSQL databases work with sluice init, import --file, import --bundle, export, schema, changes, history, undo, serve, token, source and sync so far; this command does not work with them yet (it takes an SQLite database file)',
    );
  });
});
