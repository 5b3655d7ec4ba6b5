// The live dashboard: GraphQL over HTTP for the viewer, the org list and the daily charts;
// graphql-ws (the browser bundle this server serves) for the live usage and the alerts.
import { formatInstant, formatTimeLeft, parseCredential } from './format.js';
import { alertHtml, byNewest, meterHtml, summaryHtml } from './views.js';

const $ = (id) => document.getElementById(id);
const wsUrl = `${location.origin.replace(/^http/, 'ws')}/graphql`;

const USAGE = `subscription ($orgId: ID!) { usageUpdated(orgId: $orgId) { asOf period { start end }
  plan { name basePrice { amount currency decimals } }
  overageTotal { amount currency decimals } projectedOverageTotal { amount currency decimals }
  metrics { metric { key name unit } used included hardLimit percentUsed overageUnits blocked
    overageCost { amount currency decimals }
    forecast { projectedUsed projectedOverageCost { amount currency decimals } } } } }`;
const ALERT_FIELDS = `id kind threshold used limit firedAt metric { key name unit }
  cost { amount currency decimals } budgetCap { amount currency decimals }`;

/** A GraphQL error with the server's code (UNAUTHENTICATED, FORBIDDEN, NOT_FOUND ...). */
class ApiError extends Error {
  constructor(message, code) {
    super(message);
    this.code = code;
  }
}

const state = { credential: '', client: null, org: null, history: {}, historyAt: 0, alerts: new Map() };
let usage = null;
let usageReceivedAt = 0;
let checking = 0;

async function gql(query, variables) {
  const res = await fetch('/graphql', {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${state.credential}` },
    body: JSON.stringify({ query, variables }),
  });
  const body = await res.json().catch(() => ({ errors: [{ message: `HTTP ${res.status}` }] }));
  const error = body.errors?.[0];
  if (error)
    throw new ApiError(
      error.message,
      error.extensions?.code ?? (res.status === 401 ? 'UNAUTHENTICATED' : ''),
    );
  return body.data;
}

/** Says what happened to the token: `kind` is busy, ok or error (the field is outlined in red). */
function tokenMessage(kind, text) {
  $('token-message').textContent = text;
  $('token-message').className = kind;
  $('token').setAttribute('aria-invalid', String(kind === 'error'));
}

const explain = (e) =>
  e.code === 'UNAUTHENTICATED'
    ? `Token refused (UNAUTHENTICATED): ${e.message}`
    : e instanceof ApiError
      ? `${e.code ? `${e.code}: ` : ''}${e.message}`
      : `Cannot reach the server: ${e.message}`;

function noOrgs() {
  $('org').replaceChildren(new Option('— paste a token first —', ''));
  $('org').disabled = true;
}

/** Reads the pasted token, checks it with the server and lists the orgs it may watch. */
async function loadOrgs() {
  const pasted = $('token').value;
  const credential = parseCredential(pasted);
  const mine = ++checking;
  if (!credential) {
    disconnect();
    noOrgs();
    if (!pasted.trim()) return tokenMessage('', 'Paste a token, its Bearer header or an API key.');
    return tokenMessage(
      'error',
      'That is not a token: paste `Bearer …`, the {"Authorization": …} header, or the bare token.',
    );
  }
  if (credential !== state.credential) disconnect();
  state.credential = credential;
  tokenMessage('busy', 'Checking the token…');
  $('org').disabled = true;
  try {
    const { viewer } = await gql(`{ viewer { userId isPlatformAdmin memberships { org { id name } }
      apiKey { name org { id name } } } }`);
    let orgs = viewer.apiKey ? [viewer.apiKey.org] : viewer.memberships.map((m) => m.org);
    if (viewer.isPlatformAdmin) {
      orgs = (await gql('{ orgs(first: 100) { edges { node { id name } } } }')).orgs.edges.map((e) => e.node);
    }
    if (mine !== checking) return;
    const who = viewer.apiKey ? `API key “${viewer.apiKey.name}”` : (viewer.userId ?? 'a service');
    if (orgs.length === 0) {
      tokenMessage('error', `Signed in as ${who}, but this token has no access to any org.`);
    } else {
      tokenMessage('ok', `Signed in as ${who} · ${orgs.length} org${orgs.length === 1 ? '' : 's'}`);
    }
    localStorage.setItem('meterline.token', credential);
    const select = $('org');
    select.replaceChildren(new Option('— pick an org —', ''), ...orgs.map((o) => new Option(o.name, o.id)));
    select.disabled = orgs.length === 0;
    const last = localStorage.getItem('meterline.org');
    const pick = orgs.length === 1 ? orgs[0].id : orgs.find((o) => o.id === last)?.id;
    if (pick) {
      select.value = pick;
      connect();
    }
  } catch (e) {
    if (mine !== checking) return;
    noOrgs();
    tokenMessage('error', explain(e));
  }
}

async function loadHistory(orgId, metrics) {
  if (Date.now() - state.historyAt < 5000) return;
  state.historyAt = Date.now();
  const fields = metrics.map(
    (k, i) => `m${i}: usageHistory(metric: ${JSON.stringify(k)}, days: 14) { day used }`,
  );
  const data = await gql(`query ($id: ID!) { org(id: $id) { ${fields.join(' ')} } }`, { id: orgId });
  metrics.forEach((k, i) => {
    state.history[k] = data.org[`m${i}`];
  });
}

/** The server's "now": the push's asOf plus the time since it arrived (free of the browser's clock). */
const serverNow = () =>
  usage ? new Date(usage.asOf).getTime() + (Date.now() - usageReceivedAt) : Date.now();

/** Stops watching and clears the page: what is shown always belongs to the token in the field. */
function disconnect() {
  state.client?.dispose();
  Object.assign(state, { client: null, history: {}, historyAt: 0, alerts: new Map(), org: null });
  usage = null;
  $('org-view').hidden = true;
  $('meters').innerHTML = '';
  $('status').textContent = 'not connected';
  $('status').className = '';
}

function render() {
  if (!usage) return;
  $('summary').innerHTML = summaryHtml(usage, state.org, serverNow());
  $('org-view').hidden = false;
  $('meters').innerHTML = usage.metrics.map((m) => meterHtml(m, state.history[m.metric.key])).join('');
  $('status').textContent = `live · updated ${formatInstant(new Date(usage.asOf))}`;
  $('status').className = 'ok';
}

function renderAlerts() {
  const alerts = [...state.alerts.values()].sort(byNewest);
  const now = serverNow();
  $('alert-list').innerHTML = alerts.length
    ? alerts.map((a) => alertHtml(a, now)).join('')
    : '<li class="muted">No alerts this period yet.</li>';
}

function addAlerts(list) {
  for (const a of list) state.alerts.set(a.id, a);
  renderAlerts();
}

function fail(errors) {
  const e = Array.isArray(errors) ? errors[0] : errors;
  const code = e?.extensions?.code;
  const message = e?.message ?? e?.reason ?? 'the connection closed';
  $('status').textContent = `Not live: ${code ? `${code}: ` : ''}${message}`;
  $('status').className = 'error';
}

async function connect() {
  const orgId = $('org').value;
  if (!orgId || !state.credential) return;
  localStorage.setItem('meterline.org', orgId);
  disconnect();
  renderAlerts();
  $('status').textContent = 'connecting…';
  $('status').className = 'busy';
  const client = graphqlWs.createClient({
    url: wsUrl,
    connectionParams: { authorization: `Bearer ${state.credential}` },
  });
  state.client = client;
  const mine = (handler) => (value) => state.client === client && handler(value);
  client.subscribe(
    { query: USAGE, variables: { orgId } },
    {
      next: mine(async (r) => {
        if (r.errors) return fail(r.errors);
        const next = r.data.usageUpdated;
        await loadHistory(
          orgId,
          next.metrics.map((m) => m.metric.key),
        ).catch(() => {});
        usage = next;
        usageReceivedAt = Date.now();
        render();
      }),
      error: mine(fail),
      complete: () => {},
    },
  );
  client.subscribe(
    {
      query: `subscription ($orgId: ID!) { usageAlert(orgId: $orgId) { ${ALERT_FIELDS} } }`,
      variables: { orgId },
    },
    {
      next: mine((r) => (r.errors ? fail(r.errors) : addAlerts([r.data.usageAlert]))),
      error: mine(fail),
      complete: () => {},
    },
  );
  try {
    const data = await gql(
      `query ($id: ID!) { org(id: $id) { name billingTimezone usageAlerts(first: 20) { ${ALERT_FIELDS} } } }`,
      { id: orgId },
    );
    if (state.client !== client) return;
    if (!data.org)
      return fail({ message: 'this token cannot see that org', extensions: { code: 'NOT_FOUND' } });
    state.org = data.org;
    addAlerts(data.org.usageAlerts);
    render();
  } catch (e) {
    if (state.client === client) fail({ message: e.message, extensions: { code: e.code } });
  }
}

let typing = 0;
$('token').addEventListener('input', () => {
  clearTimeout(typing);
  typing = setTimeout(loadOrgs, 400);
});
$('token').addEventListener('keydown', (e) => {
  if (e.key !== 'Enter') return;
  clearTimeout(typing);
  loadOrgs();
});
$('org').addEventListener('change', connect);
// Time left and "x min ago" move on between pushes.
setInterval(() => {
  if (!usage) return;
  const left = $('time-left');
  if (left) left.textContent = formatTimeLeft(Number(left.dataset.end) - serverNow());
  renderAlerts();
}, 30_000);

$('token').value = localStorage.getItem('meterline.token') || '';
loadOrgs();
