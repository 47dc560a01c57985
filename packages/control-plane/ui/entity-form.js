// The create and edit form of any kind, generated from its schema (GET /schemas/{entity}): one
// input per field by type (schema.js), required fields and references first, the rest under
// "Advanced". A plugin's `config` (an abstract record) gets its fields from
// GET /schemas/plugins/{name} when the Admin API has it, else a JSON editor. On submit the Admin
// API validates; Kong's `fields` errors are shown beside the field they name, `@entity` errors above.
import { html, useEffect, useMemo, useState } from '/vendor/preact-htm.js';
import { ApiError, entitySchema, get, pluginSchema, request, seg } from './api.js';
import { FormValueError, checkedFieldsOf, editorOf, fieldsOf, fromFormValue, hintOf, isHiddenField, labelOf, sameJson, toFormValue } from './schema.js';

/** Most entities a reference picker lists (the rest are typed in by id). */
const MAX_REFERENCE_OPTIONS = 1000;

/** The kind info (from /config.js) of a kind name. */
export function kindByName(name) {
  return (window.SLUICE_CONFIG?.kinds ?? []).find((k) => k.kind === name) ?? null;
}

/** A display name of an entity: its endpoint key, else its id. */
export function entityTitle(kindInfo, entity) {
  if (!entity) return '';
  const key = kindInfo.endpointKey ? entity[kindInfo.endpointKey] : null;
  return key ?? entity.username ?? entity.custom_id ?? entity.name ?? entity.key ?? entity.group ?? entity.id;
}

/** Options of a reference picker: the referenced kind's entities. */
function useReferenceOptions(reference) {
  const [options, setOptions] = useState(null);
  useEffect(() => {
    const refKind = kindByName(reference);
    if (!refKind) return;
    let live = true;
    get(`/${refKind.adminName}?size=${MAX_REFERENCE_OPTIONS}`)
      .then((page) => live && setOptions(page.data.map((e) => ({ id: e.id, label: entityTitle(refKind, e) }))))
      .catch(() => live && setOptions([]));
    return () => {
      live = false;
    };
  }, [reference]);
  return options;
}

/** The message(s) of a field error as text lines (arrays are indexed by element). */
function errorLines(error) {
  if (error === null || error === undefined) return [];
  if (typeof error === 'string') return [error];
  if (Array.isArray(error)) return error.flatMap((e, i) => (e === null ? [] : errorLines(e).map((m) => `item ${i + 1}: ${m}`)));
  if (typeof error === 'object') return Object.entries(error).flatMap(([k, e]) => errorLines(e).map((m) => (k === 'id' ? m : `${k}: ${m}`)));
  return [String(error)];
}

function FieldError({ id, error }) {
  const lines = errorLines(error);
  if (lines.length === 0) return null;
  return html`<div class="field-error" id=${id} data-error-for=${id.replace(/^error-/, '')} role="alert">${lines.map((l) => html`<div>${l}</div>`)}</div>`;
}

function ReferenceInput({ id, spec, value, onInput, invalid, describedBy }) {
  const options = useReferenceOptions(spec.reference);
  if (options === null) {
    return html`<input id=${id} class="input mono" value=${value} placeholder="id" aria-invalid=${invalid} aria-describedby=${describedBy} onInput=${(e) => onInput(e.currentTarget.value)} />`;
  }
  return html`<select id=${id} class="input" value=${value} aria-invalid=${invalid} aria-describedby=${describedBy} onChange=${(e) => onInput(e.currentTarget.value)}>
    <option value="">${spec.required ? 'Choose…' : '(none)'}</option>
    ${options.map((o) => html`<option value=${o.id}>${o.label}${o.label !== o.id ? ` — ${o.id.slice(0, 8)}` : ''}</option>`)}
    ${value && !options.some((o) => o.id === value) ? html`<option value=${value}>${value}</option>` : null}
  </select>`;
}

/** One field's input; `path` is its dotted name (`config.minute`). */
function FieldInput({ path, name, spec, value, error, onChange, extra }) {
  const id = `field-${path}`;
  const errorId = `error-${path}`;
  const invalid = errorLines(error).length > 0 ? 'true' : undefined;
  const describedBy = invalid ? errorId : undefined;
  const editor = editorOf(spec);
  let input;
  switch (editor) {
    case 'select':
      input = html`<select id=${id} class="input" value=${value} aria-invalid=${invalid} aria-describedby=${describedBy} onChange=${(e) => onChange(e.currentTarget.value)}>
        ${spec.required && spec.default !== undefined ? null : html`<option value="">(none)</option>`}
        ${spec.one_of.map((o) => html`<option value=${String(o)}>${String(o)}</option>`)}
      </select>`;
      break;
    case 'number':
      input = html`<input id=${id} class="input" type="text" inputmode="numeric" value=${value} placeholder=${spec.default ?? ''} aria-invalid=${invalid} aria-describedby=${describedBy} onInput=${(e) => onChange(e.currentTarget.value)} />`;
      break;
    case 'checkbox':
      input = html`<label class="switch"><input id=${id} type="checkbox" checked=${value} onChange=${(e) => onChange(e.currentTarget.checked)} /><span>${value ? 'Yes' : 'No'}</span></label>`;
      break;
    case 'tristate':
      input = html`<select id=${id} class="input" value=${value} onChange=${(e) => onChange(e.currentTarget.value)}>
        <option value="">(unset)</option><option value="true">true</option><option value="false">false</option>
      </select>`;
      break;
    case 'multi':
      input = html`<div class="checks" id=${id} role="group" aria-invalid=${invalid} aria-describedby=${describedBy}>
        ${spec.elements.one_of.map((o) => {
          const v = String(o);
          const checked = value.includes(v);
          return html`<label class="check"><input type="checkbox" name=${path} value=${v} checked=${checked}
            onChange=${(e) => onChange(e.currentTarget.checked ? [...value, v] : value.filter((x) => x !== v))} /> ${v}</label>`;
        })}
      </div>`;
      break;
    case 'lines':
    case 'header-map':
      input = html`<textarea id=${id} class="input mono" rows=${Math.min(6, Math.max(2, String(value).split('\n').length + 1))} value=${value} aria-invalid=${invalid} aria-describedby=${describedBy}
        placeholder=${name === 'tags' ? 'tag per line' : ''} onInput=${(e) => onChange(e.currentTarget.value)}></textarea>`;
      break;
    case 'foreign':
      input = html`<${ReferenceInput} id=${id} spec=${spec} value=${value} onInput=${onChange} invalid=${invalid} describedBy=${describedBy} />`;
      break;
    case 'json':
      input = html`<textarea id=${id} class="input mono" rows="6" value=${value} spellcheck="false" aria-invalid=${invalid} aria-describedby=${describedBy} placeholder="JSON" onInput=${(e) => onChange(e.currentTarget.value)}></textarea>`;
      break;
    default:
      input = html`<input id=${id} class=${`input${spec.uuid ? ' mono' : ''}`} value=${value} list=${extra?.list} autocomplete="off" aria-invalid=${invalid} aria-describedby=${describedBy} onInput=${(e) => onChange(e.currentTarget.value)} />`;
  }
  const hint = hintOf(spec);
  return html`<div class=${`field${invalid ? ' has-error' : ''}`} data-field=${path}>
    <label for=${id} class="label">${labelOf(name)}${spec.required ? html`<span class="req" title="required">*</span>` : null}</label>
    <div class="control">
      ${input}
      ${extra?.note ? html`<div class="hint">${extra.note}</div>` : hint ? html`<div class="hint">${hint}</div>` : null}
      <${FieldError} id=${errorId} error=${error} />
    </div>
  </div>`;
}

/** A record's fields (a plugin's config from its schema), nested under `path`. */
function RecordFields({ path, spec, value, errors, onChange }) {
  return html`<fieldset class="record">
    ${fieldsOf(spec)
      .filter(([, sub]) => !isHiddenField(sub))
      .map(([name, sub]) => {
        const v = value[name] ?? toFormValue(sub, null);
        const err = errors && typeof errors === 'object' ? errors[name] : undefined;
        const set = (nv) => onChange({ ...value, [name]: nv });
        return editorOf(sub) === 'record'
          ? html`<div class="field"><div class="label">${labelOf(name)}</div><div class="control"><${RecordFields} path=${`${path}.${name}`} spec=${sub} value=${v} errors=${err} onChange=${set} /></div></div>`
          : html`<${FieldInput} path=${`${path}.${name}`} name=${name} spec=${sub} value=${v} error=${err} onChange=${set} />`;
      })}
  </fieldset>`;
}

/** The config schema of the plugin named `name`, or null while unknown/unavailable. */
function usePluginConfigSpec(kind, name) {
  const [spec, setSpec] = useState(null);
  useEffect(() => {
    setSpec(null);
    if (kind !== 'plugins' || !name) return;
    let live = true;
    const timer = setTimeout(() => {
      pluginSchema(name)
        .then((schema) => {
          if (!live || !schema) return;
          const config = fieldsOf(schema).find(([n]) => n === 'config');
          if (config && config[1].fields) setSpec(config[1]);
        })
        .catch(() => {});
    }, 250);
    return () => {
      live = false;
      clearTimeout(timer);
    };
  }, [kind, name]);
  return spec;
}

/** Names of the plugins this control plane accepts (for the plugin name input), or []. */
function useEnabledPlugins(isPlugins) {
  const [names, setNames] = useState([]);
  useEffect(() => {
    if (!isPlugins) return;
    get('/plugins/enabled')
      .then((b) => b?.enabled_plugins ?? [])
      .catch(() => get('/').then((b) => Object.keys(b?.plugins?.available_on_server ?? {})))
      .then((list) => setNames([...list].sort()))
      .catch(() => {});
  }, [isPlugins]);
  return names;
}

/**
 * True when a field belongs in the first section: required, a key, one an entity check asks for, a
 * reference to a kind the UI knows, the tags, or a plugin's config; switches with a default other
 * than `enabled` go under Advanced.
 */
function isPrimary(kindInfo, name, spec, checked) {
  // A switch that has a default (a route's strip_path, request_buffering) is a detail, unless it
  // turns the entity on or off.
  if (spec.type === 'boolean' && spec.default !== undefined && name !== 'enabled') return false;
  return spec.required || checked.has(name) || name === kindInfo.endpointKey || name === 'name' || (spec.type === 'foreign' && kindByName(spec.reference) !== null) || name === 'tags' || name === 'config';
}

/**
 * The form. `entity` null creates (POST /{kind}, or under `parent` {field, id, adminName}), else
 * edits it (PATCH with the changed fields only). `onSaved(entity)` runs after a successful write.
 */
export function EntityForm({ kindInfo, entity, parent, onSaved, onCancel }) {
  const [schema, setSchema] = useState(null);
  const [loadError, setLoadError] = useState(null);
  const [values, setValues] = useState(null);
  const [configJsonMode, setConfigJsonMode] = useState(false);
  const [errors, setErrors] = useState({});
  const [summary, setSummary] = useState(null);
  const [busy, setBusy] = useState(false);
  const isEdit = entity !== null && entity !== undefined;

  useEffect(() => {
    entitySchema(kindInfo.kind).then(setSchema, setLoadError);
  }, [kindInfo.kind]);

  const fields = useMemo(() => (schema ? fieldsOf(schema).filter(([name, spec]) => !isHiddenField(spec) && !(parent && name === parent.field)) : []), [schema, parent]);
  const shorthands = useMemo(() => (schema && !isEdit ? fieldsOf({ fields: schema.shorthand_fields ?? [] }) : []), [schema, isEdit]);

  useEffect(() => {
    if (!schema) return;
    const initial = {};
    for (const [name, spec] of fields) initial[name] = toFormValue(spec, isEdit ? entity[name] : spec.default);
    for (const [name, spec] of shorthands) initial[name] = toFormValue(spec, null);
    setValues(initial);
  }, [schema, fields, shorthands]);

  useEffect(() => {
    // After a refused submit, bring the first field in error into view and give it focus.
    if (Object.keys(errors).length === 0) return;
    const first = document.querySelector('form.form .field.has-error');
    first?.scrollIntoView({ block: 'center' });
    first?.querySelector('input, textarea, select')?.focus({ preventScroll: true });
  }, [errors]);

  const pluginName = values?.name;
  const configSpec = usePluginConfigSpec(kindInfo.kind, typeof pluginName === 'string' ? pluginName : '');
  const enabledPlugins = useEnabledPlugins(kindInfo.kind === 'plugins');
  const configByRecord = configSpec !== null && !configJsonMode;

  useEffect(() => {
    // The plugin's config schema arrived: show the config through it, defaults filled in.
    if (!configSpec || !values) return;
    const current = isEdit ? entity.config : null;
    setValues((v) => ({ ...v, config: toFormValue(configSpec, current ?? {}) }));
  }, [configSpec]);

  if (loadError) return html`<div class="notice notice-bad">Cannot load the schema of ${kindInfo.kind}: ${loadError.message}</div>`;
  if (!schema || !values) return html`<div class="loading">Loading form…</div>`;

  const specOf = (name) => {
    if (name === 'config' && configByRecord) return configSpec;
    return fields.find(([n]) => n === name)?.[1] ?? shorthands.find(([n]) => n === name)?.[1];
  };
  const setValue = (name, v) => setValues((old) => ({ ...old, [name]: v }));
  const toggleConfigMode = () => {
    try {
      if (configJsonMode) setValue('config', toFormValue(configSpec, JSON.parse(values.config || '{}')));
      else setValue('config', JSON.stringify(fromFormValue(configSpec, values.config), null, 2));
      setConfigJsonMode(!configJsonMode);
    } catch (err) {
      setErrors((old) => ({ ...old, config: err instanceof FormValueError || err instanceof SyntaxError ? err.message : String(err) }));
    }
  };

  const submit = async (e) => {
    e.preventDefault();
    if (busy) return;
    const body = {};
    const clientErrors = {};
    for (const [name] of [...shorthands, ...fields]) {
      const spec = specOf(name);
      let value;
      try {
        value = fromFormValue(spec, values[name]);
      } catch (err) {
        if (err instanceof FormValueError) {
          clientErrors[name] = err.message;
          continue;
        }
        throw err;
      }
      if (isEdit) {
        if (!sameJson(value, entity[name])) body[name] = value;
      } else if (!sameJson(value, spec.default ?? null) || (spec.required && value !== null && spec.default === undefined)) {
        if (value !== null) body[name] = value;
      }
    }
    if (Object.keys(clientErrors).length > 0) {
      setErrors(clientErrors);
      setSummary({ message: 'Some values cannot be read; see the fields marked below.' });
      return;
    }
    setBusy(true);
    setErrors({});
    setSummary(null);
    try {
      const path = isEdit
        ? `/${kindInfo.adminName}/${seg(entity.id)}`
        : parent
          ? `/${parent.adminName}/${seg(parent.id)}/${kindInfo.nestedAdminName}`
          : `/${kindInfo.adminName}`;
      if (isEdit && Object.keys(body).length === 0) {
        onSaved(entity);
        return;
      }
      const res = await request(isEdit ? 'PATCH' : 'POST', path, body);
      onSaved(res.body);
    } catch (err) {
      if (err instanceof ApiError) {
        const fieldErrors = { ...err.fields };
        const entityErrors = fieldErrors['@entity'] ?? [];
        delete fieldErrors['@entity'];
        setErrors(fieldErrors);
        const unplaced = Object.keys(fieldErrors).filter((n) => !fields.some(([f]) => f === n) && !shorthands.some(([f]) => f === n));
        setSummary({ message: err.message, entity: entityErrors, unplaced: unplaced.map((n) => `${n}: ${errorLines(fieldErrors[n]).join('; ')}`) });
      } else {
        setSummary({ message: String(err) });
      }
    } finally {
      setBusy(false);
    }
  };

  const checked = checkedFieldsOf(schema);
  const primary = fields.filter(([name, spec]) => isPrimary(kindInfo, name, spec, checked));
  const advanced = fields.filter(([name, spec]) => !isPrimary(kindInfo, name, spec, checked));
  const hasAdvancedError = advanced.some(([name]) => errors[name] !== undefined);

  const renderField = ([name, spec]) => {
    if (name === 'config' && kindInfo.kind === 'plugins') {
      return html`<div class=${`field${errors.config ? ' has-error' : ''}`} data-field="config">
        <div class="label">Config<span class="req" title="required">*</span> ${configSpec ? html` <button type="button" class="link" onClick=${toggleConfigMode}>${configJsonMode ? 'as form' : 'as JSON'}</button>` : null}</div>
        <div class="control">
          ${configByRecord
            ? html`<${RecordFields} path="config" spec=${configSpec} value=${values.config} errors=${errors.config} onChange=${(v) => setValue('config', v)} />
                <${FieldError} id="error-config" error=${typeof errors.config === 'string' ? errors.config : null} />`
            : html`<textarea id="field-config" class="input mono" rows="8" spellcheck="false" value=${values.config} aria-invalid=${errors.config ? 'true' : undefined}
                  aria-describedby=${errors.config ? 'error-config' : undefined} onInput=${(e) => setValue('config', e.currentTarget.value)}></textarea>
                <div class="hint">${configSpec ? 'JSON' : 'JSON (the Admin API offers no config schema for this plugin)'}</div>
                <${FieldError} id="error-config" error=${errors.config} />`}
        </div>
      </div>`;
    }
    const extra = kindInfo.kind === 'plugins' && name === 'name' ? { list: 'plugin-names' } : undefined;
    return html`<${FieldInput} path=${name} name=${name} spec=${spec} value=${values[name]} error=${errors[name]} onChange=${(v) => setValue(name, v)} extra=${extra} />`;
  };

  return html`<form class="form" onSubmit=${submit} novalidate data-kind=${kindInfo.kind}>
    ${summary
      ? html`<div class="notice notice-bad" role="alert" data-form-error>
          <div><strong>${summary.message}</strong></div>
          ${(summary.entity ?? []).map((m) => html`<div class="entity-error">${m}</div>`)}
          ${(summary.unplaced ?? []).map((m) => html`<div class="entity-error">${m}</div>`)}
        </div>`
      : null}
    ${parent ? html`<div class="notice notice-info">Under ${parent.singular} <strong>${parent.title}</strong></div>` : null}
    ${shorthands.map(([name, spec]) =>
      html`<${FieldInput} path=${name} name=${name} spec=${spec} value=${values[name]} error=${errors[name]} onChange=${(v) => setValue(name, v)}
        extra=${{ note: name === 'url' ? 'Shorthand: sets protocol, host, port and path at once (e.g. http://upstream:8080/api)' : 'Shorthand' }} />`,
    )}
    ${primary.map(renderField)}
    ${advanced.length > 0
      ? html`<details class="advanced" open=${hasAdvancedError}>
          <summary>Advanced <span class="muted">(${advanced.length} fields)</span></summary>
          ${advanced.map(renderField)}
        </details>`
      : null}
    <datalist id="plugin-names">${enabledPlugins.map((n) => html`<option value=${n} />`)}</datalist>
    <div class="actions sticky">
      <button type="button" class="btn" onClick=${onCancel}>Cancel <kbd>Esc</kbd></button>
      <button type="submit" class="btn btn-primary" disabled=${busy}>${busy ? 'Saving…' : isEdit ? 'Save changes' : `Create ${kindInfo.singular.replace(/_/g, ' ')}`} <kbd>Ctrl+Enter</kbd></button>
    </div>
  </form>`;
}
