// A TypeScript program against a running Signal Sentinel, typed from docs/openapi.json
// (`npm run generate` writes src/api.d.ts with openapi-typescript; `npm run build` type-checks
// this file against it, so an incompatible change of the API fails the build).
//
//   SIGNAL_SENTINEL_URL=http://127.0.0.1:8000 npm start
import createClient from 'openapi-fetch';
import type { paths } from './api.js';

const base = process.env.SIGNAL_SENTINEL_URL ?? 'http://127.0.0.1:8000';
const api = createClient<paths>({ baseUrl: base });

function fail(what: string, error: unknown): never {
  console.error(`${what}: ${JSON.stringify(error)}`);
  process.exit(1);
}

const email = `ts-${Date.now()}@example.com`;
const password = 'typescript client password';

const registered = await api.POST('/api/auth/register', { body: { email, password } });
if (registered.error) fail('register', registered.error);

const login = await api.POST('/api/auth/login', { body: { email, password } });
if (!login.data) fail('login', login.error);
const headers = { Authorization: `Bearer ${login.data.access_token}` };

const rule = await api.POST('/api/rules', { headers, body: { text: 'AAPL crosses above 200' } });
if (!rule.data) fail('create rule', rule.error);
console.log(`rule ${rule.data.id}: ${rule.data.text}`);

const alerts = await api.GET('/api/alerts', { headers, params: { query: { limit: 10 } } });
if (!alerts.data) fail('list alerts', alerts.error);
console.log(`${alerts.data.items.length} alerts`);

const key = await api.POST('/api/auth/api-keys', { headers, body: { name: 'typescript' } });
if (!key.data) fail('create API key', key.error);
const me = await api.GET('/api/auth/me', { headers: { 'X-API-Key': key.data.key } });
if (me.data?.email !== email) fail('the API key works', me.error);

const revoked = await api.DELETE('/api/auth/api-keys/{key_id}', {
  headers,
  params: { path: { key_id: key.data.id } },
});
if (revoked.error) fail('revoke API key', revoked.error);
const refused = await api.GET('/api/auth/me', { headers: { 'X-API-Key': key.data.key } });
if (refused.response.status !== 401) fail('a revoked key is refused', refused.response.status);

console.log('typescript client: register, login, rule, alerts, API key created and revoked: ok');
