/** A job's report: counts per status with filters, the rows, and its log to download. */
import { ApiError, download, getJson, type JobState, type Report, type ReportRow, type Results } from './api.js';
import { clear, errorLine, h, nextId, say, sleep } from './dom.js';

export const STATUSES = ['created', 'updated', 'unchanged', 'deleted', 'skipped', 'error'] as const;
type Status = (typeof STATUSES)[number];

/** Rows fetched into the page at most; a larger report is counted and downloaded, not listed. */
const MAX_REPORT_ROWS = 50_000;
/** Rows listed at once. */
const SHOWN_ROWS = 500;

/** How often a running job is asked where it stands. */
const POLL_MS = 400;

export function countOf(r: Results, s: Status): number {
  return s === 'error' ? r.errors : r[s];
}

export function totalOf(r: Results): number {
  return r.created + r.updated + r.unchanged + r.deleted + r.skipped + r.errors;
}

/** Poll a job until it has ended, telling `onState` each answer. */
export async function waitForJob(token: string, onState: (s: JobState) => void): Promise<JobState & { state: 'done' | 'error' }> {
  for (;;) {
    const s = await getJson<JobState>(`/v1/import/${token}`);
    onState(s);
    if (s.state === 'done' || s.state === 'error') return s;
    await sleep(POLL_MS);
  }
}

function statusBadge(s: string): HTMLElement {
  return h('span', { class: `status status-${s}` }, s);
}

function rowMessage(r: ReportRow): string {
  const parts: string[] = [];
  if (r.message) parts.push(r.message);
  if (r.changed && r.changed.length > 0) parts.push(`changed: ${r.changed.join(', ')}`);
  if (r.warnings) parts.push(...r.warnings.map((w) => `warning: ${w}`));
  return parts.join('; ');
}

/** The buttons that download a finished job's log as CSV or JSON; a failure is said beside them. */
export function downloads(token: string, label: string): HTMLElement {
  const err = errorLine();
  const get = (format: 'csv' | 'json') => async (): Promise<void> => {
    say(err, null);
    try {
      await download(`/v1/import/${token}/log?format=${format}`, `sluice-report-${token.slice(0, 8)}.${format}`);
    } catch (e) {
      say(err, `The report could not be downloaded: ${(e as Error).message}`);
    }
  };
  return h(
    'div',
    { class: 'actions' },
    h('button', { type: 'button', onclick: get('csv') }, `Download ${label} (CSV)`),
    h('button', { type: 'button', onclick: get('json') }, `Download ${label} (JSON)`),
    err,
  );
}

/**
 * The report of an ended job: the outcome in words, a count per status (each a filter of the
 * rows listed), the rows with their line and message, and the log to download.
 */
export async function reportPanel(token: string, st: JobState & { state: 'done' | 'error' }, what: string): Promise<HTMLElement> {
  const panel = h('div', { class: 'report' });
  if (st.state === 'error') {
    panel.append(h('div', { class: 'error-box', role: 'alert' }, h('strong', {}, `${what} stopped: `), st.message));
  } else {
    panel.append(h('div', { class: 'ok-box', role: 'status' }, `${what} finished.`, st.message ? ` ${st.message}` : ''));
  }
  let report: Report | null = null;
  const err = errorLine();
  if (st.logfile && totalOf(st.results) <= MAX_REPORT_ROWS) {
    try {
      report = await getJson<Report>(`/v1/import/${token}/log?format=json`);
    } catch (e) {
      say(err, `The report could not be read: ${e instanceof ApiError ? e.message : String(e)}`);
    }
  }
  const results = st.results;
  const shown = new Set<Status>(STATUSES.filter((s) => s !== 'unchanged'));
  const body = h('tbody');
  const note = h('p', { class: 'hint', 'aria-live': 'polite' });
  const render = (): void => {
    if (!report) return;
    const rows = report.rows.filter((r) => shown.has(r.status));
    clear(
      body,
      ...rows.slice(0, SHOWN_ROWS).map((r) =>
        h('tr', { class: r.status === 'error' ? 'bad' : null }, h('td', { class: 'num' }, r.line), h('td', {}, statusBadge(r.status)), h('td', { class: 'num' }, r.id ?? ''), h('td', {}, rowMessage(r))),
      ),
    );
    note.textContent = rows.length === 0 ? 'No row has the statuses chosen.' : rows.length > SHOWN_ROWS ? `The first ${SHOWN_ROWS} of ${rows.length} rows are listed; the downloads hold them all.` : `${rows.length} row${rows.length === 1 ? '' : 's'} listed.`;
  };
  const counts = h('ul', { class: 'counts', 'aria-label': 'Rows per status' });
  for (const s of STATUSES) {
    const id = nextId(`show-${s}`);
    const box = h('input', { type: 'checkbox', id, checked: shown.has(s), disabled: !report, 'data-status': s });
    box.addEventListener('change', () => {
      if (box.checked) shown.add(s);
      else shown.delete(s);
      render();
    });
    counts.append(h('li', {}, h('strong', { 'data-count': s }, countOf(results, s)), report ? h('label', { class: 'inline', for: id }, box, `show ${s}`) : s));
  }
  panel.append(counts);
  if (report) {
    if (report.warnings > 0) panel.append(h('p', { class: 'hint' }, `${report.warnings} row${report.warnings === 1 ? '' : 's'} with warnings.`));
    panel.append(
      h('div', { class: 'scroll' }, h('table', {}, h('caption', { class: 'hint' }, `${what}: rows by line`), h('thead', {}, h('tr', {}, h('th', { class: 'num', scope: 'col' }, 'Line'), h('th', { scope: 'col' }, 'Status'), h('th', { class: 'num', scope: 'col' }, 'Id'), h('th', { scope: 'col' }, 'Message'))), body)),
      note,
    );
    render();
  } else if (st.logfile) {
    panel.append(h('p', { class: 'hint' }, 'The report has too many rows to list here; download it.'));
  }
  panel.append(err);
  if (st.logfile) panel.append(downloads(token, 'the report'));
  return panel;
}
