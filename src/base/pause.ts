/**
 * Pause points, for tests that must act while a run is at a known step (cancel it, kill it)
 * without relying on the run being slow. With `SLUICE_TEST_PAUSE=<point>:<file>`, a thread
 * that reaches `<point>` while `<file>` exists writes `<file>.reached` and waits until the
 * test removes `<file>`. Without the variable a pause point is one comparison.
 */
import { existsSync, writeFileSync } from 'node:fs';

const spec = process.env.SLUICE_TEST_PAUSE ?? '';
const colon = spec.indexOf(':');
const POINT = colon > 0 ? spec.slice(0, colon) : null;
const FILE = colon > 0 ? spec.slice(colon + 1) : '';

/** The points there are. */
export type PausePoint =
  /** after the writer commits a chunk (`--chunk-size`) */
  | 'chunk-committed'
  /** after an import has a frame's rows applied and reports them, its transaction open */
  | 'frame-applied'
  /** once an undo in PostgreSQL holds the writer lock and its transaction is open, before it reads the change */
  | 'undo-begun';

export function pausePoint(name: PausePoint): void {
  if (POINT !== name || !existsSync(FILE)) return;
  writeFileSync(`${FILE}.reached`, '');
  const cell = new Int32Array(new SharedArrayBuffer(4));
  while (existsSync(FILE)) Atomics.wait(cell, 0, 0, 20);
}
