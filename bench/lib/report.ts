/** A scenario's figures as an aligned plain-text table, and as JSON under bench/results/. */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { DEFAULT_ROWS } from '../../fixtures/generate.js';
import { type ScenarioResult, type TargetResult, localDate } from './scenario.js';

const int = (n: number): string => Math.round(n).toLocaleString('en-US');
const mb = (b: number | null): string => (b === null ? '-' : (b / (1024 * 1024)).toFixed(1));

export function table(head: string[], rows: string[][], alignLeft: number[]): string {
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: string[]): string =>
    cells
      .map((c, i) => (alignLeft.includes(i) ? c.padEnd(widths[i] as number) : c.padStart(widths[i] as number)))
      .join('  ')
      .trimEnd();
  return [line(head), line(widths.map((w) => '-'.repeat(w))), ...rows.map(line)].join('\n');
}

/** met / MISSED / not measured, and against whom when the scenario chose the peer. */
export function verdict(t: TargetResult): string {
  const v = t.met === null ? 'not measured' : t.met ? 'met' : 'MISSED';
  return t.against ? `${v} — against ${t.against}` : v;
}

export function formatScenario(r: ScenarioResult): string {
  const rounds = r.contestants.some((c) => c.walls_s.length > 1);
  const rows = r.contestants.map((c) => [
    c.label,
    c.error ? 'FAILED' : c.wall_s.toFixed(2),
    c.error ? '-' : int(c.rows_per_s),
    mb(c.peak_rss_bytes),
    c.person_rows === null ? '-' : int(c.person_rows),
    ...(rounds ? [c.walls_s.map((w) => w.toFixed(2)).join(' ')] : []),
  ]);
  const head = [rounds ? 'wall s (median)' : 'wall s', 'rows/s', 'peak RSS MiB', 'Person rows', ...(rounds ? ['rounds, wall s'] : [])];
  const out = [
    `== ${r.title}: ${r.rows.toLocaleString('en-US')} rows, ${(r.file_bytes / 1e6).toFixed(1)} MB`,
    table(['contestant', ...head], rows, rounds ? [0, head.length] : [0]),
    '',
  ];
  const ratioLines: [string, number | null | undefined][] = [
    ['sluice / peer A, wall', r.ratios.sluice_vs_peer_a_wall],
    ['sluice / peer A′, wall', r.ratios.sluice_vs_peer_a_min_wall],
    ['sluice / peer B, wall', r.ratios.sluice_vs_peer_b_wall],
    ['sluice / peer P, wall', r.ratios.sluice_vs_peer_p_wall],
    ['sluice / peer A, peak RSS', r.ratios.sluice_vs_peer_a_rss],
    ['sluice / peer A′, peak RSS', r.ratios.sluice_vs_peer_a_min_rss],
    ['sluice / peer B, peak RSS', r.ratios.sluice_vs_peer_b_rss],
    ['sluice / peer P, peak RSS', r.ratios.sluice_vs_peer_p_rss],
    ['sync / import, wall', r.ratios.sync_vs_import_wall ?? null],
    ['serve / import, wall', r.ratios.serve_vs_import_wall ?? null],
    ['serve / import --log, wall', r.ratios.serve_vs_import_log_wall ?? null],
    ['sluice rate / parse-only rate', r.ratios.sluice_rate_vs_parse_only],
  ];
  for (const [label, v] of ratioLines) if (v !== undefined && v !== null) out.push(`${label.padEnd(30)} ${v.toFixed(2)}`);
  for (const t of r.targets) out.push(`target: ${t.label.padEnd(40)} ${t.value === null ? '-' : t.value.toFixed(2)}  (limit ${t.limit.toFixed(2)})  ${verdict(t)}`);
  const sl = r.contestants.find((c) => c.id === 'sluice')?.report;
  if (sl) {
    out.push(
      `sluice report: lines ${String(sl.lines)}, created ${String(sl.created)}, updated ${String(sl.updated)}, unchanged ${String(sl.unchanged)}, errors ${String(sl.errors)}, its own rows/s ${String(sl.rows_per_s)}`,
    );
  }
  for (const w of r.warnings) out.push(`WARNING: ${w}`);
  const m = r.machine;
  out.push(`machine: ${m.cpus} × ${m.cpu_model}, node ${m.node}, sqlite3 CLI ${m.sqlite_cli}, better-sqlite3 SQLite ${m.sqlite_library}, load average ${m.load_average_1m}`);
  out.push(`source: ${r.revision}; start: ${r.start}`);
  return out.join('\n') + '\n';
}

/**
 * bench/results/<YYYY-MM-DD>-<scenario>.json; a later run the same day replaces it. Runs at
 * another size than the contract's get the size in the name, so a quick trial never replaces
 * the figures the contract is judged on.
 */
export function resultName(r: Pick<ScenarioResult, 'date' | 'scenario' | 'rows'>): string {
  const standard = r.scenario === 'memory' || r.rows === DEFAULT_ROWS;
  return `${localDate(new Date(r.date))}-${r.scenario}${standard ? '' : `-${r.rows}`}.json`;
}

export function writeResult(dir: string, r: ScenarioResult): string {
  mkdirSync(dir, { recursive: true });
  const path = join(dir, resultName(r));
  writeFileSync(path, JSON.stringify(r, null, 2) + '\n');
  return path;
}
