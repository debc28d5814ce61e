// Rampart analyst console. Plain JavaScript, no dependencies.
//
// Every value from the API is rendered with textContent (the el() helper
// below), never as HTML: alert titles, entities and event fields come from
// logs an attacker can write to.
'use strict';

(function () {
  const state = {
    me: null, // {name, role, csrf}
    alertsCursor: '',
    auditCursor: '',
  };
  const ANALYSTS = ['analyst', 'responder', 'admin'];

  const $ = (id) => document.getElementById(id);

  // el builds an element; children are nodes or strings (as text nodes).
  function el(tag, attrs, ...children) {
    const e = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) {
      if (v === undefined || v === null || v === false) continue;
      if (k === 'class') e.className = v;
      else if (k === 'href') e.setAttribute('href', v);
      else if (k.startsWith('data-')) e.setAttribute(k, v);
      else e[k] = v;
    }
    for (const c of children.flat()) {
      if (c === undefined || c === null) continue;
      e.appendChild(typeof c === 'string' || typeof c === 'number' ? document.createTextNode(String(c)) : c);
    }
    return e;
  }

  function clear(node) {
    while (node.firstChild) node.removeChild(node.firstChild);
  }

  function setStatus(msg) {
    $('status').textContent = msg || '';
  }

  class APIError extends Error {
    constructor(status, code, message) {
      super(message);
      this.status = status;
      this.code = code;
    }
  }

  // api calls the REST API with the session cookie; unsafe methods carry
  // the session's CSRF token.
  async function api(method, path, body) {
    const opts = { method, credentials: 'same-origin', headers: {} };
    if (method !== 'GET' && state.me && state.me.csrf) opts.headers['X-CSRF-Token'] = state.me.csrf;
    if (body !== undefined) {
      opts.headers['Content-Type'] = 'application/json';
      opts.body = JSON.stringify(body);
    }
    const resp = await fetch(path, opts);
    let data = null;
    if (resp.status !== 204) {
      try { data = await resp.json(); } catch (e) { data = null; }
    }
    if (!resp.ok) {
      const err = data && data.error ? data.error : { code: 'http_' + resp.status, message: resp.statusText };
      if (resp.status === 401 && path !== '/api/v1/session') {
        state.me = null;
        showLogin('Your session ended; log in again.');
      }
      throw new APIError(resp.status, err.code, err.message);
    }
    return data;
  }

  function fmtTime(s) {
    if (!s) return '';
    const d = new Date(s);
    return isNaN(d) ? String(s) : d.toISOString().replace('T', ' ').replace(/\.\d+Z$/, 'Z');
  }

  function fmtValue(v) {
    if (v === null || v === undefined) return '';
    if (typeof v === 'object') return JSON.stringify(v);
    return String(v);
  }

  function isAnalyst() {
    return state.me && ANALYSTS.includes(state.me.role);
  }

  // ---- views ----------------------------------------------------------

  const VIEWS = ['view-login', 'view-alerts', 'view-alert', 'view-detectors', 'view-suppressions', 'view-audit'];

  function show(view) {
    for (const v of VIEWS) $(v).hidden = v !== view;
  }

  function showLogin(msg) {
    $('nav').hidden = true;
    $('logout').hidden = true;
    $('who').textContent = '';
    $('login-error').textContent = msg || '';
    show('view-login');
    $('login-token').focus();
  }

  function loggedIn() {
    $('nav').hidden = false;
    $('logout').hidden = false;
    $('nav-audit').hidden = state.me.role !== 'admin';
    $('who').textContent = state.me.name + ' (' + state.me.role + ')';
  }

  async function route() {
    setStatus('');
    if (!state.me) {
      showLogin();
      return;
    }
    loggedIn();
    const hash = location.hash || '#/alerts';
    try {
      if (hash.startsWith('#/alert/')) {
        await showAlert(decodeURIComponent(hash.slice('#/alert/'.length)));
      } else if (hash === '#/detectors') {
        await showDetectors();
      } else if (hash === '#/suppressions') {
        await showSuppressions();
      } else if (hash === '#/audit') {
        await showAudit('');
      } else {
        await showAlerts('');
      }
    } catch (e) {
      if (!(e instanceof APIError && e.status === 401)) setStatus(e.message);
    }
  }

  // ---- login ----------------------------------------------------------

  async function login(ev) {
    ev.preventDefault();
    const input = $('login-token');
    const token = input.value.trim();
    input.value = '';
    $('login-error').textContent = '';
    try {
      state.me = await api('POST', '/api/v1/session', { token });
      if (!location.hash || location.hash === '#/login') location.hash = '#/alerts';
      await route();
    } catch (e) {
      const msg = e.status === 429 ? 'Too many attempts; wait a minute.' : 'Login failed: ' + e.message;
      $('login-error').textContent = msg;
    }
  }

  async function logout() {
    try {
      await api('DELETE', '/api/v1/session');
    } catch (e) {
      // The session may be gone already; either way it is over here.
    }
    state.me = null;
    location.hash = '#/login';
    showLogin('Logged out.');
  }

  // ---- alert queue ----------------------------------------------------

  function alertQuery(cursor) {
    const f = $('alert-filters');
    const q = new URLSearchParams();
    for (const name of ['status', 'min_level', 'detector', 'rule_id', 'entity', 'limit']) {
      const v = f.elements[name].value.trim();
      if (v) q.set(name, v);
    }
    if (cursor) q.set('cursor', cursor);
    return q.toString();
  }

  function entityText(es) {
    return (es || []).map((e) => e.kind + ': ' + e.value).join(', ');
  }

  async function showAlerts(cursor) {
    show('view-alerts');
    const page = await api('GET', '/api/v1/alerts?' + alertQuery(cursor));
    const tbody = $('alerts-table').tBodies[0];
    clear(tbody);
    for (const a of page.alerts) {
      tbody.appendChild(el('tr', { 'data-id': a.id },
        el('td', { class: 'time' }, fmtTime(a.last_seen)),
        el('td', { class: 'level level-' + a.level }, a.level),
        el('td', {}, el('a', { href: '#/alert/' + encodeURIComponent(a.id), class: 'alert-link' }, a.title || a.rule_id)),
        el('td', {}, a.detector),
        el('td', {}, entityText(a.entities)),
        el('td', { class: 'num' }, a.count),
        el('td', {}, a.status),
        el('td', {}, a.verdict ? a.verdict.verdict : ''),
      ));
    }
    $('alerts-empty').hidden = page.alerts.length > 0;
    state.alertsCursor = page.next || '';
    $('alerts-next').hidden = !state.alertsCursor;
  }

  // ---- alert detail ---------------------------------------------------

  function facts(pairs) {
    const dl = el('dl', { class: 'facts' });
    for (const [k, v] of pairs) {
      if (v === undefined || v === null || v === '') continue;
      dl.appendChild(el('dt', {}, k));
      dl.appendChild(el('dd', {}, typeof v === 'object' && v.nodeType ? v : fmtValue(v)));
    }
    return dl;
  }

  function tags(list) {
    return el('span', {}, (list || []).map((t) => el('span', { class: 'tag' }, t)));
  }

  // details renders an alert's structured details: the ML explanation's
  // top features as a table, everything else as key/value pairs.
  function details(d) {
    const out = el('div', { id: 'alert-details' });
    if (!d || typeof d !== 'object') return out;
    if (Array.isArray(d.top) && d.top.length) {
      out.appendChild(el('h2', {}, 'Features behind the score' + (d.model ? ' (' + fmtValue(d.model) + ')' : '')));
      const t = el('table', { id: 'alert-features' },
        el('thead', {}, el('tr', {}, el('th', {}, 'Feature'), el('th', {}, 'Value'), el('th', {}, 'Baseline'), el('th', {}, 'Weight'))));
      const tb = el('tbody');
      for (const c of d.top) {
        if (!c || typeof c !== 'object') continue;
        tb.appendChild(el('tr', {},
          el('td', {}, fmtValue(c.feature)), el('td', { class: 'num' }, fmtValue(c.value)),
          el('td', { class: 'num' }, fmtValue(c.baseline)), el('td', { class: 'num' }, fmtValue(c.weight))));
      }
      t.appendChild(tb);
      out.appendChild(t);
    }
    const rest = Object.keys(d).filter((k) => k !== 'top' && k !== 'sentence').sort();
    if (rest.length) {
      out.appendChild(el('h2', {}, 'Details'));
      out.appendChild(facts(rest.map((k) => [k, d[k]])));
    }
    return out;
  }

  async function showAlert(id) {
    show('view-alert');
    const box = $('alert-detail');
    clear(box);
    clear($('evidence'));
    $('verdict-result').textContent = '';
    $('verdict-reason').value = '';
    $('suppress-result').textContent = '';
    $('suppress-reason').value = '';
    const a = await api('GET', '/api/v1/alerts/' + encodeURIComponent(id));
    box.appendChild(el('h1', { id: 'alert-title' }, a.title || a.rule_id));
    if (a.explanation) box.appendChild(el('p', { id: 'alert-explanation', class: 'explanation' }, a.explanation));
    box.appendChild(facts([
      ['Alert id', a.id],
      ['Level', el('span', { class: 'level level-' + a.level }, a.level)],
      ['Score', a.score],
      ['Status', a.status],
      ['Detector', a.detector + ' (' + a.layer + ')'],
      ['Rule', a.rule_id + (a.rule_version ? ' @' + a.rule_version : '')],
      ['Signals', a.count],
      ['First seen', fmtTime(a.first_seen)],
      ['Last seen', fmtTime(a.last_seen)],
      ['Entities', entityText(a.entities)],
      ['ATT&CK', a.techniques && a.techniques.length ? tags(a.techniques) : ''],
      ['Tags', a.tags && a.tags.length ? tags(a.tags) : ''],
      ['Verdict', a.verdict ? a.verdict.verdict + ' by ' + a.verdict.author + ' at ' + fmtTime(a.verdict.time) + ': ' + a.verdict.reason : ''],
    ]));
    box.appendChild(details(a.details));
    $('verdict-box').hidden = !isAnalyst();
    $('verdict-box').dataset.alertId = a.id;
    $('suppress-box').hidden = !isAnalyst();
    if (isAnalyst()) await showEvidence(a.id);
  }

  function flatten(obj, prefix, out) {
    for (const k of Object.keys(obj || {}).sort()) {
      const v = obj[k];
      const key = prefix ? prefix + '.' + k : k;
      if (v && typeof v === 'object' && !Array.isArray(v)) flatten(v, key, out);
      else out.push([key, v]);
    }
    return out;
  }

  async function showEvidence(id) {
    const box = $('evidence');
    const data = await api('GET', '/api/v1/alerts/' + encodeURIComponent(id) + '/events');
    box.appendChild(el('h2', {}, 'Evidence (' + data.events.length + ' events)'));
    // Each event folds open on demand; the first is open.
    data.events.forEach((ev, i) => {
      const rows = flatten(ev.fields, '', []);
      const t = el('table', {}, el('tbody', {}, rows.map(([k, v]) => el('tr', {}, el('td', {}, k), el('td', {}, fmtValue(v))))));
      box.appendChild(el('details', { class: 'event', open: i === 0 },
        el('summary', {}, fmtTime(ev['@timestamp']) + ' · ' + ev.format + (ev.source_name ? ' · ' + ev.source_name : '') + ' · ' + ev.id),
        t,
        ev.raw ? el('pre', {}, ev.raw) : null));
    });
  }

  async function setVerdict(kind) {
    const id = $('verdict-box').dataset.alertId;
    const reason = $('verdict-reason').value.trim();
    const out = $('verdict-result');
    if (!reason) {
      out.textContent = 'A reason is required.';
      return;
    }
    try {
      const a = await api('POST', '/api/v1/alerts/' + encodeURIComponent(id) + '/verdict', { verdict: kind, reason });
      await showAlert(a.id);
      $('verdict-result').textContent = 'Recorded: ' + a.verdict.verdict + '.';
    } catch (e) {
      out.textContent = 'Verdict not recorded: ' + e.message;
    }
  }

  // ---- suppressions ---------------------------------------------------

  async function suppressSimilar() {
    const id = $('verdict-box').dataset.alertId;
    const reason = $('suppress-reason').value.trim();
    const out = $('suppress-result');
    if (!reason) {
      out.textContent = 'A reason is required.';
      return;
    }
    try {
      const s = await api('POST', '/api/v1/suppressions', { from_alert: id, reason, duration: $('suppress-duration').value });
      out.textContent = 'Suppressed ' + suppressionScope(s) + ' until ' + fmtTime(s.expires_at) + '.';
    } catch (e) {
      out.textContent = 'Not suppressed: ' + e.message;
    }
  }

  function suppressionScope(s) {
    const parts = [];
    if (s.detector) parts.push('detector ' + s.detector);
    if (s.rule_id) parts.push('rule ' + s.rule_id);
    for (const e of s.entities || []) parts.push(e);
    return parts.join(', ');
  }

  async function deleteSuppression(id) {
    const out = $('suppressions-result');
    try {
      await api('DELETE', '/api/v1/suppressions/' + encodeURIComponent(id));
      await showSuppressions();
      $('suppressions-result').textContent = 'Deleted.';
    } catch (e) {
      out.textContent = 'Not deleted: ' + e.message;
    }
  }

  async function showSuppressions() {
    show('view-suppressions');
    $('suppressions-result').textContent = '';
    const data = await api('GET', '/api/v1/suppressions');
    const tbody = $('suppressions-table').tBodies[0];
    clear(tbody);
    for (const s of data.suppressions) {
      const del = isAnalyst() ? el('button', { type: 'button', class: 'suppression-delete' }, 'Delete') : null;
      if (del) del.addEventListener('click', () => deleteSuppression(s.id));
      tbody.appendChild(el('tr', { 'data-id': s.id },
        el('td', {}, suppressionScope(s)), el('td', {}, s.reason), el('td', {}, s.created_by),
        el('td', { class: 'time' }, fmtTime(s.expires_at)), el('td', {}, s.active ? 'yes' : 'expired'),
        el('td', { class: 'num' }, s.hits), el('td', { class: 'time' }, fmtTime(s.last_hit)),
        el('td', {}, s.origin_alert ? el('a', { href: '#/alert/' + encodeURIComponent(s.origin_alert) }, s.origin_alert) : ''),
        el('td', {}, del)));
    }
    $('suppressions-empty').hidden = data.suppressions.length > 0;
  }

  // ---- detector health ------------------------------------------------

  async function showDetectors() {
    show('view-detectors');
    const data = await api('GET', '/api/v1/detectors');
    const tbody = $('detectors-table').tBodies[0];
    clear(tbody);
    for (const d of data.detectors) {
      tbody.appendChild(el('tr', {},
        el('td', {}, d.detector), el('td', { class: 'num' }, d.alerts), el('td', { class: 'num' }, d.signals),
        el('td', { class: 'num' }, d.open), el('td', { class: 'num' }, d.true_positive), el('td', { class: 'num' }, d.benign),
        el('td', { class: 'num' }, d.false_positive),
        el('td', { class: 'num' }, d.precision === null ? '—' : (100 * d.precision).toFixed(1) + '%')));
    }
  }

  // ---- audit ----------------------------------------------------------

  async function showAudit(cursor) {
    show('view-audit');
    const q = cursor ? '?cursor=' + encodeURIComponent(cursor) : '';
    const data = await api('GET', '/api/v1/audit' + q);
    const tbody = $('audit-table').tBodies[0];
    clear(tbody);
    for (const r of data.records) {
      tbody.appendChild(el('tr', {},
        el('td', { class: 'num' }, r.seq), el('td', { class: 'time' }, fmtTime(r.time)), el('td', {}, r.actor), el('td', {}, r.action),
        el('td', {}, (r.subject_kind || '') + (r.subject_id ? ' ' + r.subject_id : '')), el('td', {}, r.explanation || '')));
    }
    state.auditCursor = data.next || '';
    $('audit-next').hidden = !state.auditCursor;
  }

  async function verifyAudit() {
    const out = $('audit-verify-result');
    out.textContent = 'Verifying…';
    try {
      const r = await api('GET', '/api/v1/audit/verify');
      out.textContent = r.ok
        ? 'Chain OK: ' + r.records + ' records, ' + r.checkpoints + ' checkpoints, signed through seq ' + r.signed_through + (r.unsigned ? ' (' + r.unsigned + ' not yet signed)' : '') + '.'
        : 'Chain BROKEN at seq ' + r.problem.seq + ': ' + r.problem.reason;
      out.className = r.ok ? '' : 'error';
    } catch (e) {
      out.textContent = 'Verification failed: ' + e.message;
    }
  }

  // ---- start ----------------------------------------------------------

  function wrap(fn) {
    return (...args) => fn(...args).catch((e) => {
      if (!(e instanceof APIError && e.status === 401)) setStatus(e.message);
    });
  }

  async function start() {
    $('login-form').addEventListener('submit', login);
    $('logout').addEventListener('click', logout);
    $('alert-filters').addEventListener('submit', (ev) => { ev.preventDefault(); wrap(showAlerts)(''); });
    $('alerts-first').addEventListener('click', () => wrap(showAlerts)(''));
    $('alerts-next').addEventListener('click', () => wrap(showAlerts)(state.alertsCursor));
    $('audit-first').addEventListener('click', () => wrap(showAudit)(''));
    $('audit-next').addEventListener('click', () => wrap(showAudit)(state.auditCursor));
    $('audit-verify').addEventListener('click', verifyAudit);
    $('suppress-similar').addEventListener('click', suppressSimilar);
    for (const b of document.querySelectorAll('#verdict-box button[data-verdict]')) {
      b.addEventListener('click', () => setVerdict(b.dataset.verdict));
    }
    window.addEventListener('hashchange', route);
    try {
      state.me = await api('GET', '/api/v1/session');
    } catch (e) {
      state.me = null;
    }
    await route();
    document.body.dataset.ready = '1';
  }

  document.addEventListener('DOMContentLoaded', start);
})();
