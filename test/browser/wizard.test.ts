/**
 * The import wizard in a real headless browser (Chromium driven by playwright-core) against
 * the built `sluice serve`: log in, upload iTop's Person example with a column named wrong,
 * fix its mapping in the preview, simulate, import, read and download the report; a
 * malformed file names its line; a token of other classes cannot pick Person.
 *
 * playwright-core downloads no browser: the test uses the system's Chromium
 * (`apt-get install chromium`) and is skipped, saying so, where there is none.
 * With SLUICE_SCREENSHOTS=DIR each step is saved as DIR/NN-step.png (make wizard-screenshots).
 */
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { BrowserContext, Page } from 'playwright-core';
import { query, suiteSandboxes, type Sandbox } from '../helpers/cli.js';
import { ITOP_ORGS_CSV, ITOP_PERSON_CSV } from '../helpers/fixtures.js';
import { type Server, addToken, finished, freshDb, postCsv, serve, stop, tokenOf, until } from '../helpers/serve.js';

const CHROMIUM = process.env.SLUICE_CHROMIUM ?? '/usr/bin/chromium';
const SKIP = existsSync(CHROMIUM) ? false : `no Chromium at ${CHROMIUM}: install it (apt-get install chromium) or set SLUICE_CHROMIUM to run the browser tests`;
const SHOTS = process.env.SLUICE_SCREENSHOTS;

/** Flags for a headless Chromium on a machine without a network: no sandbox (root), no background connections. */
const CHROMIUM_ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'];

/** The Person example with its Email column named as no attribute is: the preview must say so, and let it be mapped. */
const PERSON_WRONG = ITOP_PERSON_CSV.replace(',Email,', ',E-mail address,');

/** The page's globals, for functions run in it (serialized: no closure), typed here as the tests are compiled without the DOM's types. */
interface PageGlobals {
  document: { getElementById(id: string): { textContent: string | null } | null; documentElement: { scrollWidth: number } };
}

let shot = 0;
async function screenshot(page: Page, name: string): Promise<void> {
  if (!SHOTS) return;
  mkdirSync(SHOTS, { recursive: true });
  await page.screenshot({ path: join(SHOTS, `${String(++shot).padStart(2, '0')}-${name}.png`), fullPage: true });
}

describe('the import wizard in a browser', { skip: SKIP }, () => {
  const box = suiteSandboxes();
  let sb: Sandbox;
  let s: Server;
  let ctx: BrowserContext;
  let profile: string;
  let orgsOnly: string;

  before(async () => {
    const { chromium } = await import('playwright-core');
    sb = box();
    await freshDb(sb);
    s = await serve(sb.db);
    const orgs = await tokenOf(await postCsv(s, 'class=Organization', ITOP_ORGS_CSV));
    assert.equal((await until(s, orgs, finished)).state, 'done');
    orgsOnly = await addToken(sb.db, 'org-feed', 'importer', '--classes', 'Organization');
    profile = mkdtempSync(join(tmpdir(), 'sluice-chromium-'));
    ctx = await chromium.launchPersistentContext(profile, { executablePath: CHROMIUM, headless: true, args: CHROMIUM_ARGS, viewport: { width: 1100, height: 860 }, acceptDownloads: true });
  });
  after(async () => {
    await ctx?.close();
    if (profile) rmSync(profile, { recursive: true, force: true });
    if (s) await stop(s);
  });

  const pageErrors = new Map<Page, string[]>();

  /** A new tab, logged in with `token`, its script errors kept for done(). */
  async function logIn(token: string): Promise<Page> {
    const page = await ctx.newPage();
    const errors: string[] = [];
    pageErrors.set(page, errors);
    page.on('pageerror', (e) => errors.push(e.message));
    await page.goto(`${s.url}/`);
    await page.getByLabel('Access token').fill('slu_00000000_not-a-token-not-a-token-not-a-token-not-a');
    await page.getByRole('button', { name: 'Log in' }).click();
    await page.locator('#login-error', { hasText: 'the token is not valid' }).waitFor();
    await page.getByLabel('Access token').fill(token);
    await page.getByRole('button', { name: 'Log in' }).click();
    await page.locator('#view-import h3').waitFor();
    return page;
  }

  /** Close the tab: the page must not have thrown. */
  async function done(page: Page): Promise<void> {
    await page.close();
    assert.deepEqual(pageErrors.get(page), [], 'the page threw');
  }

  const classSelect = (page: Page) => page.locator('#view-import').getByLabel('Class', { exact: true });

  it('walks through an import: class, file, a mapping fixed in the preview, simulate, import, report, download', async () => {
    const page = await logIn(s.token);
    await page.setViewportSize({ width: 1100, height: 860 });
    await screenshot(page, 'class');
    // The classes come from the model, by label.
    assert.ok((await classSelect(page).locator('option').allTextContents()).includes('Person'));
    await classSelect(page).selectOption('Person');
    await page.getByRole('button', { name: 'Next: the file' }).click();
    await screenshot(page, 'file');
    await page.getByLabel('File to import').setInputFiles({ name: 'person.csv', mimeType: 'text/csv', buffer: Buffer.from(PERSON_WRONG) });

    // The preview: the unknown column in red with its reason, the others mapped.
    const wrong = page.locator('#columns tr[data-column="E-mail address"]');
    await wrong.waitFor();
    assert.match((await wrong.getAttribute('class')) ?? '', /bad/);
    assert.match(await wrong.innerText(), /unknown column "E-mail address"/);
    assert.match(await page.locator('#columns tr[data-column="Organization->Name"]').innerText(), /Organization → Name/);
    assert.match(await page.getByText(/^Detected: ,/).innerText(), /,/);
    assert.ok(await page.getByRole('button', { name: 'Next: simulate' }).isDisabled(), 'no simulation while a column maps to nothing');
    assert.match(await page.locator('#rows').innerText(), /Flaubert/);
    await screenshot(page, 'preview-unknown-column');

    // Fixed: the column is mapped to email, and email becomes the key.
    await page.getByLabel('Attribute for column 4 "E-mail address"').selectOption('email');
    await page.locator('#columns tr[data-column="email"]').waitFor();
    // As in iTop's example (--keys Email): email checked, the class's default keys unchecked.
    for (const [column, on] of [['email', true], ['Last Name', false], ['First Name', false], ['Organization->Name', false]] as const) {
      const before = await page.locator('#key-hint').innerText();
      await page.getByLabel(`Reconciliation key: column "${column}"`).setChecked(on);
      await page.waitForFunction((b) => (globalThis as unknown as PageGlobals).document.getElementById('key-hint')?.textContent !== b, before);
    }
    assert.match(await page.locator('#key-hint').innerText(), /^Reconciliation keys: email —/);
    assert.ok(await page.getByLabel('Reconciliation key: column "email"').isChecked());
    await screenshot(page, 'preview-fixed');

    // Simulate: the report, nothing written.
    await page.getByRole('button', { name: 'Next: simulate' }).click();
    await page.locator('#job-result h4', { hasText: 'Simulation report' }).waitFor();
    assert.equal(await page.locator('[data-count="created"]').innerText(), '1');
    assert.equal(query(sb.db, 'SELECT id FROM Person').length, 0, 'a simulation writes nothing');
    await screenshot(page, 'simulate');
    // The filters by status: created rows hidden, then shown again.
    await page.getByLabel('show created').uncheck();
    await page.getByText('No row has the statuses chosen.').waitFor();
    await page.getByLabel('show created').check();
    await page.locator('#job-result tbody tr').first().waitFor();

    // Import for real: the progress, then the report, downloadable.
    await page.getByRole('button', { name: 'Import for real' }).click();
    await page.locator('#job-result h4', { hasText: 'Import report' }).waitFor();
    assert.match(await page.locator('#run-text').innerText(), /The import finished/);
    assert.equal(await page.locator('[data-count="created"]').innerText(), '1');
    const row = page.locator('#job-result tbody tr').first();
    assert.match(await row.innerText(), /2\s+created/);
    assert.match(await row.innerText(), /warning: /, 'the empty key carries a warning');
    const people = query<{ name: string; first_name: string; email: string; notify: string }>(sb.db, 'SELECT name, first_name, email, notify FROM Person');
    assert.deepEqual(people, [{ name: 'Flaubert', first_name: 'Gustave', email: '', notify: 'yes' }]);
    await screenshot(page, 'import-report');
    const [download] = await Promise.all([page.waitForEvent('download'), page.getByRole('button', { name: 'Download the report (CSV)' }).click()]);
    const csv = readFileSync((await download.path()) as string, 'utf8');
    assert.match(csv, /^line,status,id,message,Last Name,Status,Organization->Name,email,Phone,/);
    assert.match(csv, /\n2,created,\d+,/);

    // The history lists the job and its change, with an undo that is simulated first.
    await page.getByRole('link', { name: 'History', exact: true }).click();
    await page.locator('#jobs table').waitFor();
    assert.match(await page.locator('#jobs').innerText(), /person\.csv/);
    const undo = page.locator('#changes button[data-change]').first();
    await undo.click();
    await page.getByRole('button', { name: /^Simulate the undo of change/ }).click();
    await page.locator('#changes .report').waitFor();
    assert.ok(await page.getByRole('button', { name: /^Undo change \d+$/ }).isEnabled());
    assert.equal(query(sb.db, 'SELECT id FROM Person').length, 1, 'a simulated undo writes nothing');
    await screenshot(page, 'history-undo');
    await done(page);
  });

  it('a malformed file shows the line in error', async () => {
    const page = await logIn(s.token);
    await classSelect(page).selectOption('Person');
    await page.getByRole('button', { name: 'Next: the file' }).click();
    const bad = 'name,first_name,email\nHugo,Victor,vh@x.org\n"Sand,George,gs@x.org\n';
    await page.getByLabel('File to import').setInputFiles({ name: 'bad.csv', mimeType: 'text/csv', buffer: Buffer.from(bad) });
    const err = page.locator('#file-error');
    await err.waitFor();
    assert.match(await err.innerText(), /^Line 3: /);
    assert.match(await err.innerText(), /line 3/);
    await screenshot(page, 'malformed-file-preview');
    // The run says it too, and writes nothing.
    await page.getByRole('button', { name: 'Next: simulate' }).click();
    const stopped = page.locator('#job-result .error-box');
    await stopped.waitFor();
    assert.match(await stopped.innerText(), /stopped: .*line 3/);
    assert.ok(await page.getByRole('button', { name: 'Import for real' }).isDisabled(), 'an import would stop the same way');
    await screenshot(page, 'malformed-file-simulated');
    await done(page);
  });

  it('an importer of other classes cannot pick a class it may not touch', async () => {
    const page = await logIn(orgsOnly);
    const options = await classSelect(page).locator('option').allTextContents();
    assert.deepEqual(options, ['Organization']);
    assert.match(await page.locator('#who-name').innerText(), /org-feed \(importer\)/);
    // Export and history show its class only, too.
    await page.getByRole('link', { name: 'Export', exact: true }).click();
    assert.deepEqual(await page.locator('#view-export').getByLabel('Class', { exact: true }).locator('option').allTextContents(), ['Organization']);
    await screenshot(page, 'restricted-token');
    await done(page);
  });

  it('works on a narrow screen', async () => {
    const page = await logIn(s.token);
    await page.setViewportSize({ width: 380, height: 800 });
    await classSelect(page).selectOption('Person');
    await page.getByRole('button', { name: 'Next: the file' }).click();
    await page.getByLabel('File to import').setInputFiles({ name: 'person.csv', mimeType: 'text/csv', buffer: Buffer.from(PERSON_WRONG) });
    await page.locator('#columns').waitFor();
    // Nothing but the tables (which scroll inside their box) is wider than the screen.
    const wide = await page.evaluate(() => (globalThis as unknown as PageGlobals).document.documentElement.scrollWidth);
    assert.ok(wide <= 380, `the page is ${wide}px wide on a 380px screen`);
    await screenshot(page, 'narrow-preview');
    await done(page);
  });
});
