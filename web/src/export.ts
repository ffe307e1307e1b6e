/** The export page: a class, its columns and a format, downloaded as `sluice export` writes it. */
import { type Classes, type ClassInfo, download } from './api.js';
import { clear, errorLine, h, nextId, say } from './dom.js';

export class ExportView {
  constructor(
    private readonly host: HTMLElement,
    private readonly classes: () => Classes,
  ) {}

  show(): void {
    const c = this.classes();
    if (c.classes.length === 0) {
      clear(this.host, h('p', { class: 'note' }, `The token "${c.name}" may touch no class of this database's model.`));
      return;
    }
    const classId = nextId('export-class');
    const select = h('select', { id: classId }, ...c.classes.map((k) => h('option', { value: k.name }, k.label === k.name ? k.name : `${k.label} (${k.name})`)));
    const columns = h('fieldset', { class: 'card' }, h('legend', {}, 'Columns'));
    const pick = (k: ClassInfo): void => {
      const chosen = new Set(k.exampleHeader.split(','));
      const boxes = h('div', { class: 'columns-pick' });
      for (const a of k.attributes) {
        if (a.type === 'password') continue;
        for (const col of a.type === 'ref' ? a.header : [a.code]) {
          const id = nextId('col');
          boxes.append(h('label', { class: 'inline', for: id }, h('input', { type: 'checkbox', id, value: col, checked: chosen.has(col) }), `${a.label} (${col})`));
        }
      }
      clear(columns, h('legend', {}, `Columns of ${k.label}`), boxes);
    };
    select.addEventListener('change', () => pick(c.classes.find((k) => k.name === select.value) as ClassInfo));
    pick(c.classes[0] as ClassInfo);
    const formatId = nextId('export-format');
    const format = h('select', { id: formatId }, h('option', { value: 'csv' }, 'CSV'), h('option', { value: 'tsv' }, 'TSV'), h('option', { value: 'json' }, 'JSON'));
    const err = errorLine();
    const status = h('p', { class: 'hint', 'aria-live': 'polite' });
    const go = h('button', { type: 'button', class: 'primary' }, 'Download');
    go.addEventListener('click', async () => {
      say(err, null);
      const cols = Array.from(columns.querySelectorAll<HTMLInputElement>('input:checked')).map((i) => i.value);
      if (cols.length === 0) {
        say(err, 'Choose at least one column.');
        return;
      }
      const q = new URLSearchParams({ columns: cols.join(','), format: format.value });
      go.disabled = true;
      status.textContent = 'Exporting…';
      try {
        await download(`/v1/export/${encodeURIComponent(select.value)}?${q.toString()}`, `${select.value}.${format.value}`);
        status.textContent = 'Downloaded.';
      } catch (e) {
        status.textContent = '';
        say(err, `The export failed: ${(e as Error).message}`);
      } finally {
        go.disabled = false;
      }
    });
    clear(this.host, h('div', { class: 'card' }, h('label', { for: classId }, 'Class'), select), columns, h('div', { class: 'card' }, h('label', { for: formatId }, 'Format'), format, h('div', { class: 'actions' }, go), status, err));
  }
}
