#!/usr/bin/env node
/** The `sluice` command: a thin adapter from arguments to the engine. */
import { SluiceError, exitCodeFor } from '../base/errors.js';
import { version } from '../base/version.js';

const USAGE = `Usage: sluice <command> [options]

Commands:
  init      create a database from a model (built-in: cmdb)
  import    import a CSV/TSV file into a class, reconciling every row
  export    write a class as CSV, TSV or JSON that import reads back
  schema    list the classes and attributes: what a header can name
  changes   list the import runs, newest first
  history   show what one run changed, attribute by attribute
  undo      revert a change from its history, as a change of its own
  source    define and inspect data sources: named feeds a sync applies
  sync      apply a data source's feed: create, update, and find each record's object
  serve     run the HTTP job service: uploads queued and imported one at a time
  token     create, list and revoke the tokens the HTTP job service accepts

Run "sluice <command> --help" for the options of a command.
`;

/** Each command's modules are loaded when it runs: a command pays only for its own start-up. */
async function main(argv: string[]): Promise<number> {
  const [command, ...rest] = argv;
  switch (command) {
    case undefined:
    case '--help':
    case '-h':
    case 'help':
      process.stdout.write(USAGE);
      return command === undefined ? 2 : 0;
    case '--version':
    case '-v':
      process.stdout.write(`sluice ${version()}\n`);
      return 0;
    case 'init':
      return (await import('./init.js')).initCommand(rest);
    case 'import':
      return (await import('./import.js')).importCommand(rest);
    case 'export':
      return (await import('./export.js')).exportCommand(rest);
    case 'schema':
      return (await import('./schema.js')).schemaCommand(rest);
    case 'changes':
      return (await import('./changes.js')).changesCommand(rest);
    case 'history':
      return (await import('./changes.js')).historyCommand(rest);
    case 'undo':
      return (await import('./undo.js')).undoCommand(rest);
    case 'source':
      return (await import('./source.js')).sourceCommand(rest);
    case 'sync':
      return (await import('./sync.js')).syncCommand(rest);
    case 'token':
      return (await import('./token.js')).tokenCommand(rest);
    case 'serve':
      // Loaded on demand: the HTTP framework is not worth its start-up time to the other commands.
      return (await import('./serve.js')).serveCommand(rest);
    default:
      throw new SluiceError('E_USAGE', `unknown command "${command}" (valid: init, import, export, schema, changes, history, undo, source, sync, serve, token; see sluice --help)`);
  }
}

/** Bad input never shows a stack trace: only internal errors do, under SLUICE_DEBUG. */
export function reportError(err: unknown): number {
  const e = err instanceof SluiceError ? err : new SluiceError('E_INTERNAL', (err as Error)?.message ?? String(err), { cause: err });
  process.stderr.write(`sluice: ${e.message}\n`);
  if (process.env.SLUICE_DEBUG && err instanceof Error) process.stderr.write(`${err.stack}\n`);
  return exitCodeFor(e);
}

// A reader that goes away (`sluice … | head`) is not an error worth a message.
process.stdout.on('error', (err: NodeJS.ErrnoException) => {
  if (err.code === 'EPIPE') process.exit(process.exitCode ?? 0);
  throw err;
});

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (err: unknown) => {
    process.exitCode = reportError(err);
  },
);
