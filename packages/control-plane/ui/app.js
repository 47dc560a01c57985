// The Sluice UI: the shell (navigation from the entity kinds /config.js lists, the Admin API's
// state, the shortcuts), the hash router, and the screens: list, detail, create and edit for every
// kind (entity-*.js, generated from the schemas), the fleet (fleet.js) and settings (the token).
import { html, render, useEffect, useState } from '/vendor/preact-htm.js';
import { adminApiUrl, ApiError, get, getToken, onWrite, seg, setToken } from './api.js';
import { EntityDetail } from './entity-detail.js';
import { EntityForm, entityTitle, kindByName } from './entity-form.js';
import { EntityList } from './entity-list.js';
import { FleetView } from './fleet.js';
import { followWrites, PropagationPanel } from './propagation.js';
import { labelOf } from './schema.js';
import { ErrorNotice } from './widgets.js';

/** How often the header re-reads the Admin API's state (reachability, config head), in ms. */
const HEADER_REFRESH_MS = 5_000;
/** How long `g` waits for the second key of a go-to shortcut, in ms. */
const GOTO_WINDOW_MS = 1_500;

const config = window.SLUICE_CONFIG ?? { kinds: [], adminApiUrl: '', version: '' };

/** Navigation entries: every kind, then the fleet, each with its `g <key>` letter. */
function navEntries() {
  const taken = new Set(['f', 'h']);
  const entries = config.kinds.map((k) => {
    const letters = k.adminName.replace(/[^a-z]/g, '');
    const key = [...letters].find((c) => !taken.has(c)) ?? null;
    if (key) taken.add(key);
    return { href: `#/${k.adminName}`, label: labelOf(k.adminName.replace(/-/g, '_')), key, id: k.adminName };
  });
  return entries;
}
const NAV = navEntries();

function parseHash(hash) {
  const [path, query = ''] = hash.replace(/^#/, '').split('?');
  return { parts: path.split('/').filter(Boolean).map(decodeURIComponent), query: new URLSearchParams(query) };
}

function useHash() {
  const [hash, setHash] = useState(location.hash);
  useEffect(() => {
    const on = () => setHash(location.hash);
    window.addEventListener('hashchange', on);
    return () => window.removeEventListener('hashchange', on);
  }, []);
  return hash;
}

const navigate = (hash) => {
  if (location.hash === hash) window.dispatchEvent(new HashChangeEvent('hashchange'));
  else location.hash = hash;
};

function kindByAdminName(name) {
  return config.kinds.find((k) => k.adminName === name) ?? null;
}

/** The Admin API's state for the header: reachable, version, config head. */
function useAdminState() {
  const [state, setState] = useState({ reachable: null });
  useEffect(() => {
    let live = true;
    let timer;
    let isRunning = false;
    let isWanted = false;
    // One read at a time; a write during a read asks for one more right after it.
    const refresh = async () => {
      if (isRunning) {
        isWanted = true;
        return;
      }
      isRunning = true;
      clearTimeout(timer);
      try {
        const [root, status] = await Promise.all([get('/'), get('/clustering/status').catch(() => null)]);
        if (live) setState({ reachable: true, version: root.version, head: status?.config?.version ?? null, fleet: status?.data_planes ?? null });
      } catch (err) {
        if (live) setState({ reachable: false, error: err });
      }
      isRunning = false;
      if (!live) return;
      if (isWanted) {
        isWanted = false;
        refresh();
      } else timer = setTimeout(refresh, HEADER_REFRESH_MS);
    };
    refresh();
    const unsubscribe = onWrite(() => refresh());
    return () => {
      live = false;
      clearTimeout(timer);
      unsubscribe();
    };
  }, []);
  return state;
}

function CreateScreen({ kindInfo, query }) {
  const [parent, setParent] = useState(undefined);
  const parentRef = query.get('parent');
  useEffect(() => {
    if (!parentRef) return setParent(null);
    const i = parentRef.indexOf(':');
    const field = parentRef.slice(0, i);
    const id = parentRef.slice(i + 1);
    const refKind = kindByName(kindInfo.references[field]);
    if (!refKind || !kindInfo.parents.includes(field)) return setParent(null);
    get(`/${refKind.adminName}/${seg(id)}`).then(
      (p) => setParent({ field, id: p.id, adminName: refKind.adminName, singular: refKind.singular, title: entityTitle(refKind, p) }),
      () => setParent(null),
    );
  }, [parentRef, kindInfo.kind]);
  const back = () => (parent ? navigate(`#/${parent.adminName}/${parent.id}`) : navigate(`#/${kindInfo.adminName}`));
  return html`<section class="screen narrow" data-screen="create" data-kind=${kindInfo.kind}>
    <nav class="crumbs"><a href=${`#/${kindInfo.adminName}`}>${labelOf(kindInfo.adminName.replace(/-/g, '_'))}</a> <span>/</span></nav>
    <header class="screen-head"><h1>New ${kindInfo.singular.replace(/_/g, ' ')}</h1></header>
    ${parent === undefined
      ? html`<div class="loading">Loading…</div>`
      : html`<${EntityForm} key=${`${kindInfo.kind}-new`} kindInfo=${kindInfo} entity=${null} parent=${parent} onCancel=${back} onSaved=${(e) => navigate(`#/${kindInfo.adminName}/${e.id}`)} />`}
  </section>`;
}

function EditScreen({ kindInfo, id }) {
  const [entity, setEntity] = useState(null);
  const [error, setError] = useState(null);
  useEffect(() => {
    get(`/${kindInfo.adminName}/${seg(id)}`).then(setEntity, setError);
  }, [kindInfo.kind, id]);
  const back = () => navigate(`#/${kindInfo.adminName}/${id}`);
  return html`<section class="screen narrow" data-screen="edit" data-kind=${kindInfo.kind}>
    <nav class="crumbs"><a href=${`#/${kindInfo.adminName}`}>${labelOf(kindInfo.adminName.replace(/-/g, '_'))}</a> <span>/</span>
      ${entity ? html`<a href=${`#/${kindInfo.adminName}/${entity.id}`}>${entityTitle(kindInfo, entity)}</a> <span>/</span>` : null}</nav>
    <header class="screen-head"><h1>Edit ${entity ? entityTitle(kindInfo, entity) : ''}</h1></header>
    <${ErrorNotice} error=${error} />
    ${entity ? html`<${EntityForm} key=${`${kindInfo.kind}-${id}`} kindInfo=${kindInfo} entity=${entity} onCancel=${back} onSaved=${() => back()} />` : error ? null : html`<div class="loading">Loading…</div>`}
  </section>`;
}

function Settings() {
  const [token, setTokenValue] = useState(getToken());
  const [saved, setSaved] = useState(false);
  return html`<section class="screen narrow" data-screen="settings">
    <header class="screen-head"><h1>Settings</h1></header>
    <form class="form card" onSubmit=${(e) => { e.preventDefault(); setToken(token.trim()); setSaved(true); }}>
      <div class="field">
        <label class="label" for="token">Admin API token</label>
        <div class="control">
          <input id="token" class="input mono" type="password" autocomplete="off" value=${token} onInput=${(e) => { setTokenValue(e.currentTarget.value); setSaved(false); }} />
          <div class="hint">Sent as <code>Authorization: Bearer …</code> on every call. Kept in this tab only (sessionStorage).</div>
        </div>
      </div>
      <div class="actions">
        <button type="button" class="btn" onClick=${() => { setToken(''); setTokenValue(''); setSaved(true); }}>Clear</button>
        <button type="submit" class="btn btn-primary">Save</button>
      </div>
      ${saved ? html`<div class="notice notice-ok">Saved.</div>` : null}
    </form>
    <dl class="fields card">
      <dt>Admin API</dt><dd class="mono">${adminApiUrl()}</dd>
      <dt>UI version</dt><dd class="mono">${config.version}</dd>
    </dl>
  </section>`;
}

function Help({ onClose }) {
  const rows = [
    ['g then a letter', 'go to a screen (letters in the sidebar); g f the fleet'],
    ['/', 'search the list'],
    ['j / k, ↓ / ↑', 'move through a list'],
    ['Enter', 'open the selected row'],
    ['n', 'new entity'],
    ['e', 'edit the selected or shown entity'],
    ['Delete', 'delete (asks first)'],
    ['[ / ]', 'previous / next page'],
    ['Ctrl+Enter', 'submit a form'],
    ['Esc', 'cancel, back'],
    ['?', 'this help'],
  ];
  return html`<div class="overlay" onClick=${onClose}>
    <div class="card help" role="dialog" aria-label="Keyboard shortcuts" onClick=${(e) => e.stopPropagation()}>
      <h2>Keyboard</h2>
      <table class="table compact">${rows.map(([k, v]) => html`<tr><td><kbd>${k}</kbd></td><td>${v}</td></tr>`)}</table>
    </div>
  </div>`;
}

function Screen({ parts, query }) {
  if (parts[0] === 'fleet') return html`<${FleetView} />`;
  if (parts[0] === 'settings') return html`<${Settings} />`;
  const kindInfo = kindByAdminName(parts[0]);
  if (!kindInfo) return html`<section class="screen"><div class="empty">Nothing here. <a href="#/services">Go to services</a>.</div></section>`;
  if (parts.length === 1) return html`<${EntityList} key=${kindInfo.kind} kindInfo=${kindInfo} navigate=${navigate} />`;
  if (parts[1] === 'new') return html`<${CreateScreen} kindInfo=${kindInfo} query=${query} />`;
  if (parts[2] === 'edit') return html`<${EditScreen} kindInfo=${kindInfo} id=${parts[1]} />`;
  return html`<${EntityDetail} kindInfo=${kindInfo} id=${parts[1]} navigate=${navigate} />`;
}

function App() {
  const hash = useHash();
  const { parts, query } = parseHash(hash);
  const admin = useAdminState();
  const [help, setHelp] = useState(false);

  useEffect(() => {
    if (parts.length === 0) navigate(`#/${config.kinds[0]?.adminName ?? 'fleet'}`);
  }, [hash]);

  useEffect(() => followWrites(), []);

  useEffect(() => {
    let gotoUntil = 0;
    const onKey = (e) => {
      const inField = e.target instanceof HTMLElement && e.target.matches('input, textarea, select');
      if (e.key === 'Enter' && (e.ctrlKey || e.metaKey) && e.target instanceof HTMLElement) {
        const form = e.target.closest('form');
        if (form) {
          e.preventDefault();
          form.requestSubmit();
        }
        return;
      }
      if (e.key === 'Escape' && inField && e.target.closest('form.form')) {
        e.target.blur();
        return;
      }
      if (e.key === 'Escape' && !inField && document.querySelector('form.form')) {
        const cancel = [...document.querySelectorAll('form.form .actions button[type=button]')].find((b) => b.textContent.startsWith('Cancel'));
        cancel?.click();
        return;
      }
      if (inField || e.ctrlKey || e.metaKey || e.altKey) return;
      if (e.target instanceof HTMLElement && e.target.closest('dialog')) return;
      if (e.key === '?') {
        setHelp((h) => !h);
        return;
      }
      if (e.key === 'Escape') setHelp(false);
      if (e.key === 'g') {
        gotoUntil = Date.now() + GOTO_WINDOW_MS;
        return;
      }
      if (Date.now() < gotoUntil) {
        gotoUntil = 0;
        if (e.key === 'f') navigate('#/fleet');
        else if (e.key === 'h') navigate('#/settings');
        else {
          const entry = NAV.find((n) => n.key === e.key);
          if (entry) navigate(entry.href);
        }
        e.stopImmediatePropagation();
      }
    };
    window.addEventListener('keydown', onKey, true);
    return () => window.removeEventListener('keydown', onKey, true);
  }, []);

  const current = parts[0] ?? '';
  const fleet = admin.fleet;
  return html`<div class="shell">
    <aside class="sidebar">
      <a class="brand" href="#/"><span class="logo" aria-hidden="true"></span>Sluice</a>
      <nav aria-label="Configuration">
        <div class="nav-title">Gateway</div>
        ${NAV.map((n) => html`<a class=${`nav-item${current === n.id ? ' active' : ''}`} href=${n.href} data-nav=${n.id}>${n.label}${n.key ? html`<kbd>g ${n.key}</kbd>` : null}</a>`)}
        <div class="nav-title">Cluster</div>
        <a class=${`nav-item${current === 'fleet' ? ' active' : ''}`} href="#/fleet" data-nav="fleet">Fleet
          ${fleet ? html`<span class=${`count ${fleet.connected < fleet.total ? 'count-warn' : ''}`}>${fleet.connected}/${fleet.total}</span>` : null}<kbd>g f</kbd></a>
        <a class=${`nav-item${current === 'settings' ? ' active' : ''}`} href="#/settings" data-nav="settings">Settings<kbd>g h</kbd></a>
      </nav>
      <${PropagationPanel} />
      <div class="sidebar-foot">
        <div class=${`conn ${admin.reachable === false ? 'conn-bad' : admin.reachable ? 'conn-ok' : ''}`} title=${adminApiUrl()}>
          <span class="dot"></span>${admin.reachable === false ? (admin.error instanceof ApiError && admin.error.status === 401 ? 'token needed' : 'Admin API unreachable') : admin.reachable ? `Admin API ${admin.version}` : 'connecting…'}
        </div>
        ${admin.head !== undefined && admin.head !== null ? html`<div class="muted small">config v${admin.head}</div>` : null}
        <button class="link small" onClick=${() => setHelp(true)}>Keyboard shortcuts <kbd>?</kbd></button>
      </div>
    </aside>
    <main class="main">
      <${Screen} parts=${parts} query=${query} />
    </main>
    ${help ? html`<${Help} onClose=${() => setHelp(false)} />` : null}
  </div>`;
}

render(html`<${App} />`, document.getElementById('app'));
