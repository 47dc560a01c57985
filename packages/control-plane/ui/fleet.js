// The fleet: every data plane the control plane knows (GET /clustering/data-planes, all pages) and
// the summary against the head (GET /clustering/status), refreshed every FLEET_REFRESH_MS while the
// screen is open. Per data plane: connected or not, hostname, labels, build version, the config
// version it applied against the head, the lag in versions, and why it is not in sync (a NACK's
// error, or the plugins it lacks).
import { html, useEffect, useState } from '/vendor/preact-htm.js';
import { get } from './api.js';
import { Badge, ErrorNotice, ShortId, Time } from './widgets.js';

/** How often the fleet screen re-reads the fleet, in ms. */
export const FLEET_REFRESH_MS = 2_000;
/** Most pages of data planes read per refresh (1000 each). */
const MAX_FLEET_PAGES = 20;

async function allDataPlanes() {
  const out = [];
  let path = '/clustering/data-planes?size=1000';
  for (let i = 0; i < MAX_FLEET_PAGES && path; i++) {
    const page = await get(path);
    out.push(...page.data);
    path = page.next;
  }
  return out;
}

const SYNC_TONES = { in_sync: 'ok', behind: 'warn', rejected: 'bad', incompatible: 'bad' };
const SYNC_LABELS = { in_sync: 'in sync', behind: 'behind', rejected: 'rejected', incompatible: 'incompatible' };

function reasonOf(dp) {
  if (dp.incompatible && (dp.incompatible.missing_plugins?.length ?? 0) > 0) return `missing plugins: ${dp.incompatible.missing_plugins.join(', ')}`;
  if (dp.incompatible && (dp.incompatible.plugin_versions?.length ?? 0) > 0) {
    return `plugin versions: ${dp.incompatible.plugin_versions.map((p) => `${p.name} ${p.data_plane_version} (cp ${p.control_plane_version})`).join(', ')}`;
  }
  if (dp.error) return `${dp.error.code ? `${dp.error.code}: ` : ''}${dp.error.message}${dp.error.rejected_version ? ` (v${dp.error.rejected_version})` : ''}`;
  return null;
}

/** Rows needing attention first (refused, behind, offline), then by hostname and id. */
function attentionOf(dp) {
  if (!dp.connected) return 2;
  return dp.sync_status === 'in_sync' ? 3 : dp.sync_status === 'behind' ? 1 : 0;
}

function byAttention(a, b) {
  return attentionOf(a) - attentionOf(b) || a.hostname.localeCompare(b.hostname) || a.id.localeCompare(b.id);
}

function Summary({ status }) {
  if (!status) return null;
  const c = status.data_planes;
  const cards = [
    ['Head', `v${status.config.version}`, status.config.hash ? `hash ${String(status.config.hash).slice(0, 12)}` : ''],
    ['Connected', `${c.connected} / ${c.total}`, ''],
    ['In sync', String(c.in_sync), ''],
    ['Behind', String(c.behind), ''],
    ['Refused', String(c.rejected + c.incompatible), c.incompatible ? `${c.incompatible} incompatible` : ''],
  ];
  return html`<div class="stats">${cards.map(([label, value, sub]) => html`<div class="stat"><div class="stat-label">${label}</div><div class="stat-value">${value}</div><div class="stat-sub">${sub}</div></div>`)}</div>`;
}

export function FleetView() {
  const [dps, setDps] = useState(null);
  const [status, setStatus] = useState(null);
  const [error, setError] = useState(null);
  const [filter, setFilter] = useState('');

  useEffect(() => {
    let live = true;
    let timer = null;
    const refresh = async () => {
      try {
        const [list, st] = await Promise.all([allDataPlanes(), get('/clustering/status')]);
        if (!live) return;
        setDps(list);
        setStatus(st);
        setError(null);
      } catch (err) {
        if (live) setError(err);
      }
      if (live) timer = setTimeout(refresh, FLEET_REFRESH_MS);
    };
    refresh();
    return () => {
      live = false;
      clearTimeout(timer);
    };
  }, []);

  const head = status?.config;
  const needle = filter.trim().toLowerCase();
  const shown = [...(dps ?? [])].sort(byAttention).filter(
    (dp) => !needle || dp.hostname.toLowerCase().includes(needle) || dp.id.includes(needle) || Object.entries(dp.labels ?? {}).some(([k, v]) => `${k}=${v}`.toLowerCase().includes(needle)),
  );
  return html`<section class="screen" data-screen="fleet">
    <header class="screen-head">
      <h1>Fleet</h1>
      <div class="toolbar">
        <input class="input" type="search" placeholder="hostname, id or label=value" aria-label="Filter data planes" value=${filter} onInput=${(e) => setFilter(e.currentTarget.value)} />
      </div>
    </header>
    <${ErrorNotice} error=${error} />
    <${Summary} status=${status} />
    ${dps === null
      ? html`<div class="loading">Loading…</div>`
      : dps.length === 0
        ? html`<div class="empty">No data plane has connected yet. Start one with <code>${"sluice-dp --control-plane ws://<this host>:8005"}</code>.</div>`
        : html`<table class="table" data-fleet>
            <thead><tr><th></th><th>Hostname</th><th>Id</th><th>Labels</th><th>Version</th><th>Config</th><th>Lag</th><th>Sync</th><th>Reason</th><th>Last seen</th></tr></thead>
            <tbody>
              ${shown.map((dp) => {
                const sameEpoch = head && dp.config.epoch === head.epoch;
                const lag = head && sameEpoch ? Math.max(0, head.version - dp.config.version) : null;
                const reason = reasonOf(dp);
                return html`<tr data-dp=${dp.id} data-hostname=${dp.hostname} data-connected=${String(dp.connected)} class=${dp.connected ? '' : 'dim'}>
                  <td><span class=${`dot ${dp.connected ? 'dot-ok' : 'dot-off'}`} title=${dp.connected ? 'connected' : 'disconnected'}></span></td>
                  <td class="title-cell">${dp.hostname}<div class="muted small">${dp.connected ? 'connected' : 'disconnected'}${dp.ip ? ` · ${dp.ip}` : ''}</div></td>
                  <td><${ShortId} id=${dp.id} /></td>
                  <td><span class="chips">${Object.entries(dp.labels ?? {}).map(([k, v]) => html`<span class="chip">${k}=${v}</span>`)}</span></td>
                  <td class="mono">${dp.version}</td>
                  <td class="mono" data-config-version>v${dp.config.version}${head ? html`<span class="muted"> / v${head.version}</span>` : null}${!sameEpoch && dp.config.epoch ? html` <${Badge} tone="warn" title="applied under another epoch">other epoch</${Badge}>` : null}</td>
                  <td class="mono">${lag === null ? '—' : lag === 0 ? '0' : html`<span class="warn">${lag}</span>`}</td>
                  <td><${Badge} tone=${dp.connected ? (SYNC_TONES[dp.sync_status] ?? 'muted') : 'muted'}>${dp.connected ? (SYNC_LABELS[dp.sync_status] ?? dp.sync_status) : 'offline'}</${Badge}></td>
                  <td class="reason">${reason ?? html`<span class="muted">—</span>`}</td>
                  <td><${Time} seconds=${dp.last_seen} /></td>
                </tr>`;
              })}
            </tbody>
          </table>`}
  </section>`;
}
