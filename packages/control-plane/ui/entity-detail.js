// The detail screen of any entity: every field of its schema, its references as links, the
// entities nested under it (a service's routes and plugins, a consumer's credentials: every kind
// whose `parents` name this kind), and edit/delete. Keys: e edit, Delete delete, Esc back.
import { html, useEffect, useState } from '/vendor/preact-htm.js';
import { entitySchema, get, request, seg } from './api.js';
import { entityTitle, kindByName } from './entity-form.js';
import { fieldsOf, labelOf } from './schema.js';
import { ConfirmDialog, ErrorNotice, JsonValue, ShortId, Tags, Time } from './widgets.js';

/** Most nested entities listed per kind on a detail screen. */
const MAX_CHILDREN = 100;

/** Kinds nested under `kindInfo`: `[childKind, parentField]`. */
export function childKindsOf(kindInfo) {
  return (window.SLUICE_CONFIG?.kinds ?? []).flatMap((k) => k.parents.filter((field) => k.references[field] === kindInfo.kind).map((field) => [k, field]));
}

function FieldValue({ name, spec, value }) {
  if (spec.type === 'foreign') {
    if (!value) return html`<span class="muted">null</span>`;
    const ref = kindByName(spec.reference);
    return ref ? html`<a href=${`#/${ref.adminName}/${value.id}`} class="mono">${value.id}</a>` : html`<code>${value.id}</code>`;
  }
  if (name === 'tags') return html`<${Tags} tags=${value} />`;
  if (name === 'created_at' || name === 'updated_at' || name === 'expires_at') return value ? html`<${Time} seconds=${value} /> <span class="muted mono">${value}</span>` : html`<span class="muted">null</span>`;
  if (name === 'id') return html`<code>${value}</code>`;
  return html`<${JsonValue} value=${value} />`;
}

function Children({ parentKind, parent, childKind, field }) {
  const [page, setPage] = useState(null);
  const [error, setError] = useState(null);
  useEffect(() => {
    get(`/${parentKind.adminName}/${seg(parent.id)}/${childKind.nestedAdminName}?size=${MAX_CHILDREN}`).then(setPage, setError);
  }, [parent.id, childKind.kind]);
  const title = labelOf(childKind.adminName.replace(/-/g, '_'));
  const newHref = `#/${childKind.adminName}/new?parent=${encodeURIComponent(`${field}:${parent.id}`)}`;
  return html`<section class="card" data-children=${childKind.kind}>
    <header class="card-head"><h2>${title}</h2><a class="btn btn-small" href=${newHref}>Add ${childKind.singular.replace(/_/g, ' ')}</a></header>
    <${ErrorNotice} error=${error} />
    ${page === null
      ? html`<div class="loading">Loading…</div>`
      : page.data.length === 0
        ? html`<div class="empty small">None.</div>`
        : html`<ul class="link-list">${page.data.map(
            (c) => html`<li><a href=${`#/${childKind.adminName}/${c.id}`}>${entityTitle(childKind, c)}</a> <${ShortId} id=${c.id} /> ${c.tags?.length ? html`<${Tags} tags=${c.tags} />` : null}</li>`,
          )}${page.next ? html`<li class="muted">…more</li>` : null}</ul>`}
  </section>`;
}

export function EntityDetail({ kindInfo, id, navigate }) {
  const [schema, setSchema] = useState(null);
  const [entity, setEntity] = useState(null);
  const [error, setError] = useState(null);
  const [showJson, setShowJson] = useState(false);
  const [deleting, setDeleting] = useState(false);
  const [busy, setBusy] = useState(false);

  useEffect(() => {
    setEntity(null);
    setError(null);
    Promise.all([entitySchema(kindInfo.kind), get(`/${kindInfo.adminName}/${seg(id)}`)]).then(([s, e]) => {
      setSchema(s);
      setEntity(e);
    }, setError);
  }, [kindInfo.kind, id]);

  useEffect(() => {
    const onKey = (e) => {
      if (e.target instanceof HTMLElement && (e.target.matches('input, textarea, select') || e.target.closest('dialog'))) return;
      if (e.ctrlKey || e.metaKey || e.altKey || !entity) return;
      if (e.key === 'e') navigate(`#/${kindInfo.adminName}/${entity.id}/edit`);
      else if (e.key === 'Delete') setDeleting(true);
      else if (e.key === 'Escape') navigate(`#/${kindInfo.adminName}`);
    };
    window.addEventListener('keydown', onKey);
    return () => window.removeEventListener('keydown', onKey);
  }, [entity, kindInfo.adminName]);

  const remove = async () => {
    setBusy(true);
    try {
      await request('DELETE', `/${kindInfo.adminName}/${seg(entity.id)}`);
      navigate(`#/${kindInfo.adminName}`);
    } catch (err) {
      setDeleting(false);
      setError(err);
    } finally {
      setBusy(false);
    }
  };

  const kindLabel = labelOf(kindInfo.adminName.replace(/-/g, '_'));
  if (error && !entity) {
    return html`<section class="screen"><nav class="crumbs"><a href=${`#/${kindInfo.adminName}`}>${kindLabel}</a></nav><${ErrorNotice} error=${error} /></section>`;
  }
  if (!entity || !schema) return html`<section class="screen"><div class="loading">Loading…</div></section>`;

  return html`<section class="screen" data-screen="detail" data-kind=${kindInfo.kind}>
    <nav class="crumbs"><a href=${`#/${kindInfo.adminName}`}>${kindLabel}</a> <span>/</span></nav>
    <header class="screen-head">
      <h1>${entityTitle(kindInfo, entity)}</h1>
      <div class="toolbar">
        <button class="btn" onClick=${() => setShowJson(!showJson)}>${showJson ? 'Fields' : 'JSON'}</button>
        <a class="btn btn-primary" href=${`#/${kindInfo.adminName}/${entity.id}/edit`}>Edit <kbd>e</kbd></a>
        <button class="btn btn-danger" onClick=${() => setDeleting(true)}>Delete</button>
      </div>
    </header>
    <${ErrorNotice} error=${error} />
    <div class="detail-grid">
      <section class="card">
        ${showJson
          ? html`<pre class="json">${JSON.stringify(entity, null, 2)}</pre>`
          : html`<dl class="fields">
              ${fieldsOf(schema)
                .filter(([name]) => Object.hasOwn(entity, name))
                .map(([name, spec]) => html`<dt>${labelOf(name)}</dt><dd data-field=${name}><${FieldValue} name=${name} spec=${spec} value=${entity[name]} /></dd>`)}
            </dl>`}
      </section>
      <div class="side">
        ${childKindsOf(kindInfo).map(([childKind, field]) => html`<${Children} parentKind=${kindInfo} parent=${entity} childKind=${childKind} field=${field} />`)}
      </div>
    </div>
    ${deleting
      ? html`<${ConfirmDialog} title=${`Delete ${kindInfo.singular.replace(/_/g, ' ')} ${entityTitle(kindInfo, entity)}?`} confirmLabel="Delete" busy=${busy} onConfirm=${remove} onCancel=${() => setDeleting(false)}>
          <p>This removes it from every data plane.</p>
        </${ConfirmDialog}>`
      : null}
  </section>`;
}
