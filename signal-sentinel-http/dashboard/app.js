// Signal Sentinel dashboard: a small single-page app over the JSON API.
// The session token lives only in this module's memory (never in localStorage or a cookie):
// reloading the page asks to sign in again. Every user-supplied string reaches the page
// through textContent or attributes, never as HTML.
'use strict';

const session = { token: null, me: null, stream: null };
const main = () => document.getElementById('main');

// ----- helpers ---------------------------------------------------------------------------

function h(tag, props, ...children) {
  const el = document.createElement(tag);
  for (const [key, value] of Object.entries(props || {})) {
    if (value === null || value === undefined || value === false) continue;
    if (key.startsWith('on')) el.addEventListener(key.slice(2), value);
    else if (key === 'class') el.className = value;
    else if (key === 'text') el.textContent = value;
    else el.setAttribute(key, value === true ? '' : String(value));
  }
  for (const child of children.flat()) {
    if (child === null || child === undefined || child === false) continue;
    el.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return el;
}

function toast(message) {
  const t = document.getElementById('toast');
  t.textContent = message;
  clearTimeout(toast.timer);
  toast.timer = setTimeout(() => { t.textContent = ''; }, 4000);
}

function when(ts) {
  if (!ts) return '—';
  const d = new Date(ts);
  return d.toISOString().replace('T', ' ').slice(0, 16) + ' UTC';
}

class ApiError extends Error {
  constructor(status, body) {
    super((body && body.error && body.error.message) || `HTTP ${status}`);
    this.status = status;
    this.code = body && body.error && body.error.code;
    this.fields = (body && body.error && body.error.fields) || [];
  }
}

async function api(method, path, body) {
  const headers = { Accept: 'application/json' };
  if (session.token) headers.Authorization = `Bearer ${session.token}`;
  if (body !== undefined) headers['Content-Type'] = 'application/json';
  const resp = await fetch(`api${path}`, {
    method, headers, body: body === undefined ? undefined : JSON.stringify(body),
  });
  if (resp.status === 204) return null;
  let data = null;
  try { data = await resp.json(); } catch (_) { data = null; }
  if (!resp.ok) {
    if (resp.status === 401 && session.token) { signOut('Your session ended; sign in again.'); }
    throw new ApiError(resp.status, data);
  }
  return data;
}

// Shows an API error on a form: next to each named field, or at the top.
function showErrors(form, err) {
  form.querySelectorAll('.field-error').forEach((e) => { e.textContent = ''; });
  form.querySelectorAll('[aria-invalid]').forEach((e) => e.removeAttribute('aria-invalid'));
  const general = form.querySelector('.form-error');
  general.textContent = '';
  let placed = false;
  for (const f of err.fields || []) {
    const slot = form.querySelector(`[data-error-for="${CSS.escape(f.field)}"]`);
    if (slot) {
      slot.textContent = f.message;
      const input = form.querySelector(`[name="${CSS.escape(f.field)}"]`);
      if (input) { input.setAttribute('aria-invalid', 'true'); input.focus(); }
      placed = true;
    }
  }
  if (!placed) general.textContent = err.message;
}

function field(label, input, hint) {
  const name = input.getAttribute('name');
  const errorId = `err-${name}`;
  input.setAttribute('aria-describedby', errorId);
  return h('label', {}, label, hint ? h('span', { class: 'hint' }, hint) : null, input,
    h('span', { class: 'field-error', id: errorId, 'data-error-for': name, 'aria-live': 'polite' }));
}

function formError() {
  return h('p', { class: 'error form-error', role: 'alert' });
}

function badge(text, cls) {
  return h('span', { class: `badge ${cls}` }, text);
}

function empty(text) {
  return h('p', { class: 'empty' }, text);
}

function page(title, ...content) {
  document.title = `${title} · Signal Sentinel`;
  const m = main();
  m.replaceChildren(h('h1', {}, title), ...content.flat().filter((c) => c !== null && c !== undefined && c !== false));
  m.focus();
}

// ----- session ---------------------------------------------------------------------------

function signOut(message) {
  if (session.stream) session.stream.abort();
  session.token = null;
  session.me = null;
  session.stream = null;
  document.getElementById('nav').hidden = true;
  if (message) toast(message);
  location.hash = '#/signin';
  route();
}

async function signedIn(token) {
  session.token = token;
  session.me = await api('GET', '/auth/me');
  document.getElementById('nav').hidden = false;
  location.hash = '#/overview';
}

function authPage(kind) {
  const signup = kind === 'signup';
  const email = h('input', { name: 'email', type: 'email', autocomplete: 'email', required: true });
  const password = h('input', {
    name: 'password', type: 'password', required: true,
    autocomplete: signup ? 'new-password' : 'current-password', minlength: signup ? 8 : null,
  });
  const form = h('form', { class: 'stack', novalidate: true },
    field('E-mail', email),
    field('Password', password, signup ? 'at least 8 characters' : null),
    formError(),
    h('div', { class: 'row' },
      h('button', { type: 'submit' }, signup ? 'Create account' : 'Sign in'),
      h('a', { href: signup ? '#/signin' : '#/signup' }, signup ? 'I have an account' : 'Create an account')));
  form.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    try {
      const creds = { email: email.value, password: password.value };
      if (signup) await api('POST', '/auth/register', creds);
      const token = await api('POST', '/auth/login', creds);
      await signedIn(token.access_token);
    } catch (err) { showErrors(form, err); }
  });
  page(signup ? 'Create an account' : 'Sign in', form);
  email.focus();
}

// ----- live alerts (server-sent events over fetch, so the token stays in a header) ----------

function startStream() {
  if (session.stream || !session.token) return;
  const controller = new AbortController();
  session.stream = controller;
  (async () => {
    try {
      const resp = await fetch('api/alerts/stream', {
        headers: { Authorization: `Bearer ${session.token}` }, signal: controller.signal,
      });
      const reader = resp.body.getReader();
      const decoder = new TextDecoder();
      let buffer = '';
      for (;;) {
        const { value, done } = await reader.read();
        if (done) break;
        buffer += decoder.decode(value, { stream: true });
        let cut;
        while ((cut = buffer.indexOf('\n\n')) >= 0) {
          const event = buffer.slice(0, cut);
          buffer = buffer.slice(cut + 2);
          const data = event.split('\n').filter((l) => l.startsWith('data:'))
            .map((l) => l.slice(5).trim()).join('\n');
          if (data) document.dispatchEvent(new CustomEvent('alert', { detail: JSON.parse(data) }));
        }
      }
    } catch (_) { /* aborted or dropped */ }
    if (session.stream === controller) {
      session.stream = null;
      if (session.token) setTimeout(startStream, 3000);
    }
  })();
}

document.addEventListener('alert', (ev) => {
  const a = ev.detail;
  toast(`Alert: ${a.symbol} — ${a.message}`);
  const list = document.getElementById('live-alerts');
  if (list) {
    const emptyNote = list.querySelector('.empty');
    if (emptyNote) emptyNote.remove();
    list.prepend(alertRow(a));
  }
  const chart = document.getElementById('chart');
  if (chart && chart.dataset.symbol === a.symbol) symbolPage(a.symbol);
});

// ----- pages -----------------------------------------------------------------------------

function alertRow(a) {
  return h('li', { 'data-alert-id': a.id },
    badge(a.kind, `kind-${a.kind}`), ' ',
    h('a', { href: `#/symbol/${encodeURIComponent(a.symbol)}` }, a.symbol), ' ',
    a.message, ' ', h('span', { class: 'hint' }, when(a.fired_at)),
    a.summary ? h('div', { class: 'hint' }, a.summary) : null);
}

async function overview() {
  const [status, alerts, rules, portfolio, links] = await Promise.all([
    api('GET', '/monitor/status'), api('GET', '/alerts?limit=10'), api('GET', '/rules?limit=200'),
    api('GET', '/portfolio'), api('GET', '/portfolio/connections'),
  ]);
  const providers = status.providers.length
    ? h('ul', {}, status.providers.map((p) => h('li', {}, `${p.name}: `,
      badge(p.breaker, p.breaker === 'closed' ? 'good' : 'bad'),
      ` ${p.calls} calls, ${p.failures} failed`, p.last_error ? ` — ${p.last_error}` : '')))
    : empty('No provider has been asked yet.');
  const firing = rules.items.filter((r) => r.state && r.state.phase === 'firing').length;
  page('Overview',
    h('div', { class: 'grid' },
      h('section', { class: 'panel', 'aria-labelledby': 'mon' },
        h('h2', { id: 'mon' }, 'Monitor'),
        status.running
          ? h('p', {}, `Last cycle ${when(status.last_cycle_at)} (${status.last_cycle_ms} ms), next ${when(status.next_cycle_at)}. ${status.cycles} cycles, ${status.overruns} overruns.`)
          : empty('This server runs no monitor; a separate worker does.'),
        status.last_error ? h('p', { class: 'error' }, status.last_error) : null,
        providers),
      h('section', { class: 'panel', 'aria-labelledby': 'rul' },
        h('h2', { id: 'rul' }, 'Rules'),
        h('p', {}, `${rules.items.length} rules, ${firing} firing.`),
        h('a', { href: '#/rules' }, 'Manage rules')),
      portfolioPanel(portfolio), brokeragePanel(links)),
    h('h2', {}, 'Latest alerts (live)'),
    h('ul', { id: 'live-alerts' },
      alerts.items.length ? alerts.items.map(alertRow)
        : empty('No alerts yet. They appear here as they fire, without reloading.')));
}

function portfolioPanel(p) {
  const csv = h('textarea', { name: 'csv', rows: 4, spellcheck: 'false',
    placeholder: 'symbol,quantity,cost_basis,account\nAAPL,10,150.25,ira' });
  const form = h('form', { class: 'stack', novalidate: true },
    field('Import holdings (CSV)', csv, 'symbol,quantity,cost_basis,account — a bad line imports nothing'),
    formError(), h('button', { type: 'submit', class: 'secondary' }, 'Import holdings'));
  form.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    try { await api('POST', '/portfolio/import', { csv: csv.value }); toast('Holdings imported.'); overview(); } catch (err) { showErrors(form, err); }
  });
  const signed = (v) => (Number(v) >= 0 ? `+${v}` : String(v));
  const watch = h('button', { type: 'button', class: 'secondary', onclick: async () => {
    try {
      const r = await api('POST', '/portfolio/watch', { below_cost_percent: '10', day_move_percent: '5' });
      toast(`Watching your holdings: ${r.created.length} rules created, ${r.existing.length} already there.`);
    } catch (err) { toast(err.message); }
  } }, 'Watch my holdings');
  return h('section', { class: 'panel', 'aria-labelledby': 'port' },
    h('h2', { id: 'port' }, 'Portfolio'),
    p.positions.length
      ? [h('p', { id: 'portfolio-value' }, `Value ${p.market_value}, today ${signed(p.day_change)}`,
        p.day_change_percent !== null ? ` (${signed(p.day_change_percent)}%)` : '', `, gain ${signed(p.gain)}.`),
      h('ul', {}, p.positions.map((x) => h('li', {}, `${x.symbol} ${x.quantity} (${x.account}): `,
        x.market_value !== null ? `${x.market_value}` : 'no quote',
        x.gain_percent !== null ? ` · ${signed(x.gain_percent)}% vs cost` : '')))]
      : empty('No holdings yet: import them as CSV below.'),
    p.positions.length ? h('p', {}, watch, ' ', h('span', { class: 'hint' }, 'a rule for each position: 10% below cost, 5% day move')) : null,
    form);
}

// ----- brokerage links (Plaid Link) ------------------------------------------------------

const PLAID_LINK_JS = 'https://cdn.plaid.com/link/v2/stable/link-initialize.js';

// Plaid's own script, loaded only when someone links a brokerage (the CSP allows exactly it).
function loadPlaidLink() {
  if (window.Plaid) return Promise.resolve(window.Plaid);
  if (!loadPlaidLink.promise) {
    loadPlaidLink.promise = new Promise((ok, fail) => {
      const script = h('script', { src: PLAID_LINK_JS, async: true });
      script.addEventListener('load', () => (window.Plaid ? ok(window.Plaid) : fail(new Error('Plaid Link did not load'))));
      script.addEventListener('error', () => { loadPlaidLink.promise = null; fail(new Error('Plaid Link could not be loaded (is this browser offline?)')); });
      document.head.append(script);
    });
  }
  return loadPlaidLink.promise;
}

// Opens Plaid Link for a new brokerage, or (with a connection id) to repair one. The user's
// credentials go to their brokerage inside Plaid's window, never to this server.
async function openPlaidLink(status, connectionId) {
  status.textContent = 'Opening Plaid Link…';
  try {
    const { link_token: token } = await api('POST', '/portfolio/link-token',
      connectionId ? { connection_id: connectionId } : {});
    const Plaid = await loadPlaidLink();
    const handler = Plaid.create({
      token,
      onSuccess: async (publicToken, metadata) => {
        try {
          if (connectionId) {
            await api('POST', '/portfolio/sync', {});
            toast('Brokerage reconnected and synchronised.');
          } else {
            const report = await api('POST', '/portfolio/connections', {
              public_token: publicToken,
              institution: (metadata && metadata.institution && metadata.institution.name) || null,
            });
            toast(`Brokerage linked: ${report.positions} positions.`);
          }
          overview();
        } catch (err) { status.textContent = err.message; }
      },
      onExit: (err) => { status.textContent = err ? (err.display_message || err.error_message || 'Linking was cancelled.') : ''; },
    });
    status.textContent = '';
    handler.open();
  } catch (err) {
    status.textContent = err.message;
  }
}

function brokeragePanel(links) {
  const status = h('p', { class: 'error', role: 'status', id: 'link-status' });
  const linkButton = h('button', { type: 'button', onclick: () => openPlaidLink(status) }, 'Link brokerage');
  const sync = h('button', { type: 'button', class: 'secondary', onclick: async () => {
    try { await api('POST', '/portfolio/sync', {}); toast('Brokerages synchronised.'); overview(); } catch (err) { status.textContent = err.message; }
  } }, 'Sync now');
  const row = (c) => h('li', { 'data-connection-id': c.id },
    h('strong', {}, c.institution || c.provider), ' ',
    badge(c.status.replace('_', ' '), c.status === 'active' ? 'good' : (c.status === 'retrying' ? 'warn' : 'bad')),
    ` ${c.positions} positions, synced ${when(c.last_synced_at)}`,
    c.action ? h('div', { class: 'hint' }, c.error_code ? `${c.error_code}: ` : '', c.action) : null,
    h('div', { class: 'row' },
      c.status === 'needs_attention'
        ? h('button', { type: 'button', onclick: () => openPlaidLink(status, c.id) }, 'Reconnect') : null,
      h('button', { type: 'button', class: 'danger', onclick: async () => {
        if (!window.confirm(`Remove ${c.institution || 'this brokerage'} and its positions?`)) return;
        try { await api('DELETE', `/portfolio/connections/${c.id}`); toast('Brokerage removed.'); overview(); } catch (err) { status.textContent = err.message; }
      } }, 'Remove')));
  return h('section', { class: 'panel', 'aria-labelledby': 'brk' },
    h('h2', { id: 'brk' }, 'Brokerages'),
    links.length ? h('ul', { id: 'connections' }, links.map(row))
      : empty('No brokerage linked. Link one through Plaid to keep your holdings in sync, or import a CSV.'),
    h('div', { class: 'row' }, linkButton, links.length ? sync : null),
    status);
}

const TEMPLATES = [
  ['Price above or below a level', 'AAPL price > 200'],
  ['Price crosses a level', 'AAPL crosses above 200'],
  ['Price crosses a moving average', 'AAPL crosses above sma(50)'],
  ['Average crosses average', 'SPY sma(50) crosses above sma(200)'],
  ['Change from previous close', 'TSLA day change <= -5%'],
  ['Fast move', 'AAPL moves 3% within 30m'],
  ['Volume spike', 'GME volume >= 2.5x avg(20)'],
  ['New 52-week extreme', 'AMZN new 52w high'],
  ['Near 52-week extreme', 'IBM within 5% of 52w high'],
  ['RSI', 'NVDA rsi(14) > 70'],
  ['Trailing stop', 'AAPL trailing stop 10%'],
  ['Opening gap', 'AAPL gap up >= 2%'],
  ['Position below its cost', 'AAPL position 10% below cost'],
  ['Position moves today', 'AAPL position day move >= 5%'],
  ['Position too large a share', 'AAPL position weight > 25%'],
  ['Portfolio falls today', 'PORTFOLIO day change <= -3%'],
];

function ruleForm(rule, onDone) {
  const text = h('input', { name: 'text', required: true, value: rule ? rule.text : '', autocomplete: 'off', spellcheck: 'false' });
  const kind = h('select', { name: 'template', 'aria-label': 'Condition type' },
    h('option', { value: '' }, 'Insert an example…'),
    TEMPLATES.map(([label, example]) => h('option', { value: example }, label)));
  kind.addEventListener('change', () => { if (kind.value) { text.value = kind.value; text.focus(); } });
  const name = h('input', { name: 'name', value: rule && rule.name ? rule.name : '', maxlength: 100 });
  const opts = (rule && rule.options) || {};
  const frequency = h('select', { name: 'options' },
    [['every_time', 'Every time'], ['once_per_day', 'At most once a day'], ['once', 'Once, then disable']]
      .map(([v, l]) => h('option', { value: v, selected: opts.frequency === v }, l)));
  const cooldown = h('input', { name: 'cooldown', type: 'number', min: 0, value: opts.cooldown_minutes || 0 });
  const from = h('input', { name: 'from', type: 'date', value: '2009-06-01' });
  const to = h('input', { name: 'to', type: 'date', value: new Date().toISOString().slice(0, 10) });
  const preview = h('div', { id: 'backtest', 'aria-live': 'polite' });
  // Plain words: the library reads the sentence into a rule, shown here; it is saved only
  // by "Create rule", like any rule typed in.
  const sentence = h('input', { name: 'sentence', maxlength: 300, autocomplete: 'off', placeholder: 'tell me if Apple drops 5% today' });
  const said = h('div', { id: 'said', 'aria-live': 'polite' });
  const read = async () => {
    if (!sentence.value.trim()) return;
    said.replaceChildren(h('p', {}, 'Reading…'));
    try {
      const r = await api('POST', '/rules/parse', { sentence: sentence.value });
      if (r.outcome === 'rule') {
        text.value = r.proposal.text;
        said.replaceChildren(h('p', {}, h('strong', {}, r.proposal.text), ' — ', r.proposal.explanation,
          r.proposal.source === 'model' ? ' (read by the model: check it)' : ''),
        h('p', { class: 'hint' }, 'Check it, preview it below, then create it.'));
      } else if (r.outcome === 'choose') {
        said.replaceChildren(h('p', {}, `"${r.mention}" may be `,
          r.choices.map((c, i) => [i ? ' or ' : '', h('strong', {}, c.symbol), ` (${c.name})`]),
          ': say it again with the ticker.'));
      } else {
        said.replaceChildren(h('p', { class: 'error' }, `No rule from that: ${r.reason}`));
      }
    } catch (err) { said.replaceChildren(h('p', { class: 'error' }, err.message)); }
  };
  sentence.addEventListener('keydown', (ev) => { if (ev.key === 'Enter') { ev.preventDefault(); read(); } });
  const body = () => ({
    text: text.value, name: name.value.trim() || null,
    options: { ...opts, version: undefined, frequency: frequency.value, cooldown_minutes: Number(cooldown.value) || 0 },
  });
  const form = h('form', { class: 'stack', novalidate: true },
    rule ? null : h('fieldset', {}, h('legend', {}, 'Say it in words'),
      h('div', { class: 'row' }, field('Sentence', sentence),
        h('button', { type: 'button', class: 'secondary', onclick: read }, 'Read')),
      said),
    field('Rule', text, 'e.g. AAPL crosses above 200, or combined: AAPL crosses above 200 and SPY day change > 0% — see the condition types'),
    kind,
    field('Name (optional)', name),
    field('Frequency', frequency),
    field('Cooldown (minutes)', cooldown),
    h('fieldset', {}, h('legend', {}, 'Backtest on history before saving'),
      h('div', { class: 'row' }, field('From', from), field('To', to),
        h('button', { type: 'button', class: 'secondary', onclick: async () => {
          preview.replaceChildren(h('p', {}, 'Replaying…'));
          try {
            const b = body();
            const r = await api('POST', '/rules/backtest', { text: b.text, options: b.options, from: from.value, to: to.value });
            preview.replaceChildren(h('p', {}, `${r.symbol}: ${r.alerts.length} alerts over ${r.sessions} sessions.`),
              r.alerts.length ? h('ul', {}, r.alerts.slice(0, 20).map((a) => h('li', {}, `${a.kind} at ${a.price} on ${when(a.at)}`))) : null);
          } catch (err) { preview.replaceChildren(h('p', { class: 'error' }, err.message)); }
        } }, 'Preview')),
      preview),
    formError(),
    h('div', { class: 'row' }, h('button', { type: 'submit' }, rule ? 'Save changes' : 'Create rule'),
      rule ? h('a', { href: '#/rules' }, 'Cancel') : null));
  form.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    try {
      const b = body();
      delete b.options.version;
      if (rule) await api('PATCH', `/rules/${rule.id}`, b);
      else await api('POST', '/rules', b);
      toast(rule ? 'Rule saved.' : 'Rule created.');
      onDone();
    } catch (err) { showErrors(form, err); }
  });
  return form;
}

async function rulesPage() {
  const rules = await api('GET', '/rules?limit=200');
  const rows = rules.items.map((r) => {
    const phase = r.state ? r.state.phase : 'armed';
    const snoozed = r.snoozed_until && new Date(r.snoozed_until) > new Date();
    return h('tr', { 'data-rule-id': r.id },
      h('td', {}, h('a', { href: `#/symbol/${encodeURIComponent(r.symbol)}` }, r.text),
        r.name ? h('div', { class: 'hint' }, r.name) : null),
      h('td', {}, badge(snoozed ? 'snoozed' : phase, `phase-${snoozed ? 'snoozed' : phase}`),
        r.state && r.state.error ? h('div', { class: 'hint' }, r.state.error) : null,
        r.state && r.state.no_data_since ? h('div', { class: 'hint' }, `no data since ${when(r.state.no_data_since)}: ${r.state.no_data_reason}`) : null),
      h('td', {}, r.enabled ? 'on' : 'off'),
      h('td', { class: 'opt' }, when(r.last_triggered_at)),
      h('td', {}, h('div', { class: 'row' },
        h('a', { href: `#/rules/${r.id}/edit` }, 'Edit'),
        h('button', { type: 'button', class: 'secondary', onclick: async () => {
          await api('POST', `/rules/${r.id}/${r.enabled ? 'disable' : 'enable'}`); rulesPage();
        } }, r.enabled ? 'Disable' : 'Enable'),
        h('button', { type: 'button', class: 'secondary', onclick: async () => {
          if (snoozed) await api('DELETE', `/rules/${r.id}/snooze`);
          else await api('POST', `/rules/${r.id}/snooze`, { minutes: 60 });
          rulesPage();
        } }, snoozed ? 'Wake' : 'Snooze 1 h'),
        h('button', { type: 'button', class: 'danger', 'aria-label': `Delete rule ${r.text}`, onclick: async () => {
          if (confirm(`Delete the rule "${r.text}"? Its alerts are kept.`)) { await api('DELETE', `/rules/${r.id}`); rulesPage(); }
        } }, 'Delete'))));
  });
  page('Rules',
    rows.length
      ? h('div', { class: 'table-wrap' }, h('table', {},
        h('thead', {}, h('tr', {}, h('th', {}, 'Rule'), h('th', {}, 'State'), h('th', {}, 'Enabled'),
          h('th', { class: 'opt' }, 'Last fired'), h('th', {}, 'Actions'))),
        h('tbody', {}, rows)))
      : empty('No rules yet. Write one below: a symbol and a condition, in plain words.'),
    h('h2', {}, 'New rule'),
    ruleForm(null, rulesPage),
    rulesFilePanel());
}

// Export as a text file (one rule per line) and import one: the API's rules file.
function rulesFilePanel() {
  const text = h('textarea', { name: 'text', rows: 4, spellcheck: 'false',
    placeholder: 'AAPL crosses above 200\nTSLA day change <= -5% {"name":"tsla drop"}' });
  const form = h('form', { class: 'stack', novalidate: true },
    field('Import rules (one per line)', text, 'as Export writes them — a bad line imports nothing; rules you have are skipped'),
    formError(), h('button', { type: 'submit', class: 'secondary' }, 'Import rules'));
  form.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    try {
      const r = await api('POST', '/rules/import', { text: text.value });
      toast(`${r.added.length} rules added, ${r.duplicates.length} already there.`);
      rulesPage();
    } catch (err) { showErrors(form, err); }
  });
  const exportButton = h('button', { type: 'button', class: 'secondary', onclick: async () => {
    const resp = await fetch('api/rules/export', { headers: { Authorization: `Bearer ${session.token}`, Accept: 'text/plain' } });
    if (!resp.ok) { toast('The rules could not be exported.'); return; }
    const url = URL.createObjectURL(new Blob([await resp.text()], { type: 'text/plain' }));
    const link = h('a', { href: url, download: 'rules.txt' });
    document.body.append(link); link.click(); link.remove();
    URL.revokeObjectURL(url);
  } }, 'Export rules');
  return h('section', { class: 'panel', 'aria-labelledby': 'rules-file' },
    h('h2', { id: 'rules-file' }, 'Export and import'),
    h('p', {}, exportButton, ' ', h('span', { class: 'hint' }, 'rules.txt: one rule per line with its name and options')),
    form);
}

async function editRulePage(id) {
  const rule = await api('GET', `/rules/${id}`);
  page(`Edit rule #${rule.id}`, ruleForm(rule, () => { location.hash = '#/rules'; }));
}

function chart(symbol, bars, levels, alerts) {
  const W = 800; const H = 300; const P = 40;
  const svg = (tag, attrs) => {
    const el = document.createElementNS('http://www.w3.org/2000/svg', tag);
    for (const [k, v] of Object.entries(attrs)) el.setAttribute(k, String(v));
    return el;
  };
  const root = svg('svg', { viewBox: `0 0 ${W} ${H}`, class: 'chart', role: 'img', id: 'chart' });
  root.dataset.symbol = symbol;
  const title = svg('title', {});
  title.textContent = `${symbol} daily closes with rule levels and alerts`;
  root.append(title);
  if (!bars.length) return root;
  const closes = bars.map((b) => Number(b.close));
  const prices = closes.concat(levels, alerts.map((a) => Number(a.price)));
  const lo = Math.min(...prices) * 0.98; const hi = Math.max(...prices) * 1.02;
  const t0 = new Date(bars[0].at).getTime(); const t1 = new Date(bars[bars.length - 1].at).getTime() || t0 + 1;
  const x = (t) => P + ((t - t0) / Math.max(t1 - t0, 1)) * (W - 2 * P);
  const y = (p) => H - P - ((p - lo) / (hi - lo)) * (H - 2 * P);
  root.append(svg('polyline', {
    points: bars.map((b, i) => `${x(new Date(b.at).getTime()).toFixed(1)},${y(closes[i]).toFixed(1)}`).join(' '),
    fill: 'none', stroke: '#0b5cad', 'stroke-width': 2,
  }));
  for (const level of levels) {
    root.append(svg('line', { x1: P, x2: W - P, y1: y(level), y2: y(level), stroke: '#9a6700', 'stroke-dasharray': '6 4', class: 'level' }));
    const label = svg('text', { x: W - P + 2, y: y(level) + 4, 'font-size': 11, fill: '#9a6700' });
    label.textContent = String(level);
    root.append(label);
  }
  for (const a of alerts) {
    const t = new Date(a.fired_at).getTime();
    if (t < t0 - 86400000 || t > t1 + 86400000) continue;
    const dot = svg('circle', { cx: x(t), cy: y(Number(a.price)), r: 5, fill: a.kind === 'fired' ? '#b42318' : '#067647', class: 'alert-marker' });
    const tip = svg('title', {});
    tip.textContent = `${a.kind} at ${a.price} on ${when(a.fired_at)}`;
    dot.append(tip);
    root.append(dot);
  }
  for (const [p, label] of [[lo, lo.toFixed(2)], [hi, hi.toFixed(2)]]) {
    const tx = svg('text', { x: 2, y: y(p) + 4, 'font-size': 11, fill: '#5b6470' });
    tx.textContent = label;
    root.append(tx);
  }
  return root;
}

async function symbolPage(symbol) {
  const [alerts, rules] = await Promise.all([
    api('GET', `/alerts?symbol=${encodeURIComponent(symbol)}&limit=200`),
    api('GET', `/rules?symbol=${encodeURIComponent(symbol)}&limit=200`),
  ]);
  const times = alerts.items.map((a) => new Date(a.fired_at).getTime());
  const day = 86400000;
  const end = times.length ? Math.max(...times) + 10 * day : Date.now();
  const start = times.length ? Math.min(...times) - 90 * day : Date.now() - 365 * day;
  const iso = (t) => new Date(t).toISOString().slice(0, 10);
  let bars = [];
  let problem = null;
  try { bars = await api('GET', `/bars/${encodeURIComponent(symbol)}?from=${iso(start)}&to=${iso(end)}`); } catch (err) { problem = err.message; }
  const levels = rules.items.map((r) => Number(r.condition.level)).filter((v) => Number.isFinite(v));
  page(symbol,
    problem ? h('p', { class: 'error' }, `No chart: ${problem}`) : null,
    !problem && !bars.length ? empty('No price history for this symbol in this period.') : null,
    chart(symbol, bars, levels, alerts.items),
    h('p', { class: 'hint' }, 'Blue: daily closes. Dashed: rule levels. Dots: alerts (red fired, green resolved).'),
    h('h2', {}, 'Alerts'),
    alerts.items.length ? h('ul', {}, alerts.items.map(alertRow)) : empty('No alerts for this symbol yet.'));
}

async function alertsPage(params) {
  const q = new URLSearchParams(params || '');
  const symbol = h('input', { name: 'symbol', value: q.get('symbol') || '', size: 8 });
  const stateSel = h('select', { name: 'state' },
    [['', 'Any'], ['new', 'New'], ['acknowledged', 'Acknowledged']].map(([v, l]) => h('option', { value: v, selected: (q.get('state') || '') === v }, l)));
  const filters = h('form', { class: 'row', role: 'search' }, field('Symbol', symbol), field('State', stateSel),
    h('button', { type: 'submit' }, 'Filter'), formError());
  filters.addEventListener('submit', (ev) => {
    ev.preventDefault();
    const p = new URLSearchParams();
    if (symbol.value.trim()) p.set('symbol', symbol.value.trim());
    if (stateSel.value) p.set('state', stateSel.value);
    location.hash = `#/alerts?${p}`;
  });
  const query = new URLSearchParams(q);
  query.set('limit', '50');
  let data;
  try { data = await api('GET', `/alerts?${query}`); } catch (err) { page('Alerts', filters); showErrors(filters, err); return; }
  const details = h('div', { id: 'alert-detail', 'aria-live': 'polite' });
  const rows = data.items.map((a) => h('tr', { 'data-alert-id': a.id },
    h('td', {}, when(a.fired_at)),
    h('td', {}, h('a', { href: `#/symbol/${encodeURIComponent(a.symbol)}` }, a.symbol)),
    h('td', {}, badge(a.kind, `kind-${a.kind}`)),
    h('td', {}, a.message, a.summary ? h('div', { class: 'hint' }, a.summary) : null),
    h('td', {}, h('div', { class: 'row' }, a.state === 'new'
      ? h('button', { type: 'button', class: 'secondary', onclick: async () => { await api('POST', `/alerts/${a.id}/ack`); alertsPage(params); } }, 'Acknowledge')
      : 'seen',
    a.kind === 'fired' && a.rule_id ? h('button', { type: 'button', class: 'secondary', onclick: async () => {
      try { const r = await api('POST', `/alerts/${a.id}/actions/snooze_1h`); toast(r.done); } catch (err) { toast(err.message); }
    } }, 'Snooze 1 h') : null)),
    h('td', {}, h('button', { type: 'button', class: 'secondary', onclick: async () => {
      const d = await api('GET', `/alerts/${a.id}`);
      details.replaceChildren(h('h2', {}, `Deliveries of alert #${a.id}`),
        d.deliveries.length ? h('ul', {}, d.deliveries.map((x) => h('li', {}, `channel #${x.channel_id}: ${x.status}, ${x.attempts} attempts`, x.last_error ? ` — ${x.last_error}` : '')))
          : empty('Not sent anywhere: add a channel under Notifications.'));
    } }, 'Deliveries'))));
  page('Alerts', filters,
    rows.length ? h('div', { class: 'table-wrap' }, h('table', {},
      h('thead', {}, h('tr', {}, ['Fired', 'Symbol', 'Kind', 'Message', 'State', ''].map((t) => h('th', {}, t)))),
      h('tbody', {}, rows))) : empty('No alerts match.'),
    details);
}

async function notificationsPage() {
  const [status, prefs, linked] = await Promise.all([api('GET', '/channels/status'), api('GET', '/channels/prefs'),
    api('GET', '/channels/telegram/chats')]);
  const kind = h('select', { name: 'kind' }, h('option', { value: 'telegram' }, 'Telegram chat'), h('option', { value: 'webhook' }, 'Webhook'),
    h('option', { value: 'url' }, 'Any service by URL (e-mail, ntfy, Discord, Slack, Gotify, Pushover, Matrix)'));
  const forms = h('details', {}, h('summary', {}, 'Channel URL forms'), h('ul', {}, [
    'ntfys://ntfy.example.com/my-topic (ntfy://TOKEN@HOST/TOPIC; ntfy://TOPIC for the public server)',
    'discord://WEBHOOK_ID/WEBHOOK_TOKEN, or the Discord webhook URL',
    'slack://T…/B…/X…, or the Slack webhook URL',
    'gotifys://HOST/APP_TOKEN', 'pover://USER_KEY@APP_TOKEN (Pushover)',
    'matrixs://ACCESS_TOKEN@HOMESERVER/!ROOM_ID:SERVER', 'tgram://CHAT_ID', 'mailto://you@example.com (through this server), or mailto://USER:PASSWORD@SMTP_HOST?to=you@example.com', 'https://… (a signed webhook)',
  ].map((t) => h('li', {}, h('code', {}, t)))), h('p', {}, 'The token in a URL is kept sealed and never shown again.'));
  const target = h('input', { name: 'target', required: true });
  const name = h('input', { name: 'name' });
  const shown = h('div', { 'aria-live': 'polite' });
  const add = h('form', { class: 'stack', novalidate: true },
    field('Kind', kind), field('Chat id, webhook URL or channel URL', target, '123456789, @channel, https://…, or ntfys://…'), forms,
    h('span', { 'data-error-for': 'chat_id', class: 'field-error' }), h('span', { 'data-error-for': 'url', class: 'field-error' }),
    field('Name (optional)', name), formError(), h('button', { type: 'submit' }, 'Add channel'), shown);
  add.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    const body = { kind: kind.value, name: name.value.trim() || null };
    if (kind.value === 'telegram') body.chat_id = target.value; else body.url = target.value;
    try {
      const r = await api('POST', '/channels', body);
      await notificationsPage();
      if (r.secret) toast(`Webhook added. Its signing secret (shown once): ${r.secret}`);
    } catch (err) { showErrors(add, err); }
  });
  const rows = status.channels.map((c) => h('tr', {},
    h('td', {}, c.name), h('td', {}, c.kind), h('td', {}, c.enabled ? 'on' : 'off'),
    h('td', { class: 'opt' }, when(c.last_ok_at)), h('td', { class: 'opt' }, c.last_error || '—'),
    h('td', {}, h('div', { class: 'row' },
      h('button', { type: 'button', class: 'secondary', onclick: async () => {
        const r = await api('POST', `/channels/${c.id}/test`);
        toast(r.ok ? `Test sent to ${r.channel}.` : `Test failed: ${r.error}`);
        notificationsPage();
      } }, 'Send test'),
      h('button', { type: 'button', class: 'secondary', onclick: async () => { await api('PATCH', `/channels/${c.id}`, { enabled: !c.enabled }); notificationsPage(); } }, c.enabled ? 'Turn off' : 'Turn on'),
      h('button', { type: 'button', class: 'secondary', onclick: async () => {
        await api('PATCH', `/channels/${c.id}`, { resolved: c.config.resolved === false }); notificationsPage();
      } }, c.config.resolved === false ? 'Send resolved notices' : 'No resolved notices'),
      h('button', { type: 'button', class: 'danger', onclick: async () => { if (confirm(`Remove ${c.name}?`)) { await api('DELETE', `/channels/${c.id}`); notificationsPage(); } } }, 'Remove')))));
  const modes = ['fired', 'resolved', 'digest', 'system'].map((ev) => field(`${ev[0].toUpperCase()}${ev.slice(1)} messages`,
    h('select', { name: `events.${ev}` }, ['on', 'silent', 'off'].map((m) => h('option', { value: m, selected: prefs.events[ev] === m }, m)))));
  const qh = prefs.quiet_hours || {};
  const quietStart = h('input', { name: 'quiet_start', type: 'time', value: qh.start ? qh.start.slice(0, 5) : '' });
  const quietEnd = h('input', { name: 'quiet_end', type: 'time', value: qh.end ? qh.end.slice(0, 5) : '' });
  const zone = h('input', { name: 'time_zone', value: prefs.time_zone });
  const digestAt = h('input', { name: 'digest_at', type: 'time', value: prefs.digest_at ? prefs.digest_at.slice(0, 5) : '' });
  const summaries = h('input', { name: 'summaries', type: 'checkbox', checked: prefs.summaries !== false });
  const prefsForm = h('form', { class: 'stack', novalidate: true }, modes,
    h('div', { class: 'row' }, field('Quiet from', quietStart), field('until', quietEnd)),
    field('Daily digest at', digestAt, 'empty: no digest'),
    h('label', { class: 'row' }, summaries, 'Add the summary (AI or template) to messages and the digest'),
    field('Time zone', zone), h('span', { 'data-error-for': 'prefs', class: 'field-error' }), formError(),
    h('button', { type: 'submit' }, 'Save preferences'));
  prefsForm.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    const events = {};
    for (const e of ['fired', 'resolved', 'digest', 'system']) events[e] = prefsForm.querySelector(`[name="events.${e}"]`).value;
    const body = { events, time_zone: zone.value, digest_at: digestAt.value ? `${digestAt.value}:00` : null,
      summaries: summaries.checked, muted_until: prefs.muted_until || null,
      quiet_hours: quietStart.value && quietEnd.value ? { start: `${quietStart.value}:00`, end: `${quietEnd.value}:00`, behavior: qh.behavior || 'hold' } : null };
    try { await api('PUT', '/channels/prefs', body); toast('Preferences saved.'); } catch (err) { showErrors(prefsForm, err); }
  });
  // Telegram: a one-time code the bot takes as /start CODE; the chats it linked.
  const codeShown = h('div', { 'aria-live': 'polite', id: 'telegram-code' });
  const linkButton = h('button', { type: 'button', onclick: async () => {
    try {
      const r = await api('POST', '/channels/telegram/link');
      codeShown.replaceChildren(h('p', {}, 'Send this to the bot in Telegram within 15 minutes: ',
        h('code', { id: 'telegram-command' }, r.command)));
    } catch (err) { toast(err.message); }
  } }, 'Get a link code');
  const chats = linked.chats.length ? h('ul', {}, linked.chats.map((chat) => h('li', {}, `chat ${chat} `,
    h('button', { type: 'button', class: 'secondary', onclick: async () => {
      await api('DELETE', `/channels/telegram/chats/${chat}`); notificationsPage();
    } }, 'Unlink')))) : h('p', { class: 'hint' }, 'No chat linked yet.');
  // Mute: quiet hours now, for a while.
  const mutedUntil = prefs.muted_until && new Date(prefs.muted_until) > new Date() ? prefs.muted_until : null;
  const muteFor = h('select', { name: 'mute_for' }, [['60', '1 hour'], ['180', '3 hours'], ['480', '8 hours'], ['1440', '24 hours']]
    .map(([v, l]) => h('option', { value: v }, l)));
  const mute = h('div', { class: 'row' }, mutedUntil
    ? [h('span', { id: 'muted-until' }, `Muted until ${when(mutedUntil)}.`),
      h('button', { type: 'button', class: 'secondary', onclick: async () => { await api('DELETE', '/channels/mute'); notificationsPage(); } }, 'Unmute')]
    : [field('Mute for', muteFor),
      h('button', { type: 'button', class: 'secondary', onclick: async () => {
        await api('POST', '/channels/mute', { minutes: Number(muteFor.value) }); notificationsPage();
      } }, 'Mute')]);
  page('Notifications',
    rows.length ? h('div', { class: 'table-wrap' }, h('table', {},
      h('thead', {}, h('tr', {}, ['Channel', 'Kind', 'Enabled', 'Last success', 'Last error', ''].map((t, i) => h('th', { class: i === 3 || i === 4 ? 'opt' : null }, t)))),
      h('tbody', {}, rows))) : empty('No channels: alerts are stored but not sent anywhere yet.'),
    h('p', {}, `${status.pending_deliveries} deliveries waiting.`),
    h('h2', {}, 'Add a channel'), add,
    h('h2', {}, 'Telegram bot'),
    h('p', {}, 'Link a chat to act on alerts with their buttons and to use commands (/alerts, /rules, /snooze, /mute…).'),
    linkButton, codeShown, chats,
    h('h2', {}, 'Mute'), mute,
    h('h2', {}, 'Preferences'), prefsForm);
}

async function keysPage() {
  const keys = await api('GET', '/auth/api-keys');
  const name = h('input', { name: 'name', required: true, maxlength: 64 });
  const shown = h('div', { 'aria-live': 'polite', id: 'new-key' });
  const form = h('form', { class: 'row', novalidate: true }, field('Name', name, 'what the key is for'),
    h('button', { type: 'submit' }, 'Create key'), formError());
  form.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    try {
      const k = await api('POST', '/auth/api-keys', { name: name.value });
      await keysPage();
      const secret = h('code', { class: 'secret', id: 'new-key-value' }, k.key);
      document.getElementById('new-key').replaceChildren(
        h('p', {}, 'Copy the key now: it will not be shown again. Send it as the X-API-Key header.'),
        secret, ' ',
        h('button', { type: 'button', class: 'secondary', onclick: async () => {
          try { await navigator.clipboard.writeText(k.key); toast('Copied.'); } catch (_) { toast('Select the key and copy it.'); }
        } }, 'Copy'));
    } catch (err) { showErrors(form, err); }
  });
  const rows = keys.map((k) => h('tr', { 'data-key-id': k.id },
    h('td', {}, k.name), h('td', {}, h('code', {}, `${k.prefix}…`)), h('td', { class: 'opt' }, when(k.created_at)),
    h('td', { class: 'opt' }, when(k.last_used_at)),
    h('td', {}, k.revoked_at ? `revoked ${when(k.revoked_at)}`
      : h('button', { type: 'button', class: 'danger', onclick: async () => {
        if (confirm(`Revoke ${k.name}? Scripts using it stop working at once.`)) { await api('DELETE', `/auth/api-keys/${k.id}`); keysPage(); }
      } }, 'Revoke'))));
  page('API keys', form, shown,
    rows.length ? h('div', { class: 'table-wrap' }, h('table', {},
      h('thead', {}, h('tr', {}, ['Name', 'Prefix', 'Created', 'Last used', ''].map((t, i) => h('th', { class: i === 2 || i === 3 ? 'opt' : null }, t)))),
      h('tbody', {}, rows))) : empty('No API keys. Scripts and integrations use them instead of your password.'));
}

function accountPage() {
  const current = h('input', { name: 'current_password', type: 'password', autocomplete: 'current-password' });
  const next = h('input', { name: 'new_password', type: 'password', autocomplete: 'new-password' });
  const form = h('form', { class: 'stack', novalidate: true }, field('Current password', current),
    field('New password', next, 'at least 8 characters'), formError(), h('button', { type: 'submit' }, 'Change password'));
  form.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    try { await api('POST', '/auth/password', { current_password: current.value, new_password: next.value }); toast('Password changed.'); form.reset(); } catch (err) { showErrors(form, err); }
  });
  page('Account', h('p', {}, `Signed in as ${session.me.email}.`), h('h2', {}, 'Password'), form);
}

// ----- routing ---------------------------------------------------------------------------

async function route() {
  const hash = location.hash || '#/signin';
  const [path, query] = hash.slice(1).split('?');
  document.querySelectorAll('#nav a').forEach((a) => {
    if (path.startsWith(a.getAttribute('href').slice(1))) a.setAttribute('aria-current', 'page');
    else a.removeAttribute('aria-current');
  });
  if (!session.token) {
    authPage(path === '/signup' ? 'signup' : 'signin');
    return;
  }
  startStream();
  const parts = path.split('/').filter(Boolean);
  try {
    if (parts[0] === 'rules' && parts[2] === 'edit') await editRulePage(parts[1]);
    else if (parts[0] === 'rules') await rulesPage();
    else if (parts[0] === 'symbol' && parts[1]) await symbolPage(decodeURIComponent(parts[1]));
    else if (parts[0] === 'alerts') await alertsPage(query);
    else if (parts[0] === 'notifications') await notificationsPage();
    else if (parts[0] === 'keys') await keysPage();
    else if (parts[0] === 'account') accountPage();
    else await overview();
  } catch (err) {
    if (session.token) page('Something went wrong', h('p', { class: 'error', role: 'alert' }, err.message));
  }
}

window.addEventListener('hashchange', route);
document.addEventListener('DOMContentLoaded', () => {
  document.getElementById('signout').addEventListener('click', () => signOut('Signed out.'));
  route();
});
