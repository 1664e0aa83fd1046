// End-to-end test of the dashboard in headless Chromium.
//
// Starts `invest serve` on a free loopback port over a fresh SQLite database, with the monitor
// replaying real prices of June–July 2009 (symbol XYZ, five-minute steps from each day's open to its close) at 20,000× speed, then as a user:
// signs up, creates a rule, waits for the replay to trigger it, sees the alert arrive without
// reloading and on the chart, acknowledges it, creates and revokes an API key, signs out.
//
//   node dashboard.mjs [path/to/invest]      (default: ../../target/debug/invest)
//   SCREENSHOTS=DIR node dashboard.mjs       also saves screenshots of the main pages in DIR
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer as createHttpServer } from 'node:http';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import assert from 'node:assert/strict';
import { chromium } from 'playwright-core';

const here = dirname(fileURLToPath(import.meta.url));
const invest = resolve(process.argv[2] || join(here, '../../target/debug/invest'));
const shots = process.env.SCREENSHOTS ? resolve(process.env.SCREENSHOTS) : null;

const freePort = () => new Promise((ok, fail) => {
  const srv = createServer();
  srv.listen(0, '127.0.0.1', () => { const { port } = srv.address(); srv.close(() => ok(port)); });
  srv.on('error', fail);
});

// A mock of Plaid's API answering in its real shapes. Holdings fail with ITEM_LOGIN_REQUIRED
// from the second sync until Link is opened in update mode (the user reconnects).
const fixtures = join(here, '../../signal-sentinel/tests/fixtures/plaid');
const plaidState = { syncs: 0, broken: false, updateTokens: 0 };
const plaid = createHttpServer((req, res) => {
  let body = '';
  req.on('data', (c) => { body += c; });
  req.on('end', () => {
    const json = body ? JSON.parse(body) : {};
    const send = (status, value) => { res.writeHead(status, { 'Content-Type': 'application/json' }); res.end(typeof value === 'string' ? value : JSON.stringify(value)); };
    if (req.headers['plaid-client-id'] !== 'e2e-client' || req.headers['plaid-secret'] !== 'e2e-plaid-secret') {
      return send(400, { error_type: 'INVALID_INPUT', error_code: 'INVALID_API_KEYS', error_message: 'invalid client_id or secret provided', display_message: null, request_id: 'e2e' });
    }
    switch (req.url) {
      case '/link/token/create':
        if (json.access_token) { plaidState.updateTokens += 1; plaidState.broken = false; }
        return send(200, { link_token: `link-sandbox-e2e-${Date.now()}`, expiration: '2030-01-01T00:00:00Z', request_id: 'e2e' });
      case '/item/public_token/exchange':
        return send(200, { access_token: 'access-sandbox-e2e', item_id: 'item-e2e', request_id: 'e2e' });
      case '/investments/holdings/get':
        plaidState.syncs += 1;
        if (plaidState.syncs === 2) plaidState.broken = true;
        return plaidState.broken
          ? send(400, readFileSync(join(fixtures, 'item_login_required.json'), 'utf8'))
          : send(200, readFileSync(join(fixtures, 'holdings.json'), 'utf8'));
      case '/item/remove':
        return send(200, { request_id: 'e2e' });
      default:
        return send(404, { error_type: 'INVALID_REQUEST', error_code: 'NOT_FOUND', error_message: 'not found', request_id: 'e2e' });
    }
  });
});
await new Promise((ok) => plaid.listen(0, '127.0.0.1', ok));
const plaidBase = `http://127.0.0.1:${plaid.address().port}`;

// Stands in for Plaid Link's script: Link "succeeds" at once, as when a user picks their
// brokerage and signs in there.
const FAKE_PLAID_LINK = `window.Plaid = { create(config) { return {
  open() { setTimeout(() => config.onSuccess('public-sandbox-e2e', { institution: { name: 'Houndstooth Bank', institution_id: 'ins_3' } }), 10); },
  exit() {}, destroy() {} }; } };`;

const port = await freePort();
const dir = mkdtempSync(join(tmpdir(), 'ss-e2e-'));
const base = `http://127.0.0.1:${port}`;
const server = spawn(invest, [
  'serve', '--host', '127.0.0.1', '--port', String(port),
  '--market', `replay:${join(here, 'xyz.csv')}`, '--speed', '20000', '--interval', '1s',
], {
  env: {
    PATH: process.env.PATH,
    DATABASE_URL: `sqlite://${join(dir, 'e2e.db')}?mode=rwc`,
    SECRET_KEY: 'e2e-secret-key-0123456789abcdef0123456789',
    SIGNAL_SENTINEL_DATA_DIR: dir,
    LOG_LEVEL: 'warn',
    PLAID_CLIENT_ID: 'e2e-client',
    PLAID_SECRET: 'e2e-plaid-secret',
    PLAID_BASE_URL: plaidBase,
  },
  stdio: ['ignore', 'inherit', 'inherit'],
});

let browser;
const cleanup = async () => {
  if (browser) await browser.close().catch(() => {});
  server.kill('SIGTERM');
  plaid.close();
  rmSync(dir, { recursive: true, force: true });
};

async function waitForServer() {
  for (let i = 0; i < 100; i += 1) {
    try { if ((await fetch(`${base}/api/health`)).ok) return; } catch (_) { /* not yet */ }
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error('the server did not start');
}

const step = (name) => console.log(`  ✓ ${name}`);

try {
  await waitForServer();
  const index = await fetch(`${base}/`);
  assert.match(index.headers.get('content-security-policy'), /script-src 'self'/);
  step('the dashboard is served with a Content-Security-Policy');

  browser = await chromium.launch({
    executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking'],
  });
  const context = await browser.newContext({ viewport: { width: 1200, height: 900 } });
  const page = await context.newPage();
  const errors = [];
  page.on('pageerror', (e) => errors.push(e.message));
  // Refused requests (422 in the validation steps) log "Failed to load resource"; anything
  // else on the console (a CSP violation, an exception) fails the test.
  page.on('console', (m) => { if (m.type() === 'error' && !m.text().startsWith('Failed to load resource')) errors.push(m.text()); });
  page.on('dialog', (d) => d.accept());
  await page.route('https://cdn.plaid.com/link/v2/stable/link-initialize.js',
    (route) => route.fulfill({ status: 200, contentType: 'text/javascript', body: FAKE_PLAID_LINK }));
  const nav = (name) => page.locator('#nav').getByRole('link', { name, exact: true }).click();
  const shot = async (name) => { if (shots) await page.screenshot({ path: join(shots, `${name}.png`), fullPage: true }); };

  // Sign up (with a field-level error first).
  await page.goto(`${base}/#/signup`);
  await page.getByLabel('E-mail').fill('ann@example.com');
  await page.getByLabel('Password').fill('short');
  await page.getByRole('button', { name: 'Create account' }).click();
  await page.locator('[data-error-for="password"]', { hasText: '8 to 1024' }).waitFor();
  step('a too-short password is refused next to its field');
  await page.getByLabel('Password').fill('correct horse battery');
  await page.getByRole('button', { name: 'Create account' }).click();
  await page.getByRole('heading', { name: 'Overview' }).waitFor();
  step('signed up and in');
  assert.equal(await page.evaluate(() => localStorage.length + sessionStorage.length), 0);
  assert.equal((await context.cookies()).length, 0);
  step('no token in localStorage, sessionStorage or cookies');

  // Holdings from CSV: a bad line is refused, then the portfolio shows its value.
  await page.getByLabel(/^Import holdings/).fill('symbol,quantity,cost_basis\nXYZ,ten,20');
  await page.getByRole('button', { name: 'Import holdings' }).click();
  await page.locator('[data-error-for="csv"]', { hasText: 'line 2' }).waitFor();
  await page.getByLabel(/^Import holdings/).fill('symbol,quantity,cost_basis\nXYZ,10,20');
  await page.getByRole('button', { name: 'Import holdings' }).click();
  await page.locator('#portfolio-value', { hasText: 'Value' }).waitFor();
  step('holdings imported from CSV and valued');

  // A brokerage through Plaid Link: linked, then it needs a new sign-in, then reconnected.
  await page.getByRole('button', { name: 'Link brokerage' }).click();
  const link = page.locator('#connections li[data-connection-id]').first();
  await link.filter({ hasText: 'Houndstooth Bank' }).filter({ hasText: '4 positions' }).waitFor();
  assert.match(await link.innerText(), /active/);
  step('a brokerage linked through Plaid Link; its 4 positions synchronised');
  await page.getByRole('button', { name: 'Sync now' }).click();
  await link.filter({ hasText: 'ITEM_LOGIN_REQUIRED' }).waitFor();
  assert.match(await link.innerText(), /needs attention/);
  assert.match(await link.innerText(), /4 positions/);
  step('an item error shows what to do, and the positions are kept');
  await link.getByRole('button', { name: 'Reconnect' }).click();
  await page.locator('#connections li[data-connection-id]', { hasText: 'active' }).waitFor();
  assert.equal(plaidState.updateTokens, 1, 'Link was opened in update mode');
  step('reconnected through Link in update mode');

  // A rule, with validation and a backtest preview.
  await nav('Rules');
  await page.getByText('No rules yet').waitFor();
  await page.getByLabel('Sentence').fill('tell me if Apple drops 5% today');
  await page.getByRole('button', { name: 'Read' }).click();
  await page.locator('#said', { hasText: 'previous session' }).waitFor();
  assert.equal(await page.getByLabel(/^Rule/).inputValue(), 'AAPL day change <= -5%');
  await page.getByLabel('Sentence').fill('tell me if Apple drops 5% this week');
  await page.getByRole('button', { name: 'Read' }).click();
  await page.locator('#said .error', { hasText: 'No rule from that' }).waitFor();
  step('a sentence read into the rule field, and one refused with the reason');
  await page.getByLabel(/^Rule/).fill('XYZ crosses abve 30');
  await page.getByRole('button', { name: 'Create rule' }).click();
  await page.locator('[data-error-for="text"]', { hasText: 'column' }).waitFor();
  step('bad rule text is refused with the column');
  await page.getByLabel(/^Rule/).fill('XYZ crosses above 30');
  await page.getByLabel('From').fill('2009-06-01');
  await page.getByLabel('To').fill('2009-07-31');
  await page.getByRole('button', { name: 'Preview' }).click();
  await page.locator('#backtest', { hasText: 'alerts over' }).waitFor();
  step('backtest preview before saving');
  await page.getByLabel('Name (optional)').fill('<b>breakout</b>');
  await page.getByRole('button', { name: 'Create rule' }).click();
  await page.locator('tr[data-rule-id]').first().waitFor();
  assert.equal(await page.locator('tr[data-rule-id] b').count(), 0, 'a name is text, never HTML');
  step('rule created; its name is escaped');
  await page.getByLabel(/^Import rules/).fill('XYZ crosses abve 1000');
  await page.getByRole('button', { name: 'Import rules' }).click();
  await page.locator('.form-error, [data-error-for="file"]', { hasText: 'line 1' }).first().waitFor();
  await page.getByLabel(/^Import rules/).fill('# from a file\nXYZ price > 1000 {"name":"far"}');
  await page.getByRole('button', { name: 'Import rules' }).click();
  await page.locator('#toast', { hasText: '1 rules added' }).waitFor();
  await page.locator('tr[data-rule-id]', { hasText: 'XYZ price > 1000' }).waitFor();
  step('a rules file imported; a bad line is named');
  await shot('rules');

  // The replay triggers it; the alert arrives on the overview without reloading.
  await nav('Overview');
  await page.getByRole('heading', { name: 'Overview' }).waitFor();
  await page.locator('#live-alerts li[data-alert-id]').first().waitFor({ timeout: 90_000 });
  const alertText = await page.locator('#live-alerts li[data-alert-id]').first().innerText();
  assert.match(alertText, /XYZ/);
  step('the alert appeared live, without reloading');
  await page.getByRole('button', { name: 'Watch my holdings' }).click();
  await page.locator('#toast', { hasText: 'Watching your holdings' }).waitFor();
  step('watch my holdings created a rule for each position');
  await shot('overview');

  // On the chart.
  await page.locator('#live-alerts li[data-alert-id] a', { hasText: 'XYZ' }).first().click();
  await page.locator('svg#chart circle.alert-marker').first().waitFor();
  assert.ok(await page.locator('svg#chart line.level').count() >= 1);
  assert.equal(await page.locator('main').evaluate((m) => m.textContent.includes('null')), false, 'no "null" printed');
  step('the chart shows the rule level and the alert');
  await shot('symbol');

  // Acknowledge it.
  await nav('Alerts');
  await page.getByRole('button', { name: 'Acknowledge' }).first().click();
  await page.getByRole('cell', { name: 'seen' }).first().waitFor();
  step('alert acknowledged');
  await page.getByRole('button', { name: 'Deliveries' }).first().click();
  await page.locator('#alert-detail', { hasText: 'Not sent anywhere' }).waitFor();
  await shot('alerts');

  // Notifications page renders its forms.
  await nav('Notifications');
  await page.getByRole('button', { name: 'Save preferences' }).waitFor();
  await page.getByLabel(/^Daily digest at/).fill('18:00');
  await page.getByLabel(/^Add the summary/).uncheck();
  await page.getByRole('button', { name: 'Save preferences' }).click();
  await page.locator('#toast', { hasText: 'Preferences saved' }).waitFor();
  // Away and back (each page finishes loading before the next navigation).
  await nav('Overview');
  await page.getByRole('heading', { name: 'Overview' }).waitFor();
  await nav('Notifications');
  await page.getByRole('button', { name: 'Save preferences' }).waitFor();
  assert.equal(await page.getByLabel(/^Daily digest at/).inputValue(), '18:00');
  assert.equal(await page.getByLabel(/^Add the summary/).isChecked(), false);
  step('notification preferences saved (digest time, summaries off)');
  // A channel by URL: its token never comes back to the page.
  await page.getByLabel('Kind').selectOption('url');
  await page.getByLabel(/^Chat id, webhook URL or channel URL/).fill('ntfys://tk_e2esecret@ntfy.example.com/desk');
  await page.getByLabel('Name (optional)').fill('phone');
  await page.getByRole('button', { name: 'Add channel' }).click();
  await page.getByRole('cell', { name: 'ntfy', exact: true }).waitFor();
  assert.equal((await page.content()).includes('tk_e2esecret'), false);
  step('ntfy channel added by URL, its token not shown');
  // Telegram: a one-time code to send to the bot.
  await page.getByRole('button', { name: 'Get a link code' }).click();
  const command = (await page.locator('#telegram-command').innerText()).trim();
  assert.match(command, /^\/start [A-Z2-9]{10}$/);
  step('Telegram link code shown as the /start command');
  // Mute for an hour, then unmute.
  await page.getByLabel('Mute for').selectOption('60');
  await page.getByRole('button', { name: 'Mute', exact: true }).click();
  await page.locator('#muted-until').waitFor();
  await page.getByRole('button', { name: 'Unmute' }).click();
  await page.getByRole('button', { name: 'Mute', exact: true }).waitFor();
  step('notifications muted for an hour, then unmuted');
  await shot('notifications');

  // An API key: shown once, works, revoked.
  await nav('API keys');
  await page.getByRole('button', { name: 'Create key' }).waitFor();
  await page.getByLabel('Name').fill('cron');
  await page.getByRole('button', { name: 'Create key' }).click();
  const key = (await page.locator('#new-key-value').innerText()).trim();
  assert.match(key, /^ss_[0-9a-f]{56}$/);
  assert.equal((await fetch(`${base}/api/auth/me`, { headers: { 'X-API-Key': key } })).status, 200);
  step('API key created, shown once, and it works');
  await shot('api-keys');
  await page.getByRole('button', { name: 'Revoke' }).click();
  await page.getByText(/^revoked/).waitFor();
  assert.equal((await fetch(`${base}/api/auth/me`, { headers: { 'X-API-Key': key } })).status, 401);
  step('API key revoked');

  // Phone width: the navigation and tables still fit.
  await page.setViewportSize({ width: 390, height: 800 });
  await nav('Rules');
  const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
  assert.ok(overflow <= 1, `page wider than a phone by ${overflow}px`);
  step('readable at phone width');

  // Sign out: back to the sign-in page; reloading does not bring the session back.
  await page.setViewportSize({ width: 1200, height: 900 });
  await page.getByRole('button', { name: 'Sign out' }).click();
  await page.getByRole('heading', { name: 'Sign in' }).waitFor();
  await page.goto(`${base}/#/rules`);
  await page.getByRole('heading', { name: 'Sign in' }).waitFor();
  step('signed out');

  assert.deepEqual(errors, [], `browser errors: ${errors.join('; ')}`);
  console.log('dashboard e2e: all passed');
  await cleanup();
} catch (err) {
  console.error(err);
  await cleanup();
  process.exit(1);
}
