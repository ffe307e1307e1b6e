/** Recent jobs and changes: each job's report, and each change's undo with its own simulation first. */
import { type ChangeEntry, type Classes, getJson, type JobEntry, type JobState, postJson } from './api.js';
import { clear, errorLine, h, say, when } from './dom.js';
import { STATUSES, countOf, reportPanel, waitForJob } from './report.js';

function countsText(r: { created: number; updated: number; unchanged: number; deleted: number; skipped: number; errors: number } | null): string {
  if (r === null) return '';
  return STATUSES.map((s) => [s, countOf(r, s)] as const)
    .filter(([, n]) => n > 0)
    .map(([s, n]) => `${n} ${s}`)
    .join(', ') || 'no rows';
}

export class HistoryView {
  constructor(
    private readonly host: HTMLElement,
    private readonly classes: () => Classes,
  ) {}

  async show(): Promise<void> {
    const err = errorLine();
    const refresh = h('button', { type: 'button' }, 'Refresh');
    refresh.addEventListener('click', () => void this.show());
    const jobsHost = h('div', { id: 'jobs' }, h('p', { class: 'hint' }, 'Reading the jobs…'));
    const changesHost = h('div', { id: 'changes' }, h('p', { class: 'hint' }, 'Reading the changes…'));
    clear(this.host, h('div', { class: 'actions' }, refresh), err, h('h3', {}, 'Recent jobs'), jobsHost, h('h3', {}, 'Recent changes'), changesHost);
    try {
      const [jobs, changes] = await Promise.all([getJson<{ jobs: JobEntry[] }>('/v1/jobs?limit=50'), getJson<{ changes: ChangeEntry[]; total: number }>('/v1/changes?limit=50')]);
      this.jobs(jobsHost, jobs.jobs);
      this.changes(changesHost, changes.changes, changes.total);
    } catch (e) {
      say(err, `The history could not be read: ${(e as Error).message}`);
    }
  }

  private jobs(host: HTMLElement, jobs: JobEntry[]): void {
    if (jobs.length === 0) {
      clear(host, h('p', { class: 'hint' }, 'No job yet (finished jobs are kept for the server\'s --retention).'));
      return;
    }
    const body = h('tbody');
    for (const j of jobs) {
      const detail = h('tr', { hidden: true }, h('td', { colspan: 7 }));
      const open = h('button', { type: 'button', 'aria-expanded': 'false', disabled: j.state === 'queued' || j.state === 'processing' }, 'Report');
      open.addEventListener('click', () => void this.toggleReport(j, open, detail));
      const what = j.kind === 'undo' ? `undo of change ${j.undoOf}` : `${j.kind}${j.action !== 'upsert' ? ` (${j.action})` : ''}`;
      body.append(
        h(
          'tr',
          { class: j.state === 'error' ? 'bad' : null },
          h('td', {}, when(j.createdAt)),
          h('td', {}, what, j.simulate ? ' ' : null, j.simulate ? h('span', { class: 'status' }, 'simulated') : null),
          h('td', {}, j.class),
          h('td', {}, j.fileName),
          h('td', {}, h('span', { class: `status status-${j.state === 'error' ? 'error' : 'unchanged'}` }, j.state === 'processing' ? `processing, line ${j.line ?? 0}` : j.state)),
          h('td', {}, j.state === 'error' ? (j.message ?? '') : countsText(j.results)),
          h('td', {}, open),
        ),
        detail,
      );
    }
    clear(host, h('div', { class: 'scroll' }, h('table', {}, h('thead', {}, h('tr', {}, ...['When', 'What', 'Class', 'File', 'State', 'Outcome', ''].map((t) => h('th', { scope: 'col' }, t)))), body)));
  }

  private async toggleReport(j: JobEntry, button: HTMLButtonElement, row: HTMLTableRowElement): Promise<void> {
    const cell = row.firstElementChild as HTMLElement;
    if (!row.hidden) {
      row.hidden = true;
      button.setAttribute('aria-expanded', 'false');
      return;
    }
    row.hidden = false;
    button.setAttribute('aria-expanded', 'true');
    clear(cell, h('p', { class: 'hint' }, 'Reading the report…'));
    const err = errorLine();
    try {
      const st = await getJson<JobState>(`/v1/import/${j.token}`);
      if (st.state !== 'done' && st.state !== 'error') {
        clear(cell, h('p', {}, `The job is ${st.state}.`));
        return;
      }
      clear(cell, await reportPanel(j.token, st, j.kind === 'undo' ? 'The undo' : j.simulate ? 'The simulation' : 'The import'));
    } catch (e) {
      clear(cell, err);
      say(err, `The report could not be read: ${(e as Error).message}`);
    }
  }

  private changes(host: HTMLElement, changes: ChangeEntry[], total: number): void {
    if (changes.length === 0) {
      clear(host, h('p', { class: 'hint' }, 'No change recorded yet.'));
      return;
    }
    const canImport = this.classes().canImport;
    const body = h('tbody');
    for (const c of changes) {
      const panel = h('tr', { hidden: true }, h('td', { colspan: 8 }));
      const undoable = canImport && c.outcome === 'committed' && c.undone_by === null;
      const open = h('button', { type: 'button', 'aria-expanded': 'false', 'data-change': c.id }, 'Undo…');
      open.addEventListener('click', () => {
        panel.hidden = !panel.hidden;
        open.setAttribute('aria-expanded', String(!panel.hidden));
        if (!panel.hidden) this.undoPanel(panel.firstElementChild as HTMLElement, c);
      });
      body.append(
        h(
          'tr',
          {},
          h('td', { class: 'num' }, c.id),
          h('td', {}, when(c.started_at)),
          h('td', {}, c.class),
          h('td', {}, c.action),
          h('td', {}, c.outcome, c.undone_by !== null ? ` (undone by change ${c.undone_by})` : ''),
          h('td', {}, countsText(c)),
          h('td', {}, c.file, c.comment ? h('p', { class: 'hint' }, c.comment) : null),
          h('td', {}, undoable ? open : ''),
        ),
        panel,
      );
    }
    clear(
      host,
      h('div', { class: 'scroll' }, h('table', {}, h('thead', {}, h('tr', {}, ...['Change', 'When', 'Class', 'Action', 'Outcome', 'Rows', 'File', ''].map((t) => h('th', { scope: 'col' }, t)))), body)),
      total > changes.length ? h('p', { class: 'hint' }, `The ${changes.length} most recent of ${total} changes.`) : null,
    );
  }

  /** Undo a change: simulated first, then for real, each with its outcome said. */
  private undoPanel(cell: HTMLElement, c: ChangeEntry): void {
    const out = h('div', { 'aria-live': 'polite' });
    const err = errorLine();
    const force = h('input', { type: 'checkbox', id: `force-${c.id}` });
    const sim = h('button', { type: 'button' }, `Simulate the undo of change ${c.id}`);
    const real = h('button', { type: 'button', class: 'danger', disabled: true }, `Undo change ${c.id}`);
    const run = async (simulate: boolean): Promise<void> => {
      say(err, null);
      sim.disabled = true;
      real.disabled = true;
      clear(out, h('p', { class: 'hint' }, simulate ? 'Simulating…' : 'Undoing…'));
      try {
        const q = new URLSearchParams();
        if (simulate) q.set('simulate', '1');
        if (force.checked) q.set('force', '1');
        const { token } = await postJson<{ token: string }>(`/v1/changes/${c.id}/undo?${q.toString()}`);
        const st = await waitForJob(token, () => undefined);
        clear(out, await reportPanel(token, st, simulate ? 'The simulated undo' : 'The undo'));
        if (simulate && st.state === 'done') real.disabled = false;
        if (!simulate && st.state === 'done') void this.show();
      } catch (e) {
        clear(out);
        say(err, `The undo could not run: ${(e as Error).message}`);
      } finally {
        sim.disabled = false;
      }
    };
    sim.addEventListener('click', () => void run(true));
    real.addEventListener('click', () => void run(false));
    clear(
      cell,
      h('p', {}, `Undoing change ${c.id} deletes the objects it created, restores those it updated and recreates those it deleted. Simulate it first: the undo is enabled once its simulation succeeds.`),
      h('label', { class: 'inline', for: `force-${c.id}` }, force, 'Revert what does not conflict with later changes, and report the rest'),
      h('div', { class: 'actions' }, sim, real),
      err,
      out,
    );
  }
}
