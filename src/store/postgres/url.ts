/**
 * `--db postgres://…` (or `SLUICE_DB`): recognising a PostgreSQL URL, reading it into
 * connection settings, and showing it without its password.
 *
 * A password never reaches a message: every message shows the URL through maskUrl(), and
 * no error raised here keeps the URL parser's own error (which carries the whole input) as
 * its cause. This module loads no driver: asking isPostgresUrl() costs the SQLite path nothing.
 */
import { SluiceError, quoted } from '../../base/errors.js';

/** Where a run's PostgreSQL database is, and which of its schemas holds the model. */
export interface PgTarget {
  /** A host name, an IP address, or the directory of a unix socket (starts with /); undefined: the driver's default (PGHOST, else localhost). */
  host: string | undefined;
  port: number | undefined;
  user: string | undefined;
  password: string | undefined;
  database: string;
  /** The PostgreSQL schema of the model's tables: `?schema=`, else DEFAULT_SCHEMA. */
  schema: string;
  sslmode: SslMode | undefined;
  applicationName: string | undefined;
  /** Seconds to wait for a connection (`connect_timeout`, as libpq names it). */
  connectTimeout: number | undefined;
  /** The URL as given, its password masked: what messages show. */
  shown: string;
  /** Where the URL came from, as messages name it: `--db`, or `--db (SLUICE_DB)`. */
  option: string;
}

export const DEFAULT_SCHEMA = 'sluice';

export const SSL_MODES = ['disable', 'require', 'verify-ca', 'verify-full'] as const;
export type SslMode = (typeof SSL_MODES)[number];

/** The query parameters a URL may carry (libpq's names, and Sluice's `schema`). */
export const URL_PARAMETERS = ['schema', 'host', 'port', 'user', 'password', 'sslmode', 'application_name', 'connect_timeout'] as const;

const SCHEME = /^postgres(?:ql)?:\/\//i;

/** A parameter the URL may carry, at the start of a key=value pair. */
const KNOWN_PAIR = new RegExp(`^(?:${URL_PARAMETERS.join('|')})=`);

/** A password parameter's value: up to the next known parameter, so that an unescaped & in it does not end it (see queryParameters). */
const PASSWORD_PARAMETER = new RegExp(`([?&]password=).*?(?=&(?:${URL_PARAMETERS.join('|')})=|$)`, 'gis');

/** A schema name Sluice creates: lower case, so it needs no quoting in a user's own queries; pg_ names are PostgreSQL's. */
const SCHEMA_NAME = /^[a-z_][a-z0-9_]{0,62}$/;

/** Where a URL's host is empty: after the scheme and any user part, a port, the path, the query or the end. */
const EMPTY_HOST_AT = /^postgres:\/\/([^/?#]*@)?(?=[:/?]|$)/;
const NO_HOST = 'no-host.invalid';

const SHAPE = 'postgres://[user[:password]@]host[:port]/database[?schema=name]';

export function isPostgresUrl(db: string): boolean {
  return SCHEME.test(db);
}

/**
 * The PostgreSQL URL in a `--db` value: the value itself, or the URL a command turned into an
 * absolute file path before opening it (path.resolve makes postgres://h/db into
 * /cwd/postgres:/h/db), rebuilt so that it can be named, masked, in a message. Null for a file path.
 */
export function postgresUrlIn(db: string): string | null {
  if (isPostgresUrl(db)) return db;
  const m = /(?:^|[\\/])(postgres(?:ql)?):[\\/]+(.*)$/is.exec(db);
  return m === null ? null : `${m[1]}://${m[2]}`;
}

/**
 * The URL with its password replaced by `***`, for messages. It works on the text, not on a
 * parse, so that a URL too malformed to parse is masked as well: everything between the
 * user name's colon and the last `@` is hidden (a password with an unescaped `@`, `/` or `#`
 * included), and so is a `password=` parameter.
 */
export function maskUrl(text: string): string {
  const m = SCHEME.exec(text);
  if (m === null) return text;
  let rest = text.slice(m[0].length);
  const at = rest.lastIndexOf('@');
  const colon = rest.indexOf(':');
  if (at >= 0 && colon >= 0 && colon < at) rest = `${rest.slice(0, colon + 1)}***${rest.slice(at)}`;
  rest = rest.replace(PASSWORD_PARAMETER, '$1***');
  return m[0] + rest;
}

function urlError(shown: string, problem: string, source: string): SluiceError {
  return new SluiceError('E_USAGE', `${source}: ${shown} ${problem}`, { option: '--db' });
}

function decode(part: string, what: string, shown: string, source: string): string {
  try {
    return decodeURIComponent(part);
  } catch {
    throw urlError(shown, `has a malformed %-escape in its ${what}`, source);
  }
}

function portOf(text: string, shown: string, source: string): number {
  const n = /^\d{1,5}$/.test(text) ? Number(text) : NaN;
  if (!(n >= 1 && n <= 65535)) throw urlError(shown, `has port ${quoted(text)}, not a port number (valid: 1 to 65535)`, source);
  return n;
}

/**
 * The query's key=value pairs, %-decoded as libpq decodes them (a + stays a +). A password's
 * value runs to the next known parameter: with an unescaped & in it, the rest is still the
 * password, never a parameter that a message would name.
 */
function queryParameters(search: string, shown: string, source: string): Array<[string, string]> {
  const out: Array<[string, string]> = [];
  const pairs = search.replace(/^\?/, '').split('&');
  for (let i = 0; i < pairs.length; i++) {
    const pair = pairs[i] as string;
    if (pair === '') continue;
    const eq = pair.indexOf('=');
    if (eq <= 0) throw urlError(shown, `has the parameter ${quoted(pair.split('=')[0] ?? '')} without a value (valid: key=value)`, source);
    const key = decode(pair.slice(0, eq), 'parameters', shown, source);
    let value = pair.slice(eq + 1);
    if (key === 'password') while (i + 1 < pairs.length && !KNOWN_PAIR.test(pairs[i + 1] as string)) value += `&${pairs[++i]}`;
    out.push([key, decode(value, 'parameters', shown, source)]);
  }
  return out;
}

/**
 * Read a `postgres://` or `postgresql://` URL (libpq's form: user, password and host names
 * %-escaped; a unix socket as a %-escaped directory in the host part or as `?host=/dir`;
 * query parameters override the parts before them). `source` names where it came from in
 * messages: `--db`, or `--db (SLUICE_DB)`.
 */
export function parsePostgresUrl(text: string, source = '--db'): PgTarget {
  const shown = maskUrl(text);
  if (!isPostgresUrl(text)) throw urlError(shown, `is not a PostgreSQL URL (valid: ${SHAPE})`, source);
  let url: URL;
  try {
    // The scheme is made plain so that the parser treats both spellings alike; an empty host
    // (postgres://user@/db?host=/run/postgresql), which libpq takes and the parser does not,
    // is given a stand-in.
    url = new URL(text.replace(SCHEME, 'postgres://').replace(EMPTY_HOST_AT, `$&${NO_HOST}`));
  } catch {
    throw urlError(shown, `is not a valid PostgreSQL URL (valid: ${SHAPE}; %-escape @ : / ? # in a user name or password)`, source);
  }
  if (url.hash !== '') throw urlError(shown, `has a #fragment, which a PostgreSQL URL does not take (valid: ${SHAPE}; %-escape a # in a password as %23)`, source);

  let host: string | undefined = url.hostname === '' || url.hostname === NO_HOST ? undefined : decode(url.hostname, 'host', shown, source);
  if (host !== undefined && host.startsWith('[') && host.endsWith(']')) host = host.slice(1, -1);
  let port = url.port === '' ? undefined : portOf(url.port, shown, source);
  let user = url.username === '' ? undefined : decode(url.username, 'user name', shown, source);
  let password = url.password === '' ? undefined : decode(url.password, 'password', shown, source);
  const path = url.pathname.replace(/^\//, '');
  if (path.includes('/')) throw urlError(shown, `has the path ${quoted(`/${path}`)}; a PostgreSQL URL names one database (valid: ${SHAPE})`, source);
  const database = decode(path, 'database name', shown, source);
  if (database === '') throw urlError(shown, `names no database (valid: ${SHAPE})`, source);

  let schema = DEFAULT_SCHEMA;
  let sslmode: SslMode | undefined;
  let applicationName: string | undefined;
  let connectTimeout: number | undefined;
  const seen = new Set<string>();
  for (const [key, value] of queryParameters(url.search, shown, source)) {
    if (seen.has(key)) throw urlError(shown, `sets the parameter ${key} twice; give it once`, source);
    seen.add(key);
    switch (key) {
      case 'schema':
        if (!SCHEMA_NAME.test(value) || value.startsWith('pg_')) {
          throw urlError(shown, `has schema=${quoted(value)}, not a schema name Sluice creates (valid: lower-case letters, digits and _, starting with a letter or _, at most 63 characters, not starting with pg_)`, source);
        }
        schema = value;
        break;
      case 'host':
        if (value === '') throw urlError(shown, 'has an empty host parameter (valid: a host name, an address or a socket directory)', source);
        host = value;
        break;
      case 'port':
        port = portOf(value, shown, source);
        break;
      case 'user':
        user = value === '' ? undefined : value;
        break;
      case 'password':
        password = value === '' ? undefined : value;
        break;
      case 'sslmode':
        if (!(SSL_MODES as readonly string[]).includes(value)) throw urlError(shown, `has sslmode=${quoted(value)} (valid: ${SSL_MODES.join(', ')})`, source);
        sslmode = value as SslMode;
        break;
      case 'application_name':
        applicationName = value;
        break;
      case 'connect_timeout': {
        const n = /^\d{1,6}$/.test(value) ? Number(value) : NaN;
        if (!(n >= 0)) throw urlError(shown, `has connect_timeout=${quoted(value)}, not a number of seconds (valid: 0 or more; 0 waits as long as it takes)`, source);
        connectTimeout = n;
        break;
      }
      default:
        throw urlError(shown, `has the parameter ${quoted(key)}, which Sluice does not know (valid: ${URL_PARAMETERS.join(', ')})`, source);
    }
  }
  return { host, port, user, password, database, schema, sslmode, applicationName, connectTimeout, shown, option: source };
}

/** The commands that take a PostgreSQL URL so far. */
export const POSTGRES_COMMANDS = ['init', 'import --file', 'import --bundle', 'export', 'schema', 'changes', 'history', 'undo', 'serve', 'token', 'source', 'sync'] as const;

/** What a command that cannot use PostgreSQL yet says when given a PostgreSQL URL. */
export function postgresNotAvailable(db: string): SluiceError {
  return new SluiceError(
    'E_USAGE',
    `--db ${maskUrl(db)}: PostgreSQL databases work with sluice ${POSTGRES_COMMANDS.slice(0, -1).join(', ')} and ${POSTGRES_COMMANDS.at(-1)} so far; this command does not work with them yet (it takes an SQLite database file)`,
    { option: '--db' },
  );
}
