import type { ProgressEvent } from './types.js';
import type { RunSummary } from './types.js';

export interface ProgressSink {
  update(p: ProgressEvent): void;
  done(s: RunSummary): void;
}

const NONE: ProgressSink = { update() {}, done() {} };

function clock(s: number): string {
  const m = Math.floor(s / 60);
  return `${m}:${String(Math.floor(s % 60)).padStart(2, '0')}`;
}

/** A one-line bar on a TTY: percent of bytes, rows/s and ETA; redrawn at most 10 times a second. */
function bar(out: NodeJS.WriteStream): ProgressSink {
  let last = 0;
  return {
    update(p) {
      const now = Date.now();
      if (now - last < 100) return;
      last = now;
      const rate = p.elapsedS > 0 ? Math.round(p.lines / p.elapsedS) : 0;
      const frac = p.totalBytes ? Math.min(1, p.bytesDone / p.totalBytes) : null;
      const width = 30;
      const filled = frac === null ? 0 : Math.round(frac * width);
      const eta = frac && frac > 0 ? clock((p.elapsedS / frac) * (1 - frac)) : '?';
      const pct = frac === null ? '' : `${(frac * 100).toFixed(0).padStart(3)}% `;
      out.write(`\r[${'#'.repeat(filled)}${'-'.repeat(width - filled)}] ${pct}${p.lines.toLocaleString('en-US')} rows ${rate.toLocaleString('en-US')} rows/s ETA ${eta}  `);
    },
    done() {
      out.write(`\r${' '.repeat(90)}\r`);
    },
  };
}

/** Newline-delimited JSON events for scripts. */
function json(out: NodeJS.WritableStream): ProgressSink {
  let started = false;
  return {
    update(p) {
      if (!started) {
        started = true;
        out.write(`${JSON.stringify({ event: 'start', total_bytes: p.totalBytes })}\n`);
      }
      const c = p.counts;
      out.write(
        `${JSON.stringify({ event: 'progress', bytes: p.bytesDone, total_bytes: p.totalBytes, lines: p.lines, created: c.created, updated: c.updated, unchanged: c.unchanged, deleted: c.deleted, skipped: c.skipped, errors: c.errors, elapsed_s: Number(p.elapsedS.toFixed(3)) })}\n`,
      );
    },
    done(s) {
      const c = s.counts;
      out.write(
        `${JSON.stringify({ event: 'done', outcome: s.outcome, lines: s.dataLines, created: c.created, updated: c.updated, unchanged: c.unchanged, deleted: c.deleted, skipped: c.skipped, errors: c.errors, warnings: c.warnings })}\n`,
      );
    },
  };
}

export function progressSink(kind: 'auto' | 'bar' | 'json' | 'none', err: NodeJS.WriteStream = process.stderr): ProgressSink {
  if (kind === 'json') return json(err);
  if (kind === 'bar' || (kind === 'auto' && err.isTTY)) return bar(err);
  return NONE;
}
