import { maskUrl } from '../store/postgres/url.js';
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { SluiceError, quoted } from '../base/errors.js';

export interface OptionSpec {
  type: 'string' | 'boolean';
  /** what the help text shows */
  help: string;
  value?: string;
  default?: string;
}

export type Parsed = Record<string, string | boolean | undefined>;

/** Other spellings of an option (iTop's names) → the option. */
export type Aliases = Record<string, string>;

const TRUE = new Set(['1', 'true', 'yes', 'on']);
const FALSE = new Set(['0', 'false', 'no', 'off']);

function usage(message: string, option?: string): SluiceError {
  return new SluiceError('E_USAGE', message, { option });
}

function canonical(name: string, specs: Record<string, OptionSpec>, aliases: Aliases): string {
  const lower = name.toLowerCase();
  if (specs[name] || name === 'help') return name;
  return aliases[lower] ?? lower.replaceAll('_', '-');
}

function flagValue(command: string, shown: string, value: string): boolean {
  const v = value.trim().toLowerCase();
  if (TRUE.has(v)) return true;
  if (FALSE.has(v)) return false;
  throw usage(`sluice ${command}: ${shown}="${value}" is not valid (a switch takes 1/0, true/false or yes/no)`, shown);
}

/**
 * Rewrite iTop-style arguments into canonical ones: `key=value` and `--key=value`
 * forms, aliases (`--csvfile` → `--file`), and switches given a value
 * (`--simulate=1`). The same option given twice with different values is refused.
 * A switch turned off (`--simulate=0`) is left out of the arguments and named in `off`,
 * so that it still overrides a param file.
 */
export function canonicalArgs(command: string, argv: string[], specs: Record<string, OptionSpec>, aliases: Aliases, off: Set<string> = new Set()): string[] {
  const out: string[] = [];
  const seen = new Map<string, { shown: string; value: string }>();
  for (let i = 0; i < argv.length; i++) {
    let a = argv[i] as string;
    if (!a.startsWith('-') && /^[A-Za-z_][\w-]*=/.test(a)) a = `--${a}`;
    if (!a.startsWith('--') || a === '--') {
      out.push(a);
      continue;
    }
    const eq = a.indexOf('=');
    const name = eq > 0 ? a.slice(2, eq) : a.slice(2);
    const shown = `--${name}`;
    const canon = canonical(name, specs, aliases);
    const spec = specs[canon];
    if (!spec) {
      out.push(a);
      continue;
    }
    let value: string;
    if (spec.type === 'boolean') value = eq > 0 && !flagValue(command, shown, a.slice(eq + 1)) ? 'false' : 'true';
    else if (eq > 0) value = a.slice(eq + 1);
    else {
      const next = argv[i + 1];
      if (next === undefined || (next.startsWith('--') && next.length > 2)) throw usage(`sluice ${command}: ${shown} needs a value`, shown);
      value = next;
      i++;
    }
    const prev = seen.get(canon);
    if (prev && prev.value !== value) {
      // A database URL may hold a password: never shown.
      throw usage(`sluice ${command}: ${prev.shown} and ${shown} both set --${canon} ("${maskUrl(prev.value)}" and "${maskUrl(value)}"); give it once`, shown);
    }
    seen.set(canon, { shown, value });
    if (spec.type !== 'boolean') out.push(`--${canon}=${value}`);
    else if (value === 'true') out.push(`--${canon}`);
    else off.add(canon);
  }
  return out;
}

/** Parse `argv` against a command's options; an unknown or malformed option is a usage error. */
export function parseCommand(command: string, argv: string[], specs: Record<string, OptionSpec>, aliases: Aliases = {}): Parsed {
  const options: Record<string, { type: 'string' | 'boolean' }> = { help: { type: 'boolean' } };
  for (const [name, s] of Object.entries(specs)) options[name] = { type: s.type };
  try {
    const off = new Set<string>();
    const { values, positionals } = parseArgs({ args: canonicalArgs(command, argv, specs, aliases, off), options, strict: true, allowPositionals: true });
    if (positionals.length > 0) {
      throw usage(`sluice ${command}: unexpected argument "${positionals[0]}" (options start with --; see sluice ${command} --help)`);
    }
    const parsed = values as Parsed;
    for (const name of off) parsed[name] = false;
    return parsed;
  } catch (err) {
    if (err instanceof SluiceError) throw err;
    const msg = (err as Error).message;
    const m = /'(--?[\w-]+)/.exec(msg);
    const opt = m?.[1];
    if ((err as { code?: string }).code === 'ERR_PARSE_ARGS_UNKNOWN_OPTION') {
      throw usage(`sluice ${command}: unknown option ${opt ?? ''} (valid: ${Object.keys(specs).map((k) => `--${k}`).join(', ')})`, opt);
    }
    if ((err as { code?: string }).code === 'ERR_PARSE_ARGS_INVALID_OPTION_VALUE') {
      throw usage(`sluice ${command}: option ${opt ?? ''} ${specs[(opt ?? '').replace(/^--/, '')]?.type === 'boolean' ? 'takes no value' : 'needs a value'}`, opt);
    }
    throw usage(`sluice ${command}: ${msg}`, opt);
  }
}

/**
 * Fill in options from a param file: `key = value` lines, `#` starts a comment at the start
 * of a line or after a blank (see paramValue: `comment = ticket #123` keeps its `#`), keys spelled as
 * on the command line (with or without --, aliases allowed). What the command line gave
 * wins, a switch turned off there (`--simulate=0`) included.
 */
export function applyParamFile(command: string, path: string, parsed: Parsed, specs: Record<string, OptionSpec>, aliases: Aliases): void {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    throw usage(`--param-file: cannot read ${path} (${(err as NodeJS.ErrnoException).code ?? String(err)})`, '--param-file');
  }
  text.split(/\r\n|\n|\r/).forEach((raw, k) => {
    const line = raw.trim();
    if (line === '' || line.startsWith('#')) return;
    const eq = line.indexOf('=');
    const where = `${path} line ${k + 1}`;
    if (eq <= 0) throw usage(`--param-file ${where}: expected "key = value", found "${line}"`, '--param-file');
    const key = line.slice(0, eq).trim().replace(/^--/, '');
    const value = paramValue(line.slice(eq + 1).trim());
    const canon = canonical(key, specs, aliases);
    const spec = specs[canon];
    if (!spec || canon === 'param-file') {
      throw usage(`--param-file ${where}: unknown key "${key}" (valid: ${Object.keys(specs).filter((s) => s !== 'param-file').join(', ')})`, '--param-file');
    }
    if (parsed[canon] !== undefined) return;
    parsed[canon] = spec.type === 'boolean' ? flagValue(command, key, value) : value;
  });
}

/**
 * A param file value: a quoted one is taken whole up to its closing quote; otherwise a `#`
 * after a blank and before a blank or the end of the line starts a comment
 * (`keys = email # the key`), and any other `#` is part of the value (`ticket #123`).
 */
function paramValue(text: string): string {
  const q = text[0];
  if (q === '"' || q === "'") {
    const close = text.indexOf(q, 1);
    if (close > 0 && /^\s*(#.*)?$/.test(text.slice(close + 1))) return text.slice(1, close);
  }
  return text.replace(/(^|\s)#(\s.*)?$/, '').trim();
}

export function helpText(command: string, synopsis: string, specs: Record<string, OptionSpec>, example: string, aliases: Aliases = {}): string {
  const lines = [`Usage: sluice ${command} ${synopsis}`, ''];
  const width = Math.max(...Object.entries(specs).map(([n, s]) => n.length + (s.value ? s.value.length + 1 : 0))) + 4;
  for (const [name, s] of Object.entries(specs)) {
    const left = `  --${name}${s.value ? ` ${s.value}` : ''}`;
    lines.push(`${left.padEnd(width + 2)} ${s.help}${s.default ? ` (default: ${s.default})` : ''}`);
  }
  const alias = Object.entries(aliases);
  if (alias.length > 0) {
    lines.push('', "Also accepted (iTop's names): " + alias.map(([a, c]) => `--${a} (--${c})`).join(', ') + '; --key=value and key=value forms; switches as --simulate=1.');
  }
  lines.push('', 'Example:', `  ${example}`, '');
  return lines.join('\n');
}

/** `show hr` and `show --name hr` alike: a first argument that is not an option is the name. */
export function withName(argv: string[]): string[] {
  const first = argv[0];
  return first !== undefined && !first.startsWith('-') && !first.includes('=') ? ['--name', first, ...argv.slice(1)] : argv;
}

/**
 * A command with subcommands (`sluice source add …`): the handler the first argument names,
 * the usage text without one (exit 2) or with --help (exit 0), an error naming the valid ones.
 */
export function subcommand<R extends number | Promise<number>>(command: string, argv: string[], handlers: Record<string, (rest: string[]) => R>, usage: string): R | number {
  const [sub, ...rest] = argv;
  if (sub === undefined || sub === '--help' || sub === '-h' || sub === 'help') {
    process.stdout.write(usage);
    return sub === undefined ? 2 : 0;
  }
  const handler = Object.hasOwn(handlers, sub) ? handlers[sub] : undefined;
  if (!handler) throw new SluiceError('E_USAGE', `sluice ${command}: unknown subcommand ${quoted(sub)} (valid: ${Object.keys(handlers).join(', ')})`);
  return handler(rest);
}
