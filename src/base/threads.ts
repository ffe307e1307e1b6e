/**
 * How the run's threads are sized: the V8 heaps of the pool's workers and of the writer,
 * and the frames they are handed.
 */

/**
 * Heap limits of the pool's workers (and, with a smaller young generation, of the writer
 * thread: WRITER_RESOURCE_LIMITS). Their garbage is short-lived
 * (a frame's cells, strings and arrays die once the frame is applied), and a young
 * generation of 16 MB, half V8's default, holds it: each thread keeps 16 MB less in its
 * heap, and with frames small enough to die young it costs no time (measured at 1M rows).
 */
export const THREAD_RESOURCE_LIMITS = { maxOldGenerationSizeMb: 256, maxYoungGenerationSizeMb: 16 } as const;

/**
 * The writer thread's: it parses nothing, and its garbage per row (a chunk's decoded
 * columns, the row being bound) is smaller than a worker's. Half the workers' young
 * generation took the same time on the initial load and the nightly reload of 1M rows,
 * and the nightly reload's peak went down by 15 to 20 MiB.
 */
export const WRITER_RESOURCE_LIMITS = { maxOldGenerationSizeMb: 256, maxYoungGenerationSizeMb: 8 } as const;

/** `--frame-bytes` when not given. */
export const DEFAULT_FRAME_BYTES = 64 * 1024;

/**
 * `--frame-bytes` when not given, into PostgreSQL: a frame is a block of set-wise lookups
 * and writes there. A block's writes go while the next is decided, so its round trips cost
 * little; its rows live on the run's thread until it is written, and a smaller block keeps
 * them young. On a 1,000,000-row initial load, 256 KiB frames used 11.3 s of the client's
 * CPU where 1 MiB frames used 17.7 s; 128 KiB ones used less still but made more work for
 * the server.
 */
export const PG_FRAME_BYTES = 256 * 1024;

/**
 * How far frames into PostgreSQL grow when most of their rows are matched by fingerprint: to
 * 8 MiB from 256 KiB. A matched row costs a hash, and a nightly reload of 1,000,000 rows in
 * 2 MiB frames (eight times 256 KiB) took 5.2 s, against 4.2 s in 8 MiB ones.
 */
export const PG_MAX_FRAME_GROWTH = 32;

/** Bytes of one read of the input file. */
export const READ_BYTES = 64 * 1024;

/** How far frames grow when most of their rows are matched by fingerprint. */
export const MAX_FRAME_GROWTH = 8;

/**
 * The size to aim for in the next frames, from the last applied chunk. `--frame-bytes` is
 * meant for rows the workers parse and map: such a row leaves many short-lived objects,
 * and small frames keep them young. A row matched by fingerprint costs almost nothing
 * (its bytes are hashed, never parsed), so a frame of such rows is mostly fixed cost
 * (messages, serialization): frames grow with the share of those rows, up to
 * MAX_FRAME_GROWTH times, and shrink back when parsed rows return.
 */
export function frameTarget(frameBytes: number, rows: number, hits: number, maxGrowth = MAX_FRAME_GROWTH): number {
  if (rows <= 0) return frameBytes;
  const parsed = Math.max((rows - hits) / rows, 1 / maxGrowth);
  return Math.round(frameBytes / parsed);
}

/**
 * Heap limits of the thread a CLI import runs on (engine/coordinator.ts): it reads, frames
 * and re-sequences, and its garbage is the framework's (streams, promises, messages) and
 * the 64 KiB read buffers, which are freed only when a scavenge finds them dead. On the
 * main thread V8 grows the young generation with the bytes that survive its scavenges, so
 * with the length of the run: 8 MB at 1M rows, 32 MB at 10M, and with it the dead read
 * buffers held between scavenges (the allocator's heap grew from 13 MiB to 36 MiB). A
 * 6 MB young generation (2 MB semi-spaces) keeps both at their size whatever the file.
 */
export const COORDINATOR_RESOURCE_LIMITS = { maxOldGenerationSizeMb: 256, maxYoungGenerationSizeMb: 6 } as const;

/**
 * The run's thread of an import into PostgreSQL, which parses, maps and decides every row
 * itself (store/postgres/import.ts): a block's rows (256 KiB of input and more) live until the server
 * has answered for them, more than 2 MB semi-spaces hold, so each scavenge promoted them
 * and old-generation collections took 40 % of the thread's time. 48 MB (16 MB semi-spaces)
 * let them die young.
 */
export const PG_IMPORT_RESOURCE_LIMITS = { maxOldGenerationSizeMb: 256, maxYoungGenerationSizeMb: 48 } as const;

/**
 * Piscina loads a worker module with require() first. Where Node can require() an ES
 * module, two workers doing so at once can abort the process ("IsGraphAsync must be used
 * on an instantiated module", seen with --workers 2); without it Piscina falls back to
 * import(), which is safe.
 */
export const WORKER_EXEC_ARGV = [
  ...process.execArgv,
  ...((process.features as { require_module?: boolean }).require_module ? ['--no-experimental-require-module'] : []),
];
