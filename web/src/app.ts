/** The import wizard's page: log in with a token, then Import, History and Export (docs/wizard.md). */
import { type Classes, getJson, saveToken, savedToken, whenUnauthorized } from './api.js';
import { byId, focus, say } from './dom.js';
import { ExportView } from './export.js';
import { HistoryView } from './history.js';
import { ImportWizard } from './import.js';

type View = 'login' | 'import' | 'history' | 'export';

let classes: Classes | null = null;
const current = (): Classes => classes as Classes;

const wizard = new ImportWizard(byId('step-host'), current);
const history = new HistoryView(byId('history-host'), current);
const exporter = new ExportView(byId('export-host'), current);

function showView(view: View): void {
  for (const v of ['login', 'import', 'history', 'export'] as View[]) byId(`view-${v}`).hidden = v !== view;
  for (const a of Array.from(document.querySelectorAll<HTMLAnchorElement>('#nav a'))) {
    if (a.dataset.view === view) a.setAttribute('aria-current', 'page');
    else a.removeAttribute('aria-current');
  }
  const loggedIn = view !== 'login';
  byId('nav').hidden = !loggedIn;
  byId('who').hidden = !loggedIn;
  if (view === 'import') wizard.start();
  if (view === 'history') void history.show();
  if (view === 'export') exporter.show();
  if (view !== 'import') focus(byId(`${view}-title`));
}

function route(): void {
  if (classes === null) return showView('login');
  const view = location.hash.replace(/^#/, '');
  showView(view === 'history' || view === 'export' ? view : 'import');
}

function loggedOut(message: string | null): void {
  classes = null;
  saveToken(null);
  showView('login');
  say(byId('login-error'), message);
  (byId('token') as HTMLInputElement).value = '';
  byId('token').focus();
}

/** Log in: the token is good when the service answers with the classes it may touch. */
async function logIn(token: string): Promise<void> {
  classes = await getJson<Classes>('/v1/classes', token);
  saveToken(token);
  byId('who-name').textContent = `${classes.name} (${classes.role})`;
  route();
}

byId('login-form').addEventListener('submit', (e) => {
  e.preventDefault();
  const token = (byId('token') as HTMLInputElement).value.trim();
  const err = byId('login-error');
  if (token === '') {
    say(err, 'Paste a token first.');
    return;
  }
  say(err, null);
  logIn(token).catch((x: Error) => say(err, `Not logged in: ${x.message}`));
});

byId('logout').addEventListener('click', () => loggedOut(null));
whenUnauthorized((message) => loggedOut(`Logged out: ${message}`));
window.addEventListener('hashchange', route);

const saved = savedToken();
if (saved) logIn(saved).catch((x: Error) => loggedOut(`Not logged in: ${x.message}`));
else showView('login');
