// End-to-end tests of the web app: a real carnet-server with the demo
// tenant on a free loopback port, real `carnet` CLI devices, and Debian's
// headless Chromium driven by playwright-core (no browser download).
//
// Run by ./scripts/test after the binaries are built; CARGO_TARGET_DIR
// tells where they are. Screenshots go to target/web-screenshots/.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createRequire } from 'node:module';
import { chromium } from 'playwright-core';

const require = createRequire(import.meta.url);
const here = dirname(fileURLToPath(import.meta.url));
const repo = join(here, '..', '..');
const targetDir = process.env.CARGO_TARGET_DIR || join(repo, 'target');
const SERVER = join(targetDir, 'debug', 'carnet-server');
const CLI = join(targetDir, 'debug', 'carnet');
const CHROMIUM = process.env.CARNET_CHROMIUM || '/usr/bin/chromium';
const SHOTS = join(repo, 'target', 'web-screenshots');
const PASSWORD = 'carnet-demo';
const MANAGER = 'marc@demo.carnet.fr';
const ADMIN = 'admin@demo.carnet.fr';
const ALICE = 'alice@demo.carnet.fr';
const BRUNO = 'bruno@demo.carnet.fr';
const CHLOE = 'chloe@demo.carnet.fr';

let work, server, base, browser;
const stores = {};

function freePort() {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
    s.on('error', reject);
  });
}

function cli(store, args, input) {
  const r = spawnSync(CLI, ['--store', store, ...args], {
    input, encoding: 'utf8', env: { ...process.env, CARNET_LANG: 'en' }, timeout: 60_000,
  });
  return r;
}

function cliOk(store, args, input) {
  const r = cli(store, args, input);
  assert.equal(r.status, 0, `carnet ${args.join(' ')} failed: ${r.stderr}`);
  return r.stdout;
}

function device(user) {
  const store = join(work, user.split('@')[0]);
  cliOk(store, ['login', base, '--email', user, '--password-stdin'], PASSWORD + '\n');
  cliOk(store, ['sync']);
  stores[user] = store;
  return store;
}

/// Every customer file of a device, read from its own store (JSON).
function files(store) {
  const list = JSON.parse(cliOk(store, ['account', 'list', '--json', '--limit', '100000']));
  return list.map((hit) => JSON.parse(cliOk(store, ['account', 'show', hit.id, '--json'])));
}

/// "24 630,00 €" (narrow no-break spaces) → 2463000 cents.
function cents(text) {
  const t = text.replace(/[^0-9,\-]/g, '');
  const [units, dec = '00'] = t.split(',');
  const sign = units.startsWith('-') ? -1 : 1;
  return sign * (Math.abs(parseInt(units, 10)) * 100 + parseInt(dec.padEnd(2, '0'), 10));
}

function monthKey(d) {
  return `${d.getUTCFullYear()}-${String(d.getUTCMonth() + 1).padStart(2, '0')}`;
}

async function login(user, opts = {}) {
  const ctx = await browser.newContext({ locale: 'fr-FR', ...opts });
  const page = await ctx.newPage();
  await page.goto(base + '/login');
  await page.fill('#email', user);
  await page.fill('#password', PASSWORD);
  await Promise.all([page.waitForURL(base + '/day'), page.click('button[type=submit]')]);
  return { ctx, page };
}

async function shot(page, name) {
  await page.screenshot({ path: join(SHOTS, `${name}.png`), fullPage: true });
}

before(async () => {
  mkdirSync(SHOTS, { recursive: true });
  work = mkdtempSync(join(tmpdir(), 'carnet-web-'));
  const port = await freePort();
  base = `http://127.0.0.1:${port}`;
  server = spawn(SERVER, ['--data', join(work, 'server'), 'demo', '--listen', `127.0.0.1:${port}`], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  await new Promise((resolve, reject) => {
    let out = '';
    const t = setTimeout(() => reject(new Error('server did not start: ' + out)), 180_000);
    server.stdout.on('data', (b) => {
      out += b;
      if (out.includes('listening on')) { clearTimeout(t); resolve(); }
    });
    server.on('exit', (c) => reject(new Error(`server exited ${c}: ${out}`)));
  });
  browser = await chromium.launch({
    executablePath: CHROMIUM,
    args: ['--headless=new', '--no-sandbox', '--disable-dev-shm-usage'],
  });
  device(MANAGER);
  device(ALICE);
});

after(async () => {
  await browser?.close();
  server?.kill('SIGTERM');
  if (work) rmSync(work, { recursive: true, force: true });
});

test('the dashboard variance matches the seeded orders, and a target set in the browser moves it', async () => {
  const period = monthKey(new Date(Date.UTC(new Date().getUTCFullYear(), new Date().getUTCMonth() - 1, 1)));
  // Independently: Σ net of Alice's non-cancelled orders of last month,
  // from the files the manager's device holds.
  let expected = 0;
  for (const f of files(stores[MANAGER])) {
    for (const o of f.orders) {
      if (o.owner === ALICE && o.status !== 'cancelled' && (o.date || '').startsWith(period)) {
        expected += o.totals.net;
      }
    }
  }
  assert.ok(expected > 0, 'the demo has orders last month');
  const { ctx, page } = await login(MANAGER);
  const url = `${base}/dashboard?period=${period}&scope=rep:${ALICE}`;
  await page.goto(url);
  const row = page.locator('tr[data-indicator=orders_value]');
  assert.equal(cents(await row.locator('td.actual').innerText()), expected);
  assert.equal(cents(await row.locator('td.target').innerText()), 2_000_000);
  assert.equal(cents(await row.locator('td.variance').innerText()), expected - 2_000_000);
  assert.match(await page.locator('svg.chart').innerHTML(), new RegExp(period));
  await shot(page, 'dashboard');
  // The period's orders for accounting, from the link on the dashboard:
  // Alice's add up to the same figure (cancelled ones listed, not counted).
  const exported = await (await ctx.request.get(base + await page.getByRole('link', { name: 'JSON' }).getAttribute('href'))).json();
  const alices = exported.orders.filter((o) => o.rep === ALICE && o.status !== 'cancelled');
  const toCents = (s) => Math.round(parseFloat(s) * 100);
  assert.equal(alices.reduce((n, o) => n + toCents(o.total_net), 0), expected);
  const csv = await (await ctx.request.get(base + await page.getByRole('link', { name: 'CSV' }).getAttribute('href'))).text();
  assert.match(csv, /^\ufeffnumero;date;statut;/);

  await page.goto(`${base}/targets?rep=${ALICE}&period=${period}`);
  await page.fill('#t-orders_value', '30000');
  await Promise.all([page.waitForURL(/\/targets/), page.locator('#t-orders_value').press('Enter')]);
  await shot(page, 'targets');
  await page.goto(url);
  assert.equal(cents(await row.locator('td.target').innerText()), 3_000_000);
  assert.equal(cents(await row.locator('td.variance').innerText()), expected - 3_000_000);
  await ctx.close();
});

test('a customized dashboard layout survives logging out and in', async () => {
  let { ctx, page } = await login(MANAGER);
  await page.goto(base + '/dashboard');
  await page.click('#customize summary');
  await page.uncheck('#show-orders_count');
  await page.uncheck('#show-pipeline_raw');
  await page.fill('#pos-visits', '1');
  await page.fill('#pos-orders_value', '2');
  await Promise.all([page.waitForURL(base + '/dashboard'), page.click('#customize button[type=submit]')]);
  await Promise.all([page.waitForURL(/\/login/), page.click('form[action="/logout"] button')]);
  await ctx.close();
  ({ ctx, page } = await login(MANAGER));
  await page.goto(base + '/dashboard');
  const order = await page.locator('tr[data-indicator]').evaluateAll((rows) => rows.map((r) => r.dataset.indicator));
  assert.deepEqual(order, ['visits', 'orders_value', 'new_clients', 'quotes_sent', 'conversion', 'pipeline_weighted']);
  await ctx.close();
});

test("a rep's browser edit reaches their connected CLI device", async () => {
  const store = stores[ALICE];
  const mine = JSON.parse(cliOk(store, ['account', 'list', '--json']));
  const id = mine[0].id;
  const watch = spawn(CLI, ['--store', store, 'sync', '--watch'], { stdio: ['ignore', 'pipe', 'pipe'] });
  let seen = '';
  watch.stdout.on('data', (b) => { seen += b; });
  await new Promise((r) => setTimeout(r, 1500));
  const { ctx, page } = await login(ALICE);
  await page.goto(`${base}/accounts/${id}`);
  await page.fill('#f-phone', '01 99 88 77 66');
  await Promise.all([page.waitForURL(`${base}/accounts/${id}`), page.locator('#f-phone').press('Enter')]);
  await shot(page, 'account-file');
  // A yes/no field is a select; the page reads back what was saved.
  await page.selectOption('#f-consent_email', 'true');
  await Promise.all([page.waitForURL(`${base}/accounts/${id}`), page.locator('form:has(#f-consent_email) button').click()]);
  assert.equal(await page.locator('#f-consent_email').inputValue(), 'true');
  const deadline = Date.now() + 20_000;
  while (!seen.includes(`changed ${id}`) && Date.now() < deadline) {
    await new Promise((r) => setTimeout(r, 100));
  }
  watch.kill('SIGTERM');
  await new Promise((r) => watch.on('exit', r));
  assert.ok(seen.includes(`changed ${id}`), `the watcher saw: ${seen}`);
  const file = JSON.parse(cliOk(store, ['account', 'show', id, '--json']));
  assert.equal(file.account.phone, '01 99 88 77 66');
  const history = JSON.parse(cliOk(store, ['account', 'history', id, '--json']));
  assert.equal(history.at(-1).author, ALICE);
  await ctx.close();
});

test("an account reassigned in the browser leaves the losing rep's device", async () => {
  const store = stores[ALICE];
  const id = cliOk(store, ['account', 'add', '--name', 'Export Nantes', '--postcode', '44000', '--city', 'Nantes']).trim();
  cliOk(store, ['sync']);
  const { ctx, page } = await login(MANAGER);
  // Accounts outside every territory are offered for reassignment.
  await page.goto(base + '/territories');
  await page.selectOption('#of', '-');
  await page.fill('#rq', 'Export');
  await Promise.all([page.waitForURL(/of=-/), page.click('form[action="/territories"][method="get"] button[type=submit]')]);
  await page.check(`#ra-${id}`);
  await page.selectOption('#to', BRUNO);
  await Promise.all([page.waitForURL(/\/territories\?of=-&q=Export$/), page.click('form[action="/territories/reassign"] button[type=submit]')]);
  await shot(page, 'territories');
  // A rule that is not a postcode prefix is refused, and nothing changes.
  const form = page.locator('form[action^="/territories/"]:not([action$="reassign"])').first();
  const input = form.locator('input[name=postcodes]');
  const before = await input.inputValue();
  await input.fill('75,abc');
  await Promise.all([page.waitForURL(/\/territories\?error=/), input.press('Enter')]);
  assert.match(await page.locator('[role=alert]').innerText(), /abc/);
  assert.equal(await page.locator('form[action^="/territories/"]:not([action$="reassign"])').first().locator('input[name=postcodes]').inputValue(), before);
  await ctx.close();
  cliOk(store, ['sync']);
  const left = JSON.parse(cliOk(store, ['account', 'list', '--json']));
  assert.ok(!left.some((h) => h.id === id), 'the account left Alice\'s store');
  assert.notEqual(cli(store, ['account', 'show', id, '--json']).status, 0);
});

test("a rep cannot reach another territory's account by URL, search, CSV or print view", async () => {
  const all = files(stores[MANAGER]);
  const visible = new Set(JSON.parse(cliOk(stores[ALICE], ['account', 'list', '--json'])).map((h) => h.id));
  const hidden = all.find((f) => f.account.owner === BRUNO && !visible.has(f.account.id)).account;
  const { ctx, page } = await login(ALICE);
  const random = '0b0e5c1a-3a57-4bd1-9b6a-2f3c4d5e6f70';
  for (const [path, tail] of [['/accounts/', ''], ['/print/accounts/', ''], ['/accounts/', '/pdf']]) {
    const h = await ctx.request.get(base + path + hidden.id + tail);
    const r = await ctx.request.get(base + path + random + tail);
    assert.equal(h.status(), 404);
    assert.equal(r.status(), 404);
    assert.ok(Buffer.compare(await h.body(), await r.body()) === 0, `${path}: hidden answers like missing`);
  }
  // Her own file, as a PDF to print.
  const own = await ctx.request.get(`${base}/accounts/${[...visible][0]}/pdf`);
  assert.equal(own.headers()['content-type'], 'application/pdf');
  const ownPath = join(SHOTS, 'dossier.pdf');
  writeFileSync(ownPath, await own.body());
  const ownText = spawnSync('pdftotext', ['-layout', ownPath, '-'], { encoding: 'utf8' }).stdout;
  assert.match(ownText, /Dossier client/);
  const search = await ctx.request.get(`${base}/accounts?q=${encodeURIComponent(hidden.name)}`);
  assert.ok(!(await search.text()).includes(hidden.id));
  const csv = await (await ctx.request.get(`${base}/accounts.csv?q=${encodeURIComponent(hidden.name)}`)).text();
  assert.equal(csv.trim().split('\r\n').length, 1, 'only the header');
  const everything = await (await ctx.request.get(`${base}/accounts.csv`)).text();
  assert.ok(!everything.includes(hidden.id));
  assert.equal(everything.trim().split('\r\n').length - 1, visible.size);
  const pipeline = await (await ctx.request.get(`${base}/pipeline`)).text();
  assert.ok(!pipeline.includes(hidden.id));
  assert.equal((await ctx.request.get(base + '/dashboard')).status(), 404, 'a rep has no dashboard');
  await ctx.close();
});

test('markup is escaped, forms need their CSRF token, and guessing passwords is throttled', async () => {
  const { ctx, page } = await login(ALICE);
  let dialogs = 0;
  page.on('dialog', (d) => { dialogs += 1; d.dismiss(); });
  await page.goto(base + '/accounts');
  await page.click('details summary');
  const evil = '<script>alert(1)</script>';
  await page.fill('#n-name', evil);
  await page.fill('#n-postcode', '75011');
  await Promise.all([page.waitForURL(/\/accounts\/[0-9a-f-]{36}$/), page.click('form[method=post][action="/accounts"] button[type=submit]')]);
  assert.equal(await page.locator('h1').innerText(), evil);
  assert.ok((await page.content()).includes('&lt;script&gt;alert(1)&lt;/script&gt;'));
  assert.equal(dialogs, 0);
  const csp = (await ctx.request.get(page.url())).headers()['content-security-policy'];
  assert.match(csp, /default-src 'none'/);
  assert.doesNotMatch(csp, /unsafe-inline/);
  const cookie = (await ctx.cookies()).find((c) => c.name === 'carnet_session');
  assert.equal(cookie.httpOnly, true);
  assert.equal(cookie.sameSite, 'Strict');

  const notes = page.url() + '/notes';
  const without = await ctx.request.post(notes, { form: { body: 'no token' }, maxRedirects: 0 });
  assert.equal(without.status(), 403);
  const token = await page.locator('input[name=csrf]').first().inputValue();
  const withToken = await ctx.request.post(notes, { form: { body: 'with token', csrf: token }, maxRedirects: 0 });
  assert.equal(withToken.status(), 303);
  // Hostile sizes are refused before anything reads them, and the server
  // keeps serving: a body over 64 KiB, a field over 10,000 characters.
  const huge = await ctx.request.post(notes, { form: { body: 'x'.repeat(70 * 1024), csrf: token }, maxRedirects: 0 });
  assert.equal(huge.status(), 413);
  const long = await ctx.request.post(notes, { form: { body: 'x'.repeat(10_001), csrf: token }, maxRedirects: 0 });
  assert.equal(long.status(), 413);
  const fields = { csrf: token };
  for (let i = 0; i < 200; i++) fields[`f${i}`] = 'x';
  const many = await ctx.request.post(notes, { form: fields, maxRedirects: 0 });
  assert.equal(many.status(), 413, 'more than 200 fields');
  // A filter number that would overflow date arithmetic is ignored.
  const idle = await ctx.request.get(base + '/accounts?idle=9223372036854775807');
  assert.equal(idle.status(), 200);
  assert.equal((await ctx.request.get(base + '/day')).status(), 200);
  // An admin's form posted by a rep answers like a missing page.
  const users = await ctx.request.post(base + '/users', {
    form: { email: 'x@demo.carnet.fr', role: 'admin', password: 'password-123', csrf: token }, maxRedirects: 0,
  });
  assert.equal(users.status(), 404);
  await ctx.close();

  const anon = await browser.newContext();
  for (let i = 1; i <= 11; i++) {
    const r = await anon.request.post(base + '/login', { form: { email: CHLOE, password: 'wrong-' + i }, maxRedirects: 0 });
    assert.equal(r.status(), i <= 10 ? 401 : 429, `attempt ${i}`);
  }
  await anon.close();
});

test('a quote is sent from the browser only with its legal mentions, and reads in French', async () => {
  const mine = JSON.parse(cliOk(stores[ALICE], ['account', 'list', '--json']));
  const id = mine[1].id;
  const addQuote = async (page, label) => {
    const form = page.locator(`form[action="/accounts/${id}/quotes"]`);
    await page.locator('details', { has: form }).locator('summary').click();
    await form.locator('input[name=label]').fill(label);
    await form.locator('input[name=qty]').fill('2');
    await form.locator('input[name=unit_price]').fill('150');
    await form.locator('input[name=vat_rate]').fill('20');
    await Promise.all([page.waitForURL(`${base}/accounts/${id}`), form.locator('button[type=submit]').click()]);
  };
  // The admin empties one company mention: a new quote lists it as missing.
  const admin = await login(ADMIN);
  await admin.page.goto(`${base}/company`);
  const rcs = admin.page.locator('#c-rcs_city');
  const town = await rcs.inputValue();
  assert.equal(town, 'Lyon');
  await rcs.fill('');
  await Promise.all([admin.page.waitForURL(`${base}/company`), rcs.press('Enter')]);
  assert.equal(await admin.page.locator('#c-rcs_city').inputValue(), '');
  await shot(admin.page, 'company');
  const { ctx, page } = await login(ALICE);
  await page.goto(`${base}/accounts/${id}`);
  await addQuote(page, 'Audit sans RCS');
  const blocked = page.locator('#h-quotes ~ table tbody tr', { hasText: 'brouillon' }).last();
  assert.match(await blocked.innerText(), /Mentions manquantes \(1\)/);
  await blocked.locator('summary').click();
  assert.match(await blocked.locator('details.missing li').innerText(), /ville d'immatriculation au RCS/);
  assert.equal(await blocked.locator('form[action$="/send"]').count(), 0);
  // Filled again: the quote can be sent, and reads "envoyé".
  await admin.page.locator('#c-rcs_city').fill(town);
  await Promise.all([admin.page.waitForURL(`${base}/company`), admin.page.locator('#c-rcs_city').press('Enter')]);
  await admin.ctx.close();
  await page.goto(`${base}/accounts/${id}`);
  const ready = page.locator('#h-quotes ~ table tbody tr', { hasText: 'brouillon' }).last();
  await Promise.all([page.waitForURL(`${base}/accounts/${id}`), ready.locator('form[action$="/send"] button').click()]);
  const statuses = await page.locator('#h-quotes ~ table tbody tr td:nth-child(2)').allInnerTexts();
  assert.ok(statuses.includes('envoyé'), statuses.join(','));
  assert.ok(!statuses.some((s) => ['draft', 'sent', 'accepted', 'refused'].includes(s)), statuses.join(','));
  // Its PDF, from the link on the page, read back with poppler.
  const href = await page.locator('#h-quotes ~ table tbody tr', { hasText: 'envoyé' }).last().locator('a[href$="/pdf"]').getAttribute('href');
  const res = await page.request.get(base + href);
  assert.equal(res.headers()['content-type'], 'application/pdf');
  const pdfPath = join(SHOTS, 'quote.pdf');
  writeFileSync(pdfPath, await res.body());
  const pdfText = spawnSync('pdftotext', ['-layout', pdfPath, '-'], { encoding: 'utf8' }).stdout.replace(/[\u00a0\u202f]/g, ' ');
  assert.match(pdfText, /DEVIS N°/);
  assert.match(pdfText, /RCS Lyon/);
  assert.match(pdfText, /Audit sans RCS/);
  // Sent by email from the browser: it waits in the file's outbox (this
  // server has no mail server set), listed on the page and its timeline.
  const row = page.locator('#h-quotes ~ table tbody tr', { hasText: 'envoyé' }).last();
  await row.getByText('Envoyer par e-mail').click();
  await row.getByLabel('Destinataire').fill('acheteur@client.example');
  await row.getByLabel('Message').fill('Bonjour, voici notre proposition.');
  await Promise.all([page.waitForURL(`${base}/accounts/${id}`), row.getByRole('button', { name: 'Envoyer le devis en PDF' }).click()]);
  const mails = page.locator('#h-emails ~ table tbody tr', { hasText: 'acheteur@client.example' });
  assert.equal(await mails.count(), 1);
  assert.match(await mails.innerText(), /en attente d'envoi/);
  assert.match(await page.locator('ol.timeline').innerText(), /e-mail à acheteur@client\.example/);
  await ctx.close();
  // The rep's device reads the quote sent, with the status the server holds,
  // and the message in its outbox.
  cliOk(stores[ALICE], ['sync']);
  const file = JSON.parse(cliOk(stores[ALICE], ['account', 'show', id, '--json']));
  assert.ok(file.quotes.some((q) => q.status === 'sent' && q.lines.some((l) => l.label === 'Audit sans RCS')));
  assert.ok(file.emails.some((e) => e.to === 'acheteur@client.example' && e.status === 'queued'), JSON.stringify(file.emails));
});

test('the printed to-do list holds the overdue actions, in order', async () => {
  const today = new Date().toISOString().slice(0, 10);
  const until = new Date(Date.now() + 7 * 86400e3).toISOString().slice(0, 10);
  const expected = [];
  for (const f of files(stores[ALICE])) {
    for (const a of f.actions) {
      if (a.assignee === ALICE && !a.done_on && a.due && a.due <= until) {
        expected.push({ due: a.due, account: f.account.name, subject: a.subject });
      }
    }
  }
  expected.sort((x, y) => (x.due + x.account).localeCompare(y.due + y.account));
  assert.ok(expected.some((e) => e.due < today), 'the demo seeds overdue actions');
  const { ctx, page } = await login(ALICE);
  await page.goto(`${base}/print/todo?to=${until}`);
  await page.emulateMedia({ media: 'print' });
  assert.equal(await page.locator('header.top').isVisible(), false, 'no navigation in print');
  assert.equal(await page.locator('footer.print-footer').isVisible(), true);
  const rows = await page.locator('tbody tr').evaluateAll((trs) => trs.map((tr) => [...tr.cells].map((c) => c.innerText.trim())));
  const fr = (iso) => iso.split('-').reverse().join('/');
  assert.deepEqual(rows.map((r) => [r[0].slice(0, 10), r[1]]), expected.map((e) => [fr(e.due), e.account]));
  await shot(page, 'print-todo');
  // The same list as a PDF, from the link on the page.
  const pdfHref = await page.locator('a[href^="/print/todo.pdf"]').getAttribute('href');
  const pdfRes = await page.request.get(base + pdfHref);
  assert.equal(pdfRes.headers()['content-type'], 'application/pdf');
  const todoPath = join(SHOTS, 'todo.pdf');
  writeFileSync(todoPath, await pdfRes.body());
  const todoText = spawnSync('pdftotext', ['-layout', todoPath, '-'], { encoding: 'utf8' }).stdout;
  const at = expected.map((e) => todoText.indexOf(e.account));
  assert.ok(at.every((i) => i >= 0), 'every account on the PDF');
  await page.pdf({ path: join(SHOTS, 'print-todo.pdf'), format: 'A4' });
  await ctx.close();
});

test('a manager fills the library from the browser; reps get only theirs; the logo heads the PDFs; a document goes with a quote', async () => {
  const logo = readFileSync(join(repo, 'core', 'tests', 'fixtures', 'logo.png'));
  const { ctx, page } = await login(MANAGER);
  await page.goto(`${base}/library`);
  const upload = async (title, name, mimeType, buffer, territory) => {
    await page.getByLabel('Titre', { exact: true }).fill(title);
    if (territory) await page.getByLabel(`secteur ${territory}`, { exact: true }).check();
    await page.getByLabel(/^Fichier/).setInputFiles({ name, mimeType, buffer });
    await Promise.all([page.waitForURL(/done=added/), page.getByRole('button', { name: 'Ajouter à la bibliothèque' }).click()]);
    await page.getByRole('status').filter({ hasText: 'Document ajouté' }).waitFor();
  };
  await upload('Tarifs web', 'tarifs.pdf', 'application/pdf', Buffer.from('%PDF-1.7 tarifs web'));
  await upload('Salon de Lyon web', 'lyon.pdf', 'application/pdf', Buffer.from('%PDF-1.7 lyon web'), 'Lyon');
  await upload('Logo web', 'logo.png', 'image/png', logo);
  await shot(page, 'library-manager');
  // Without the form's token: refused, nothing stored.
  const forged = await page.request.post(base + '/library', {
    multipart: { title: 'Sans jeton', file: { name: 'x.pdf', mimeType: 'application/pdf', buffer: Buffer.from('%PDF x') } },
  });
  assert.equal(forged.status(), 403);
  // A rep has no upload form, and a post of theirs answers like a missing page.
  const rep = await login(ALICE);
  await rep.page.goto(`${base}/library`);
  assert.equal(await rep.page.locator('form#upload').count(), 0);
  const link = rep.page.getByRole('link', { name: 'Tarifs web' });
  await link.waitFor();
  assert.equal(await rep.page.getByText('Salon de Lyon web').count(), 0);
  const res = await rep.ctx.request.get(base + await link.getAttribute('href'));
  assert.equal(res.status(), 200);
  assert.equal((await res.body()).toString(), '%PDF-1.7 tarifs web');
  const csrf = await rep.page.locator('input[name=csrf]').first().inputValue();
  const repPost = await rep.page.request.post(base + '/library', {
    multipart: { csrf, title: 'Du commercial', file: { name: 'x.pdf', mimeType: 'application/pdf', buffer: Buffer.from('%PDF x') } },
  });
  assert.equal(repPost.status(), 404);
  // Withdrawn by the manager: gone from the list.
  await Promise.all([page.waitForURL(/done=removed/), page.getByRole('button', { name: 'Retirer Salon de Lyon web' }).click()]);
  assert.equal(await page.getByText('Salon de Lyon web').count(), 0);
  await ctx.close();

  // The admin makes the uploaded image the letterhead's logo.
  const admin = await login(ADMIN);
  await admin.page.goto(`${base}/company`);
  await admin.page.getByLabel(/^Image de la bibliothèque/).selectOption({ label: 'Logo web (logo.png)' });
  await Promise.all([admin.page.waitForURL(`${base}/company`), admin.page.locator('form[action="/company/logo"] button').click()]);
  await admin.page.locator('img.logo').waitFor();
  // A document that is no image cannot be the logo.
  await admin.page.getByLabel(/^Image de la bibliothèque/).evaluate((sel) => {
    const o = document.createElement('option');
    o.value = '0'.repeat(64);
    o.textContent = 'forged';
    sel.append(o);
    sel.value = o.value;
  });
  await Promise.all([admin.page.waitForURL(/error=/), admin.page.locator('form[action="/company/logo"] button').click()]);
  assert.match(await admin.page.getByRole('alert').innerText(), /n'est pas dans la bibliothèque/);
  await admin.ctx.close();

  // Alice's customer file as a PDF: headed by the logo.
  const mine = JSON.parse(cliOk(stores[ALICE], ['account', 'list', '--json']));
  const id = mine[1].id;
  const pdf = await rep.ctx.request.get(`${base}/accounts/${id}/pdf`);
  assert.equal(pdf.status(), 200);
  const pdfPath = join(SHOTS, 'dossier-logo.pdf');
  writeFileSync(pdfPath, await pdf.body());
  const list = spawnSync('pdfimages', ['-list', pdfPath], { encoding: 'utf8' }).stdout;
  assert.match(list, /\bimage\s+180\s+60\b/, list);

  // The sent quote of that file goes by email with a library document.
  await rep.page.goto(`${base}/accounts/${id}`);
  const row = rep.page.locator('#h-quotes ~ table tbody tr', { hasText: 'envoyé' }).last();
  await row.getByText('Envoyer par e-mail').click();
  await row.getByLabel('Destinataire').fill('documents@client.example');
  // A document she may not fetch, forged into the form: the answer of a
  // missing page, nothing queued; the honest send then goes through.
  const action = await row.locator('form[action$="/email"]').getAttribute('action');
  const repCsrf = await rep.page.locator('input[name=csrf]').first().inputValue();
  const forgedMail = await rep.page.request.post(base + action, {
    form: { csrf: repCsrf, to: 'documents@client.example', attach: 'ab'.repeat(32) }, maxRedirects: 0,
  });
  assert.equal(forgedMail.status(), 404);
  await row.getByLabel('Tarifs web').check();
  await Promise.all([rep.page.waitForURL(`${base}/accounts/${id}`), row.getByRole('button', { name: 'Envoyer le devis en PDF' }).click()]);
  const mail = rep.page.locator('#h-emails ~ table tbody tr', { hasText: 'documents@client.example' });
  assert.match(await mail.innerText(), /Joint : Tarifs web/);
  await rep.ctx.close();
  cliOk(stores[ALICE], ['sync']);
  const file = JSON.parse(cliOk(stores[ALICE], ['account', 'show', id, '--json']));
  const toClient = file.emails.filter((e) => e.to === 'documents@client.example');
  assert.equal(toClient.length, 1, 'the forged message was not queued');
  assert.equal(toClient[0].attachments.length, 1, JSON.stringify(toClient[0]));
});

test("a manager finds a twin a rep made and merges it; the rep's device ends with one file holding both", async () => {
  const store = stores[ALICE];
  const original = JSON.parse(cliOk(store, ['account', 'list', '--json']))[0];
  const shown = JSON.parse(cliOk(store, ['account', 'show', original.id, '--json']));
  const twin = cliOk(store, ['account', 'add', '--name', `${shown.account.name.toUpperCase()} SARL`, '--postcode', shown.account.postcode]).trim();
  cliOk(store, ['contact', 'add', twin, '--name', 'Zoé Doublon', '--role', 'Comptable']);
  cliOk(store, ['sync']);
  // A rep has no such page: the answer of a missing one.
  const rep = await login(ALICE);
  const r = await rep.page.goto(base + '/quality');
  assert.equal(r.status(), 404);
  await rep.ctx.close();

  const { ctx, page } = await login(MANAGER);
  await page.goto(base + '/quality');
  await page.getByRole('heading', { name: 'Doublons probables' }).waitFor();
  const esc = (x) => x.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
  const [a, b] = [esc(shown.account.name), esc(`${shown.account.name.toUpperCase()} SARL`)];
  // The file kept is the one with more in it: either way round.
  const button = page.getByRole('button', { name: new RegExp(`^Fusionner (${a} → ${b}|${b} → ${a})$`) });
  const offered = await page.getByRole('button', { name: /^Fusionner/ }).evaluateAll((bs) => bs.map((x) => x.getAttribute('aria-label')));
  assert.equal(await button.count(), 1, `one merge offered for the pair, among: ${offered.join(' | ')} (${shown.account.name})`);
  await shot(page, 'quality');
  await Promise.all([page.waitForURL(/merged=1/), button.click()]);
  await page.getByRole('status').filter({ hasText: 'Dossiers fusionnés.' }).waitFor();
  await ctx.close();

  cliOk(store, ['sync']);
  const ids = JSON.parse(cliOk(store, ['account', 'list', '--json', '--limit', '1000'])).map((h) => h.id);
  const kept = [original.id, twin].filter((id) => ids.includes(id));
  assert.equal(kept.length, 1, 'one of the two files left the list');
  const merged = JSON.parse(cliOk(store, ['account', 'show', kept[0], '--json']));
  const names = merged.contacts.map((c) => c.name);
  assert.ok(names.includes('Zoé Doublon'), 'the twin\'s contact is in the file kept');
  for (const c of shown.contacts) assert.ok(names.includes(c.name), `${c.name} is in the file kept`);
});

test('a manager merging files outside their team gets the answer of a missing file, and nothing merges', async () => {
  // A second manager, with no team: every demo file is hidden from her.
  const admin = await login(ADMIN);
  await admin.page.goto(`${base}/users`);
  const adminCsrf = await admin.page.locator('input[name=csrf]').first().inputValue();
  const added = await admin.page.request.post(`${base}/users`, {
    form: { csrf: adminCsrf, email: 'nina@demo.carnet.fr', role: 'manager', name: 'Nina Sans Équipe', password: PASSWORD },
  });
  assert.ok(added.ok(), `user added: ${added.status()}`);
  await admin.ctx.close();
  const before = JSON.parse(cliOk(stores[ALICE], ['account', 'list', '--json', '--limit', '1000'])).map((h) => h.id);
  const [a, b] = before;
  const { ctx, page } = await login('nina@demo.carnet.fr');
  await page.goto(`${base}/quality`);
  const csrf = await page.locator('input[name=csrf]').first().inputValue();
  const post = (winner, loser) => page.request.post(`${base}/quality/merge`, { form: { csrf, winner, loser }, maxRedirects: 0 });
  const hidden = await post(a, b);
  const missing = await post('00000000-0000-4000-8000-000000000001', '00000000-0000-4000-8000-000000000002');
  assert.equal(hidden.status(), 404);
  assert.equal(missing.status(), 404);
  // The same page, byte for byte but for the clock in its print footer.
  const plain = async (r) => (await r.text()).replace(/\d/g, '');
  assert.equal(await plain(hidden), await plain(missing), 'hidden answers exactly like missing');
  await ctx.close();
  cliOk(stores[ALICE], ['sync']);
  const after = JSON.parse(cliOk(stores[ALICE], ['account', 'list', '--json', '--limit', '1000'])).map((h) => h.id);
  assert.ok(after.includes(a) && after.includes(b), 'both files are still listed');
});

test('a manager imports a CSV from the browser, dry run first; the rep of the territory gets the new file', async () => {
  const csv = Buffer.from(
    'Raison sociale;CP;Ville;Tél.;Contact;Fonction\r\n' +
    'Atelier Web Import;75010;Paris;01 40 00 00 09;Inès Import;Gérante\r\n' +
    'ATELIER WEB IMPORT SARL;75010;Paris;;;\r\n' +
    'Mauvais numéro;75012;Paris;pas un numéro;;\r\n' +
    ';75011;Paris;;;\r\n', 'utf8');
  const rep = await login(ALICE);
  assert.equal((await rep.page.goto(base + '/import')).status(), 404);
  await rep.ctx.close();

  const { ctx, page } = await login(MANAGER);
  await page.goto(base + '/quality');
  await Promise.all([page.waitForURL(base + '/import'), page.getByRole('link', { name: 'Importer un fichier de clients (CSV)' }).click()]);
  const send = async (dry) => {
    await page.getByLabel(/Fichier CSV/).setInputFiles({ name: 'clients.csv', mimeType: 'text/csv', buffer: csv });
    await page.locator('#dry_run').setChecked(dry);
    await Promise.all([page.waitForLoadState('load'), page.getByRole('button', { name: 'Importer' }).click()]);
    return page.getByRole('status').innerText();
  };
  const dry = await send(true);
  assert.match(dry, /Simulation/);
  assert.match(dry, /Créés : 1 · mis à jour : 0 · doublons : 1 · rejetés : 2 · lignes vides : 0/);
  cliOk(stores[ALICE], ['sync']);
  assert.ok(!JSON.parse(cliOk(stores[ALICE], ['account', 'list', '--json', '--limit', '1000'])).some((h) => h.name === 'Atelier Web Import'));
  const real = await send(false);
  assert.doesNotMatch(real, /Simulation/);
  assert.match(real, /Créés : 1 /);
  const rows = await page.getByRole('table', { name: 'Lignes ignorées ou rejetées' }).getByRole('row').allInnerTexts();
  assert.equal(rows.length, 4);
  assert.match(rows[1], /^3\s+doublon\s+doublon de « Atelier Web Import »/);
  assert.match(rows[2], /^4\s+rejetée\s+.*pas un numéro/);
  assert.match(rows[3], /^5\s+rejetée/);
  await shot(page, 'import');
  // Without the form's token: refused before any file is written.
  const forged = await page.request.post(base + '/import', {
    multipart: { file: { name: 'x.csv', mimeType: 'text/csv', buffer: Buffer.from('Raison sociale\nSans jeton\n') } },
  });
  assert.equal(forged.status(), 403);
  // With it, a file over the 20 MB cap is refused with a message, and
  // nothing is imported. The server reads the rest of it (up to 60 MB) so
  // the answer is not lost to a reset while the client still sends.
  const csrf = await page.locator('input[name=csrf]').first().inputValue();
  const big = await page.request.post(base + '/import', {
    multipart: {
      csrf,
      file: { name: 'big.csv', mimeType: 'text/csv', buffer: Buffer.concat([Buffer.from('Raison sociale\n'), Buffer.alloc(21 << 20, 'x')]) },
    },
  });
  assert.equal(big.status(), 200);
  assert.match(await big.text(), /Le fichier dépasse 20 Mo ou n'a pas été reçu en entier : rien n'est importé\./);
  await ctx.close();
  cliOk(stores[ALICE], ['sync']);
  const hit = JSON.parse(cliOk(stores[ALICE], ['account', 'list', '--json', '--limit', '1000'])).find((h) => h.name === 'Atelier Web Import');
  assert.ok(hit, 'the Paris rep got the imported file');
  const file = JSON.parse(cliOk(stores[ALICE], ['account', 'show', hit.id, '--json']));
  assert.equal(file.account.phone, '+33140000009');
  assert.deepEqual(file.contacts.map((c) => c.role), ['Gérante']);
});

test('a manager names the columns the import did not recognize, checks, then imports the same file without sending it again', async () => {
  const csv = Buffer.from('Boutique;CP;Ville;Ligne directe\r\nBoulangerie Colonne;75018;Paris;01 42 00 00 18\r\n', 'utf8');
  const { ctx, page } = await login(MANAGER);
  await page.goto(base + '/import');
  await page.getByLabel(/Fichier CSV/).setInputFiles({ name: 'enseignes.csv', mimeType: 'text/csv', buffer: csv });
  await Promise.all([page.waitForLoadState('load'), page.getByRole('button', { name: 'Importer' }).click()]);
  assert.match(await page.getByRole('alert').innerText(), /aucune colonne ne donne la raison sociale \(en-têtes : Boutique, CP, Ville, Ligne directe\)/);
  // The unrecognized columns, named by hand.
  await page.getByLabel('Boutique', { exact: true }).selectOption('name');
  await page.getByLabel('Ligne directe', { exact: true }).selectOption('phone');
  const again = page.getByRole('button', { name: 'Reprendre le même fichier avec ces colonnes' });
  await Promise.all([page.waitForLoadState('load'), again.click()]);
  assert.match(await page.getByRole('status').innerText(), /Simulation.*Créés : 1 /s);
  // A field the list does not offer, forged: refused in French, the file kept.
  {
    const token = await page.locator('input[name=token]').inputValue();
    const csrf = await page.locator('input[name=csrf]').first().inputValue();
    const forged = await page.request.post(base + '/import/columns', { form: { csrf, token, c0: 'name', c3: 'owner_password', dry_run: 'on' } });
    const text = await forged.text();
    assert.match(text, /un champ que la liste ne propose pas/);
    assert.match(text, /Reprendre le même fichier avec ces colonnes/);
  }
  // The choices stay; now for real.
  assert.equal(await page.getByLabel('Boutique', { exact: true }).inputValue(), 'name');
  await page.locator('#col-dry_run').setChecked(false);
  const token = await page.locator('input[name=token]').inputValue();
  await Promise.all([page.waitForLoadState('load'), again.click()]);
  const done = await page.getByRole('status').innerText();
  assert.doesNotMatch(done, /Simulation/);
  assert.match(done, /Créés : 1 /);
  // The file is gone once imported: the same token answers so.
  const csrf = await page.locator('input[name=csrf]').first().inputValue();
  const replay = await page.request.post(base + '/import/columns', { form: { csrf, token, c0: 'name' } });
  assert.match(await replay.text(), /n'est plus disponible/);
  await ctx.close();
  // The rep of the territory gets the file, with its phone.
  cliOk(stores[ALICE], ['sync']);
  const hit = JSON.parse(cliOk(stores[ALICE], ['account', 'list', '--json', '--limit', '1000'])).find((h) => h.name === 'Boulangerie Colonne');
  assert.ok(hit, 'the Paris rep got the file');
  const file = JSON.parse(cliOk(stores[ALICE], ['account', 'show', hit.id, '--json']));
  assert.equal(file.account.phone, '+33142000018');
});

test("an admin erases a person from the browser; a manager cannot; the rep's device loses her", async () => {
  const store = stores[ALICE];
  const account = JSON.parse(cliOk(store, ['account', 'list', '--json']))[0].id;
  const contact = cliOk(store, ['contact', 'add', account, '--name', 'Yannick Effaçable', '--email', 'yannick.effacable@exemple.fr']).trim();
  cliOk(store, ['sync']);
  // Not a manager's to do: the answer of a missing page, and nothing goes.
  const m = await login(MANAGER);
  await m.page.goto(`${base}/accounts/${account}`);
  const csrf = await m.page.locator('input[name=csrf]').first().inputValue();
  const refused = await m.page.request.post(`${base}/contacts/${contact}/erase`, { form: { csrf, confirm: 'yes' }, maxRedirects: 0 });
  assert.equal(refused.status(), 404);
  await m.ctx.close();
  cliOk(store, ['sync']);
  let file = JSON.parse(cliOk(store, ['account', 'show', account, '--json']));
  assert.ok(file.contacts.some((c) => c.id === contact), 'still there after the manager tried');

  const { ctx, page } = await login(ADMIN);
  await page.goto(`${base}/accounts/${account}`);
  const row = page.locator('tr', { hasText: 'Yannick Effaçable' });
  await row.getByText('Effacer (RGPD)').click();
  await row.getByLabel("Je confirme l'effacement de Yannick Effaçable").check();
  await shot(page, 'erase');
  await Promise.all([page.waitForURL(`${base}/accounts/${account}`), row.getByRole('button', { name: 'Effacer définitivement' }).click()]);
  assert.equal(await page.getByText('Yannick Effaçable').count(), 0, 'gone from the page');
  await ctx.close();

  cliOk(store, ['sync']);
  file = JSON.parse(cliOk(store, ['account', 'show', account, '--json']));
  assert.ok(!file.contacts.some((c) => c.id === contact), "gone from the rep's device");
  assert.ok(!JSON.stringify(file).includes('Effaçable'));
});

test('every page passes axe-core with no serious or critical violation', async () => {
  const axe = require.resolve('axe-core/axe.min.js');
  const account = JSON.parse(cliOk(stores[MANAGER], ['account', 'list', '--json']))[0].id;
  // axe is injected as a script: this context alone bypasses the CSP.
  const { ctx, page } = await login(ADMIN, { bypassCSP: true });
  const pages = {
    day: '/day', accounts: '/accounts', 'account-file-admin': `/accounts/${account}`, pipeline: '/pipeline',
    'dashboard-admin': '/dashboard', forecast: '/forecast', commissions: `/commissions?rep=${ALICE}`,
    'targets-admin': '/targets', 'territories-admin': '/territories', users: '/users', company: '/company', library: '/library', quality: '/quality', import: '/import',
    'print-todo-admin': '/print/todo', 'print-account': `/print/accounts/${account}`,
  };
  const failures = [];
  for (const [name, path] of Object.entries(pages)) {
    await page.goto(base + path);
    await page.addScriptTag({ path: axe });
    const result = await page.evaluate(async () => await window.axe.run(document));
    const bad = result.violations.filter((v) => v.impact === 'serious' || v.impact === 'critical');
    for (const v of bad) failures.push(`${path}: ${v.id} (${v.impact}) ${v.nodes.slice(0, 3).map((n) => n.target.join(' ')).join(', ')}`);
    await page.setViewportSize({ width: 768, height: 1024 });
    await shot(page, name);
    await page.setViewportSize({ width: 1280, height: 800 });
  }
  await ctx.close();
  const anon = await browser.newContext({ bypassCSP: true });
  const lp = await anon.newPage();
  await lp.goto(base + '/login');
  await lp.addScriptTag({ path: axe });
  const r = await lp.evaluate(async () => await window.axe.run(document));
  for (const v of r.violations.filter((v) => v.impact === 'serious' || v.impact === 'critical')) failures.push(`/login: ${v.id}`);
  await shot(lp, 'login');
  await anon.close();
  assert.deepEqual(failures, []);
});
