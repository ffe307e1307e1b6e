/**
 * Run one contestant as a child process and measure it from outside: wall time from spawn
 * to exit, and peak RSS from the kernel's high-water mark, so every contestant (Node or
 * not) is measured the same way.
 */
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';

export interface Measured {
  command: string;
  exitCode: number | null;
  signal: NodeJS.Signals | null;
  wallS: number;
  /** VmHWM of the process, null when it exited before the first sample */
  peakRssBytes: number | null;
  /** the start of stdout, up to `stdoutLimit` bytes */
  stdout: string;
  stdoutBytes: number;
  /** the end of stderr */
  stderr: string;
}

export interface MeasureOptions {
  cwd?: string;
  env?: NodeJS.ProcessEnv;
  /** keep at most this many bytes of stdout (a report can list every row) */
  stdoutLimit?: number;
  /** RSS sampling period */
  pollMs?: number;
}

const STDERR_TAIL = 16 * 1024;

/** VmHWM in bytes, or null when the process is gone (or is a zombie without memory lines). */
export function readPeakRss(pid: number): number | null {
  let status: string;
  try {
    status = readFileSync(`/proc/${pid}/status`, 'latin1');
  } catch {
    return null;
  }
  const m = /^VmHWM:\s+(\d+)\s+kB/m.exec(status);
  return m ? Number(m[1]) * 1024 : null;
}

export function measure(command: string, args: string[], opts: MeasureOptions = {}): Promise<Measured> {
  const limit = opts.stdoutLimit ?? 1 << 20;
  return new Promise((resolve, reject) => {
    const started = process.hrtime.bigint();
    const child = spawn(command, args, { cwd: opts.cwd, env: opts.env ?? process.env, stdio: ['ignore', 'pipe', 'pipe'] });
    let peak: number | null = null;
    const sample = (): void => {
      if (child.pid === undefined) return;
      const v = readPeakRss(child.pid);
      // The high-water mark only grows; a failed read (the process just exited) keeps the last one.
      if (v !== null && (peak === null || v > peak)) peak = v;
    };
    sample();
    const timer = setInterval(sample, opts.pollMs ?? 50);

    const out: Buffer[] = [];
    let outKept = 0;
    let outBytes = 0;
    child.stdout.on('data', (d: Buffer) => {
      outBytes += d.length;
      if (outKept < limit) {
        const piece = d.subarray(0, limit - outKept);
        out.push(piece);
        outKept += piece.length;
      }
    });
    let err = '';
    child.stderr.setEncoding('utf8').on('data', (d: string) => {
      err += d;
      if (err.length > 2 * STDERR_TAIL) err = err.slice(-STDERR_TAIL);
    });

    let exited: { code: number | null; signal: NodeJS.Signals | null; wallS: number } | null = null;
    child.on('exit', (code, signal) => {
      exited = { code, signal, wallS: Number(process.hrtime.bigint() - started) / 1e9 };
      clearInterval(timer);
    });
    child.on('error', (e) => {
      clearInterval(timer);
      reject(e);
    });
    // 'close' comes after 'exit' once the pipes are drained: only then is stdout complete.
    child.on('close', () => {
      const e = exited ?? { code: child.exitCode, signal: child.signalCode, wallS: Number(process.hrtime.bigint() - started) / 1e9 };
      resolve({
        command: [command, ...args].join(' '),
        exitCode: e.code,
        signal: e.signal,
        wallS: e.wallS,
        peakRssBytes: peak,
        stdout: Buffer.concat(out).toString('utf8'),
        stdoutBytes: outBytes,
        stderr: err.slice(-STDERR_TAIL),
      });
    });
  });
}
