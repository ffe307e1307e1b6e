import { parseArgs } from 'node:util';
import { SluiceError } from '../engine/errors.js';

export interface OptionSpec {
  type: 'string' | 'boolean';
  /** what the help text shows */
  help: string;
  value?: string;
  default?: string;
}

export type Parsed = Record<string, string | boolean | undefined>;

/** Parse `argv` against a command's options; an unknown or malformed option is a usage error. */
export function parseCommand(command: string, argv: string[], specs: Record<string, OptionSpec>): Parsed {
  const options: Record<string, { type: 'string' | 'boolean' }> = { help: { type: 'boolean' } };
  for (const [name, s] of Object.entries(specs)) options[name] = { type: s.type };
  try {
    const { values, positionals } = parseArgs({ args: argv, options, strict: true, allowPositionals: true });
    if (positionals.length > 0) {
      throw new SluiceError('E_USAGE', `sluice ${command}: unexpected argument "${positionals[0]}" (options start with --; see sluice ${command} --help)`);
    }
    return values as Parsed;
  } catch (err) {
    if (err instanceof SluiceError) throw err;
    const msg = (err as Error).message;
    const m = /'(--?[\w-]+)/.exec(msg);
    const opt = m?.[1];
    if ((err as { code?: string }).code === 'ERR_PARSE_ARGS_UNKNOWN_OPTION') {
      throw new SluiceError('E_USAGE', `sluice ${command}: unknown option ${opt ?? ''} (valid: ${Object.keys(specs).map((k) => `--${k}`).join(', ')})`, { option: opt });
    }
    if ((err as { code?: string }).code === 'ERR_PARSE_ARGS_INVALID_OPTION_VALUE') {
      throw new SluiceError('E_USAGE', `sluice ${command}: option ${opt ?? ''} ${specs[(opt ?? '').replace(/^--/, '')]?.type === 'boolean' ? 'takes no value' : 'needs a value'}`, { option: opt });
    }
    throw new SluiceError('E_USAGE', `sluice ${command}: ${msg}`, { option: opt });
  }
}

export function helpText(command: string, synopsis: string, specs: Record<string, OptionSpec>, example: string): string {
  const lines = [`Usage: sluice ${command} ${synopsis}`, ''];
  const width = Math.max(...Object.entries(specs).map(([n, s]) => n.length + (s.value ? s.value.length + 1 : 0))) + 4;
  for (const [name, s] of Object.entries(specs)) {
    const left = `  --${name}${s.value ? ` ${s.value}` : ''}`;
    lines.push(`${left.padEnd(width + 2)} ${s.help}${s.default ? ` (default: ${s.default})` : ''}`);
  }
  lines.push('', 'Example:', `  ${example}`, '');
  return lines.join('\n');
}
