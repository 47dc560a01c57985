// After a write, which data planes serve it yet: the version from the write's
// X-Sluice-Config-Version header, followed through GET /clustering/propagation/{version}. Each call
// waits up to PROPAGATION_STEP_MS on the control plane (200 done, 409 refused by some data plane,
// 504 still pending with who has and has not applied it), so progress shows as it happens.
import { html, useEffect, useState } from '/vendor/preact-htm.js';
import { ApiError, onWrite, request } from './api.js';

/** How long one propagation call waits on the control plane, in ms. */
export const PROPAGATION_STEP_MS = 1_000;
/** How long a write is followed before the UI gives up, in ms. */
export const PROPAGATION_WATCH_MS = 60_000;
/** Most writes shown at once. */
const MAX_TRACKED_WRITES = 3;

/** Tracked writes, newest first: `{version, what, state, applied, pending, rejected, incompatible}`. */
let tracked = [];
const listeners = new Set();

function publish() {
  for (const l of listeners) l(tracked);
}

function update(version, patch) {
  tracked = tracked.map((t) => (t.version === version ? { ...t, ...patch } : t));
  publish();
}

/** Follows `version` until every data plane of the wait has applied it, refused it, or time runs out. */
export async function trackVersion(version, what) {
  if (tracked.some((t) => t.version === version)) return;
  tracked = [{ version, what, state: 'propagating', applied: [], pending: [], rejected: [], incompatible: [] }, ...tracked].slice(0, MAX_TRACKED_WRITES);
  publish();
  const deadline = Date.now() + PROPAGATION_WATCH_MS;
  for (;;) {
    if (!tracked.some((t) => t.version === version)) return;
    try {
      const res = await request('GET', `/clustering/propagation/${version}?timeout_ms=${PROPAGATION_STEP_MS}`, undefined, { timeoutMs: PROPAGATION_STEP_MS + 10_000 });
      update(version, { ...pick(res.body), state: 'propagated' });
      return;
    } catch (err) {
      if (err instanceof ApiError && (err.status === 409 || err.status === 504)) {
        update(version, { ...pick(err.body), state: err.status === 409 ? 'refused' : 'propagating' });
        if (err.status === 409) return;
      } else {
        update(version, { state: 'unknown', message: err.message });
        return;
      }
    }
    if (Date.now() > deadline) {
      update(version, { state: 'timed-out' });
      return;
    }
  }
}

/** A data plane as the panel names it: hostname and the start of its id (hostnames repeat in fleets). */
function dpName(d) {
  return `${d.hostname} · ${String(d.id).slice(0, 8)}`;
}

function pick(body) {
  return { applied: body?.applied ?? [], pending: body?.pending ?? [], rejected: body?.rejected ?? [], incompatible: body?.incompatible ?? [] };
}

/** Starts following every write the UI makes. */
export function followWrites() {
  return onWrite(({ version, method, path }) => {
    const shown = decodeURIComponent(path.split('?')[0]).replace(/([0-9a-f]{8})-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}/gi, '$1');
    trackVersion(version, `${method} ${shown}`);
  });
}

function useTracked() {
  const [list, setList] = useState(tracked);
  useEffect(() => {
    listeners.add(setList);
    return () => listeners.delete(setList);
  }, []);
  return list;
}

const STATE_LABELS = {
  propagating: 'propagating…',
  propagated: 'served everywhere',
  refused: 'refused',
  'timed-out': 'not everywhere after 60 s',
  unknown: 'unknown',
};

/** The bottom-right panel: one card per recent write, each data plane as applied, pending or refused. */
export function PropagationPanel() {
  const list = useTracked();
  if (list.length === 0) return null;
  return html`<aside class="propagation" aria-live="polite" data-propagation>
    ${list.map((t) => {
      const total = t.applied.length + t.pending.length + t.rejected.length + t.incompatible.length;
      return html`<div class=${`prop-card prop-${t.state}`} data-version=${t.version} data-state=${t.state}>
        <div class="prop-head">
          <strong>v${t.version}</strong>
          <span class="prop-what" title=${t.what}>${t.what}</span>
          <button class="icon-btn" aria-label="Dismiss" onClick=${() => { tracked = tracked.filter((x) => x.version !== t.version); publish(); }}>×</button>
        </div>
        <div class="prop-state">
          ${t.state === 'propagated' && total === 0 ? 'committed; no data plane connected' : html`${STATE_LABELS[t.state]} · ${t.applied.length}/${total} data planes`}
        </div>
        ${total > 0
          ? html`<ul class="prop-dps">
              ${t.applied.map((d) => html`<li class="ok" data-dp=${d.id}>✓ ${dpName(d)}</li>`)}
              ${t.pending.map((d) => html`<li class="pending" data-dp=${d.id}>… ${dpName(d)}${d.connected ? '' : ' (disconnected)'}</li>`)}
              ${t.rejected.map((d) => html`<li class="bad" data-dp=${d.id}>✗ ${dpName(d)}: ${d.error ?? 'rejected'}</li>`)}
              ${t.incompatible.map((d) => html`<li class="bad" data-dp=${d.id}>✗ ${dpName(d)}: missing ${(d.missing_plugins ?? []).join(', ')}</li>`)}
            </ul>`
          : null}
      </div>`;
    })}
  </aside>`;
}
