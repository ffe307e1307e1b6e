/**
 * The import wizard: class → file → preview (mapping, keys, how the file is read) →
 * simulate → import. Each step says the service's errors beside the control that caused them.
 */
import { ApiError, type Classes, type ClassInfo, type JobState, type Preview, postJson, upload } from './api.js';
import { bytes, byId, clear, errorLine, focus, h, nextId, say } from './dom.js';
import { reportPanel, waitForJob } from './report.js';

/** The start of a file that a preview reads: enough for its first rows, however large the file. */
const PREVIEW_SLICE = 256 * 1024;

type Step = 'class' | 'file' | 'preview' | 'simulate' | 'run';
const STEPS: Step[] = ['class', 'file', 'preview', 'simulate', 'run'];

interface ReadOptions {
  format: 'auto' | 'csv' | 'json';
  /** '' = detect */
  separator: string;
  qualifier: string;
  /** '' = UTF-8 or what a byte-order mark says */
  charset: string;
  /** '' = ISO 8601 */
  dateFormat: string;
  action: string;
  noStopOnError: boolean;
  comment: string;
  /** null = the class's default keys */
  keys: string[] | null;
}

const SEPARATORS: [string, string][] = [
  ['', 'detect'],
  [',', 'comma ,'],
  [';', 'semicolon ;'],
  ['tab', 'tab'],
  ['|', 'pipe |'],
];
const CHARSETS = ['UTF-8', 'UTF-16LE', 'UTF-16BE', 'ISO-8859-1', 'ISO-8859-15', 'WINDOWS-1252', 'WINDOWS-1251'];
const ACTIONS: [string, string][] = [
  ['upsert', 'create or update (upsert)'],
  ['insert', 'create only (insert)'],
  ['update', 'update only (update)'],
  ['delete', 'delete the matching objects (delete)'],
];

export class ImportWizard {
  private step: Step = 'class';
  private cls: ClassInfo | null = null;
  private file: File | null = null;
  /** what is uploaded: the file, with its header rewritten when a column was mapped anew */
  private body: Blob | null = null;
  private opts: ReadOptions = freshOptions();
  /** column index → the header it is given instead of the file's */
  private renames = new Map<number, string>();
  private preview: Preview | null = null;
  /** the preview of the file as it is (its header as written) */
  private original: Preview | null = null;
  /** data lines the simulation counted: the run's progress is measured against them */
  private simLines = 0;

  constructor(
    private readonly host: HTMLElement,
    private readonly classes: () => Classes,
  ) {}

  start(): void {
    this.show('class');
  }

  private show(step: Step): void {
    this.step = step;
    const steps = byId('steps');
    for (const li of Array.from(steps.children) as HTMLElement[]) {
      const s = li.dataset.step as Step;
      if (s === step) li.setAttribute('aria-current', 'step');
      else li.removeAttribute('aria-current');
      li.classList.toggle('done', STEPS.indexOf(s) < STEPS.indexOf(step));
    }
    switch (step) {
      case 'class':
        return this.classStep();
      case 'file':
        return this.fileStep();
      case 'preview':
        return this.previewStep();
      case 'simulate':
        return void this.jobStep(true);
      case 'run':
        return void this.jobStep(false);
    }
  }

  private heading(text: string): HTMLHeadingElement {
    return h('h3', { id: `step-${this.step}-title` }, text);
  }

  private mount(...children: (Node | null)[]): void {
    clear(this.host, ...children);
    const title = this.host.querySelector('h3');
    if (title) focus(title);
  }

  // 1. The class.
  private classStep(): void {
    const c = this.classes();
    const title = this.heading('1. Choose the class to import into');
    if (!c.canImport) {
      this.mount(title, h('p', { class: 'note', role: 'status' }, `The token "${c.name}" is a reader: it may read jobs and export, not import.`));
      return;
    }
    if (c.classes.length === 0) {
      this.mount(title, h('p', { class: 'note', role: 'status' }, `The token "${c.name}" may touch no class of this database's model.`));
      return;
    }
    const id = nextId('class');
    const select = h('select', { id, 'aria-describedby': `${id}-hint` });
    for (const k of c.classes) select.append(h('option', { value: k.name, selected: this.cls?.name === k.name }, k.label === k.name ? k.name : `${k.label} (${k.name})`));
    const hint = h('p', { class: 'hint', id: `${id}-hint` });
    const describe = (): void => {
      const k = c.classes.find((x) => x.name === select.value);
      hint.textContent = k ? `Reconciliation keys by default: ${k.reconciliation.join(', ') || 'none'}. Columns: ${k.attributes.map((a) => a.label).join(', ')}.` : '';
    };
    select.addEventListener('change', describe);
    describe();
    const next = h('button', { type: 'button', class: 'primary' }, 'Next: the file');
    next.addEventListener('click', () => {
      const chosen = c.classes.find((x) => x.name === select.value) ?? null;
      if (chosen?.name !== this.cls?.name) this.reset();
      this.cls = chosen;
      this.show('file');
    });
    this.mount(title, h('div', { class: 'card' }, h('label', { for: id }, 'Class'), select, hint, h('div', { class: 'actions' }, next)));
  }

  private reset(): void {
    this.file = null;
    this.body = null;
    this.preview = null;
    this.original = null;
    this.renames.clear();
    this.opts = freshOptions();
  }

  // 2. The file.
  private fileStep(): void {
    const title = this.heading(`2. Upload a file for ${this.cls?.label ?? ''}`);
    const id = nextId('file');
    const input = h('input', { type: 'file', id, accept: '.csv,.tsv,.txt,.json,.ndjson,text/csv,text/plain,application/json', 'aria-describedby': `${id}-hint` });
    const err = errorLine();
    const status = h('p', { class: 'hint', 'aria-live': 'polite' });
    const formatId = nextId('format');
    const format = h(
      'select',
      { id: formatId },
      h('option', { value: 'auto', selected: this.opts.format === 'auto' }, 'from the file name (.json: JSON, else CSV)'),
      h('option', { value: 'csv', selected: this.opts.format === 'csv' }, 'CSV or TSV'),
      h('option', { value: 'json', selected: this.opts.format === 'json' }, 'JSON'),
    );
    format.addEventListener('change', () => (this.opts.format = format.value as ReadOptions['format']));
    const take = async (f: File | undefined): Promise<void> => {
      if (!f) return;
      this.reset();
      this.opts.format = format.value as ReadOptions['format'];
      this.file = f;
      this.body = f;
      status.textContent = `${f.name}, ${bytes(f.size)}: reading its first rows…`;
      say(err, null);
      try {
        await this.refresh();
        this.show('preview');
      } catch (e) {
        status.textContent = `${f.name}, ${bytes(f.size)}`;
        say(err, `The file could not be previewed: ${(e as Error).message}`);
      }
    };
    input.addEventListener('change', () => void take(input.files?.[0]));
    const drop = h(
      'div',
      { class: 'drop', id: 'drop' },
      h('p', {}, 'Drop a CSV, TSV or JSON file here, or choose one:'),
      h('label', { for: id }, 'File to import'),
      input,
      h('p', { class: 'hint', id: `${id}-hint` }, 'Any size: only its first rows are read for the preview; the whole file is uploaded when you simulate and import.'),
    );
    drop.addEventListener('dragover', (e) => {
      e.preventDefault();
      drop.classList.add('over');
    });
    drop.addEventListener('dragleave', () => drop.classList.remove('over'));
    drop.addEventListener('drop', (e) => {
      e.preventDefault();
      drop.classList.remove('over');
      void take(e.dataTransfer?.files[0]);
    });
    const back = h('button', { type: 'button' }, 'Back');
    back.addEventListener('click', () => this.show('class'));
    this.mount(title, h('div', { class: 'card' }, drop, status, err, h('label', { for: formatId }, 'Format'), format, h('div', { class: 'actions' }, back)));
  }

  /** The options as query parameters, by the names of sluice import. */
  private query(extra: Record<string, string> = {}): string {
    const o = this.opts;
    const q = new URLSearchParams({ class: this.cls?.name ?? '' });
    const format = this.formatOf();
    q.set('format', format);
    if (format === 'csv') {
      if (o.separator !== '') q.set('separator', o.separator);
      if (o.qualifier !== '"') q.set('qualifier', o.qualifier);
    }
    if (o.charset !== '') q.set('charset', o.charset);
    if (o.dateFormat !== '') q.set('date-format', o.dateFormat);
    if (o.keys !== null && o.keys.length > 0) q.set('keys', o.keys.join(','));
    if (o.action !== 'upsert') q.set('action', o.action);
    if (o.noStopOnError) q.set('no-stop-on-error', '1');
    if (o.comment.trim() !== '') q.set('comment', o.comment.trim());
    for (const [k, v] of Object.entries(extra)) q.set(k, v);
    return q.toString();
  }

  private formatOf(): 'csv' | 'json' {
    if (this.opts.format !== 'auto') return this.opts.format;
    return /\.(nd)?json$/i.test(this.file?.name ?? '') ? 'json' : 'csv';
  }

  private contentType(): string {
    return this.formatOf() === 'json' ? 'application/json' : 'text/csv';
  }

  private async previewOf(blob: Blob): Promise<Preview> {
    const cut = blob.size > PREVIEW_SLICE;
    const extra: Record<string, string> = { rows: '20' };
    if (cut) extra.truncated = '1';
    return postJson<Preview>(`/v1/preview?${this.query(extra)}`, cut ? blob.slice(0, PREVIEW_SLICE) : blob, this.contentType());
  }

  /** Preview the file as it is, then, when columns were mapped anew, the file with its header rewritten. */
  private async refresh(): Promise<void> {
    const file = this.file as File;
    const original = await this.previewOf(file);
    this.original = original;
    this.body = file;
    if (this.renames.size > 0 && original.headerBytes !== null) {
      this.body = rewriteHeader(file, original, this.renames);
      this.preview = await this.previewOf(this.body);
    } else {
      this.preview = original;
    }
  }

  // 3. The preview.
  private previewStep(): void {
    const p = this.preview as Preview;
    const o = this.opts;
    const title = this.heading(`3. Check how ${this.file?.name ?? 'the file'} is read`);
    const err = errorLine();
    const busy = h('p', { class: 'hint', 'aria-live': 'polite' });
    const again = async (): Promise<void> => {
      busy.textContent = 'Reading the file again…';
      say(err, null);
      try {
        await this.refresh();
        this.previewStep();
      } catch (e) {
        busy.textContent = '';
        say(err, `The file could not be read with these settings: ${(e as Error).message}`);
      }
    };

    // How the file is read.
    const settings = h('fieldset', { class: 'card' }, h('legend', {}, 'How the file is read'));
    const grid = h('div', { class: 'grid' });
    const field = (label: string, control: HTMLElement, hint?: string | null, hintClass = 'hint'): void => {
      const id = control.id || nextId('opt');
      control.id = id;
      const hintId = `${id}-hint`;
      if (hint) control.setAttribute('aria-describedby', hintId);
      grid.append(h('div', {}, h('label', { for: id }, label), control, hint ? h('p', { class: hintClass, id: hintId }, hint) : null));
    };
    if (p.format === 'csv') {
      const sep = h('select', { id: 'opt-separator' }, ...SEPARATORS.map(([v, l]) => h('option', { value: v, selected: o.separator === v }, l)));
      sep.addEventListener('change', () => {
        o.separator = sep.value;
        void again();
      });
      field('Separator', sep, p.separator === null ? null : `${p.separatorDetected ? 'Detected' : 'Read with'}: ${p.separator}`);
      const qual = h('input', { type: 'text', id: 'opt-qualifier', value: o.qualifier, maxlength: 1, size: 2 });
      qual.addEventListener('change', () => {
        o.qualifier = qual.value;
        void again();
      });
      field('Text qualifier', qual, 'Empty: none.');
    }
    const charsetList = h('datalist', { id: 'charsets' }, ...CHARSETS.map((c) => h('option', { value: c })));
    const charset = h('input', { type: 'text', id: 'opt-charset', list: 'charsets', value: o.charset, placeholder: p.charset, autocomplete: 'off' });
    charset.addEventListener('change', () => {
      o.charset = charset.value.trim();
      void again();
    });
    field('Charset', charset, `${p.charsetFrom === 'bom' ? 'Detected from its byte-order mark' : p.charsetFrom === 'given' ? 'Read as' : 'Read as (the default)'}: ${p.charset}`);
    grid.append(charsetList);
    const date = h('input', { type: 'text', id: 'opt-date', value: o.dateFormat, placeholder: 'ISO 8601 (YYYY-MM-DD)', autocomplete: 'off' });
    date.addEventListener('change', () => {
      o.dateFormat = date.value.trim();
      void again();
    });
    field('Date format', date, p.suggestedDateFormat ? `Some dates do not read as ${p.dateFormat}; ${p.suggestedDateFormat} reads them all.` : `Read as: ${p.dateFormat} (PHP style d/m/Y H:i or strftime %d/%m/%Y)`);
    const action = h('select', { id: 'opt-action' }, ...ACTIONS.map(([v, l]) => h('option', { value: v, selected: o.action === v }, l)));
    action.addEventListener('change', () => {
      o.action = action.value;
      void again();
    });
    field('Action', action);
    const comment = h('input', { type: 'text', id: 'opt-comment', value: o.comment, maxlength: 500 });
    comment.addEventListener('change', () => (o.comment = comment.value));
    field('Comment (change tracking)', comment);
    const skip = h('input', { type: 'checkbox', id: 'opt-skip', checked: o.noStopOnError });
    skip.addEventListener('change', () => (o.noStopOnError = skip.checked));
    grid.append(h('div', {}, h('label', { class: 'inline', for: 'opt-skip' }, skip, 'Skip rows in error and import the rest'), h('p', { class: 'hint' }, 'Unchecked: the first row in error stops the import and nothing is written.')));
    settings.append(grid);
    if (p.suggestedDateFormat) {
      const use = h('button', { type: 'button' }, `Use ${p.suggestedDateFormat}`);
      use.addEventListener('click', () => {
        o.dateFormat = p.suggestedDateFormat as string;
        void again();
      });
      settings.append(use);
    }
    if (p.suggestedCharset) {
      const use = h('button', { type: 'button' }, `Read as ${p.suggestedCharset}`);
      use.addEventListener('click', () => {
        o.charset = p.suggestedCharset as string;
        void again();
      });
      settings.append(h('p', { class: 'note' }, `The file is not UTF-8. Is it ${p.suggestedCharset}? `, use));
    }

    // Problems of the file as a whole.
    const problems: HTMLElement[] = [];
    if (p.error) problems.push(h('div', { class: 'error-box', role: 'alert', id: 'file-error' }, h('strong', {}, p.error.line !== null ? `Line ${p.error.line}: ` : 'The file: '), p.error.message));
    if (p.planError) problems.push(h('div', { class: 'error-box', role: 'alert', id: 'plan-error' }, p.planError));
    const unknown = p.columns.filter((c) => c.error !== null);
    if (unknown.length > 0) problems.push(h('div', { class: 'error-box', role: 'alert' }, `${unknown.length} column${unknown.length === 1 ? '' : 's'} map${unknown.length === 1 ? 's' : ''} to nothing: choose an attribute for ${unknown.length === 1 ? 'it' : 'each'} below.`));

    // The columns: mapping and keys.
    const canRename = this.original?.headerBytes !== null && p.format === 'csv';
    const cols = h('tbody');
    for (const c of p.columns) {
      const sel = this.mappingSelect(c.index, c.mapping?.header ?? null, c.name);
      sel.disabled = !canRename;
      sel.setAttribute('aria-label', `Attribute for column ${c.index + 1} "${c.name}"`);
      sel.addEventListener('change', () => {
        if (sel.value === '') return;
        this.renames.set(c.index, sel.value);
        void again();
      });
      const keyBox = h('input', { type: 'checkbox', checked: c.key !== null && p.keys.includes(c.key), disabled: c.key === null, 'aria-label': `Reconciliation key: column "${c.name}"`, 'data-key': c.key ?? '' });
      keyBox.addEventListener('change', () => {
        const keys = new Set(o.keys ?? p.keys);
        if (keyBox.checked) keys.add(c.key as string);
        else keys.delete(c.key as string);
        o.keys = [...keys];
        void again();
      });
      const what = c.error !== null ? h('td', { class: 'bad' }, c.error) : h('td', {}, describeMapping(c.mapping));
      what.setAttribute('data-label', 'Mapping');
      cols.append(h('tr', { class: c.error !== null ? 'bad' : null, 'data-column': c.name }, h('th', { scope: 'row' }, c.name), h('td', { 'data-label': 'Attribute' }, sel), h('td', { 'data-label': 'Key' }, keyBox), what));
    }
    const columns = h(
      'div',
      { class: 'scroll' },
      h('table', { id: 'columns', class: 'stack' }, h('caption', { class: 'hint' }, 'Columns of the file and the attributes they fill'), h('thead', {}, h('tr', {}, h('th', { scope: 'col' }, 'Column'), h('th', { scope: 'col' }, 'Attribute'), h('th', { scope: 'col' }, 'Key'), h('th', { scope: 'col' }, 'Mapping'))), cols),
    );
    const keyHint = h(
      'p',
      { class: 'hint', id: 'key-hint' },
      unknown.length > 0 || p.planError !== null
        ? 'Reconciliation keys: chosen once every column maps to an attribute.'
        : p.keys.length > 0
          ? `Reconciliation keys: ${p.keys.join(', ')} — each row is matched to an existing object by them.`
          : 'Reconciliation keys: none — each row creates an object, unless it has an id or source and source_id.',
    );

    // The first rows.
    const rowsBody = h('tbody');
    for (const r of p.rows) {
      rowsBody.append(h('tr', { class: r.error ? 'bad' : null }, h('td', { class: 'num' }, r.line), ...p.columns.map((c) => h('td', {}, r.cells[c.index] ?? '')), h('td', { class: r.error ? 'bad' : null }, r.error ?? '')));
    }
    const rows = h(
      'div',
      { class: 'scroll' },
      h(
        'table',
        { id: 'rows' },
        h('caption', { class: 'hint' }, `The first ${p.rows.length} rows as they are read${p.more ? '; more follow' : ''}`),
        h('thead', {}, h('tr', {}, h('th', { scope: 'col', class: 'num' }, 'Line'), ...p.columns.map((c) => h('th', { scope: 'col' }, c.mapping?.label ?? c.name)), h('th', { scope: 'col' }, 'Problem'))),
        rowsBody,
      ),
    );

    const back = h('button', { type: 'button' }, 'Back');
    back.addEventListener('click', () => this.show('file'));
    const sim = h('button', { type: 'button', class: 'primary', disabled: unknown.length > 0 || p.planError !== null }, 'Next: simulate');
    sim.addEventListener('click', () => this.show('simulate'));
    this.mount(
      title,
      settings,
      ...problems,
      h('h4', {}, 'Columns'),
      canRename ? null : h('p', { class: 'hint' }, 'Columns can be mapped anew here for CSV files in an ASCII-compatible charset; change the file otherwise.'),
      columns,
      keyHint,
      h('h4', {}, 'First rows'),
      rows,
      busy,
      err,
      h('div', { class: 'actions' }, back, sim),
    );
  }

  /** The attributes a column may fill, by the header that names them; the current one selected. */
  private mappingSelect(index: number, current: string | null, name: string): HTMLSelectElement {
    const cls = this.cls as ClassInfo;
    const sel = h('select', { 'data-index': index });
    const chosen = this.renames.get(index) ?? current;
    if (chosen === null) sel.append(h('option', { value: '', selected: true }, `— unknown: "${name}" —`));
    const options: [string, string][] = [];
    for (const a of cls.attributes) {
      if (a.type === 'ref') {
        for (const hd of a.header) options.push([hd, `${a.label} → by ${hd.slice(hd.indexOf('->') + 2)} (${hd})`]);
        options.push([a.code, `${a.label} → by id (${a.code})`]);
      } else options.push([a.code, `${a.label} (${a.code})`]);
    }
    options.push(['id', 'object id (id)'], ['source', 'source'], ['source_id', 'source_id']);
    if (chosen !== null && !options.some(([v]) => v === chosen)) options.unshift([chosen, chosen]);
    for (const [v, l] of options) sel.append(h('option', { value: v, selected: v === chosen }, l));
    return sel;
  }

  // 4 and 5. Simulate, then import: upload the file, follow the job, show its report.
  private async jobStep(simulate: boolean): Promise<void> {
    const title = this.heading(simulate ? '4. Simulate the import' : '5. Import');
    const what = simulate ? 'The simulation' : 'The import';
    const uploadBar = h('progress', { max: 100, value: 0, id: 'upload-progress', 'aria-label': 'Upload' });
    const uploadText = h('p', { class: 'progress-text', 'aria-live': 'polite' }, 'Uploading…');
    const runBar = h('progress', { id: 'run-progress', 'aria-label': simulate ? 'Simulation' : 'Import' });
    const runText = h('p', { class: 'progress-text', id: 'run-text', 'aria-live': 'polite' }, 'Waiting for the upload…');
    const err = errorLine();
    const result = h('div', { id: 'job-result' });
    const actions = h('div', { class: 'actions' });
    const back = h('button', { type: 'button' }, 'Back to the preview');
    back.addEventListener('click', () => this.show('preview'));
    this.mount(title, h('div', { class: 'card' }, h('p', {}, simulate ? 'Everything runs, then is rolled back: the report is the one an import would give, and nothing is written.' : 'The rows are written to the database.'), uploadBar, uploadText, runBar, runText, err), result, actions);
    const body = this.body as Blob;
    let token: string;
    try {
      const fields = new URLSearchParams(this.query(simulate ? { simulate: '1' } : {}));
      const r = await upload<{ token: string }>('/v1/import', fields, body, this.file?.name ?? 'upload', (sent, total) => {
        const pct = total > 0 ? Math.round((sent / total) * 100) : 100;
        uploadBar.value = pct;
        uploadText.textContent = `Uploading: ${bytes(sent)} of ${bytes(total)} (${pct} %)`;
      });
      token = r.token;
      uploadBar.value = 100;
      uploadText.textContent = `Uploaded ${bytes(body.size)}.`;
    } catch (e) {
      uploadText.textContent = 'The upload failed.';
      say(err, `${what} could not start: ${(e as Error).message}`);
      actions.append(back);
      return;
    }
    const total = simulate ? 0 : this.simLines;
    const t0 = performance.now();
    let st: JobState & { state: 'done' | 'error' };
    try {
      st = await waitForJob(token, (s) => {
        if (s.state === 'queued') runText.textContent = 'Queued: waiting for the jobs before it.';
        else if (s.state === 'processing') {
          const done = Math.max(0, s.line - 1);
          const secs = (performance.now() - t0) / 1000;
          const rate = secs > 0 ? Math.round(done / secs) : 0;
          if (total > 0) {
            runBar.max = total;
            runBar.value = Math.min(done, total);
          }
          const r = s.results;
          const counts = `created ${r.created.toLocaleString()} · updated ${r.updated.toLocaleString()} · unchanged ${r.unchanged.toLocaleString()} · deleted ${r.deleted.toLocaleString()} · skipped ${r.skipped.toLocaleString()} · errors ${r.errors.toLocaleString()}`;
          runText.textContent = s.line === 0 ? 'Waiting for the database…' : `Line ${s.line}${total > 0 ? ` of ${total + 1}` : ''} · ${rate.toLocaleString()} rows/s · ${counts}`;
        }
      });
    } catch (e) {
      say(err, `${what} could not be followed: ${e instanceof ApiError ? e.message : String(e)}`);
      actions.append(back);
      return;
    }
    runBar.max = 1;
    runBar.value = 1;
    const secs = (performance.now() - t0) / 1000;
    runText.textContent = `${what} ${st.state === 'done' ? 'finished' : 'stopped'} in ${secs.toFixed(1)} s.`;
    const panel = await reportPanel(token, st, what);
    clear(result, h('h4', {}, simulate ? 'Simulation report' : 'Import report'), panel);
    if (simulate) {
      this.simLines = st.results.created + st.results.updated + st.results.unchanged + st.results.deleted + st.results.skipped + st.results.errors;
      // A simulation that stopped would stop the import the same way: the file or the options must change first.
      const run = h('button', { type: 'button', class: 'primary', disabled: st.state === 'error' }, 'Import for real');
      run.addEventListener('click', () => this.show('run'));
      actions.append(back, run);
    } else {
      const another = h('button', { type: 'button', class: 'primary' }, 'Import another file');
      another.addEventListener('click', () => {
        this.reset();
        this.show('class');
      });
      const history = h('a', { href: '#history' }, 'See the history');
      actions.append(another, history);
    }
    focus(result.querySelector('h4') as HTMLElement);
  }
}

function freshOptions(): ReadOptions {
  return { format: 'auto', separator: '', qualifier: '"', charset: '', dateFormat: '', action: 'upsert', noStopOnError: false, comment: '', keys: null };
}

function describeMapping(m: Preview['columns'][number]['mapping']): string {
  if (m === null) return '';
  if (m.kind === 'reserved') return `${m.attribute} (every class has it)`;
  if (m.kind === 'ref') return m.sub === 'id' ? `${m.label}: a ${m.target} by its id` : `${m.label}: the ${m.target} whose ${m.sub} it gives`;
  if (m.kind === 'links') return `${m.label}: a set of links`;
  return `${m.label} (${m.attribute}, ${m.type})`;
}

const SEPARATOR_CHARS: Record<string, string> = { tab: '\t' };

/** A CSV cell of the header, quoted when it has to be. */
function headerCell(text: string, sep: string, quote: string | null): string {
  if (quote === null || quote === '') return text;
  return text.includes(sep) || text.includes(quote) || /^\s|\s$/.test(text) ? `${quote}${text.split(quote).join(quote + quote)}${quote}` : text;
}

/**
 * The file with its header line replaced: each renamed column by its new name, the others as
 * the preview read them. The rest of the file is the original's, not copied (a Blob slice).
 */
export function rewriteHeader(file: Blob, original: Preview, renames: Map<number, string>): Blob {
  const sep = SEPARATOR_CHARS[original.separator ?? ','] ?? original.separator ?? ',';
  const ascii = /^UTF-8$/i.test(original.charset);
  const names = original.columns.map((c) => {
    const name = renames.get(c.index) ?? c.name;
    // A header written in UTF-8 is read right only in UTF-8; in another charset, the canonical (ASCII) name is safer.
    return ascii || /^[\x20-\x7e]*$/.test(name) ? name : (c.mapping?.header ?? name);
  });
  const line = `${names.map((n) => headerCell(n, sep, original.qualifier)).join(sep)}\n`;
  return new Blob([new TextEncoder().encode(line), file.slice(original.headerBytes as number)]);
}
