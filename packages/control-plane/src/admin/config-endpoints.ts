/**
 * `/config`: the whole configuration as one declarative file (Kong's DB-less `/config`, on a
 * database).
 *
 * - `GET /config` answers the export (`_format_version: "3.0"`, one flat list per kind): JSON, or
 *   YAML when `Accept` names a YAML type (`application/yaml`). Kong's DB-less `GET /config` wraps a
 *   YAML string in `{"config": …}`; Sluice answers the file itself.
 * - `POST /config` imports a file: the body is the document as JSON, YAML (`Content-Type:
 *   application/yaml`), or Kong's `{"config": "<text>"}` / form field `config`. 201 with what changed
 *   and the version committed (headers as every write); 400 with Kong's code 14 and nothing written
 *   when any entity is invalid. `?check_hash=1`: when the file would change nothing, 304 (Kong's
 *   answer for a file whose hash is the current one). `?dry_run=1`: 200 with the plan, nothing
 *   written (what `sluice-cp config diff` shows).
 *
 * Its body limit is {@link AdminApiLimits.configBodyLimitBytes} (default 64 MiB), not the
 * entity endpoints'.
 */
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { KongDaoError } from '../errors.js';
import { type DeclarativeConfigService, type ImportPlan, YAML_MEDIA_TYPES, formatDeclarativeText, parseDeclarativeText } from '../declarative/index.js';
import { CONFIG_EPOCH_HEADER, CONFIG_VERSION_HEADER, registerEndpoint, sendWrite } from './endpoint.js';
import { bodyOf } from './request-body.js';

/** Response header carrying the config hash (hex) an export was read at or an import committed. */
export const CONFIG_HASH_HEADER = 'X-Sluice-Config-Hash';

/** True for Kong's truthy query flags (`?check_hash=1`, `true`). */
function isFlagSet(value: unknown): boolean {
  return value === '1' || value === 'true' || value === '';
}

function wantsYaml(request: FastifyRequest): boolean {
  const accept = String(request.headers.accept ?? '').toLowerCase();
  return YAML_MEDIA_TYPES.some((t) => accept.includes(t));
}

/** The document a POST carries, whatever its form; a text that does not parse is Kong's code 14. */
function documentOf(request: FastifyRequest): unknown {
  const body = bodyOf(request.body);
  let text: unknown;
  if (body.kind === 'text') text = body.text;
  else if (body.kind === 'form') text = body.args.config;
  else {
    const keys = Object.keys(body.value);
    if (keys.length === 1 && keys[0] === 'config' && typeof body.value.config === 'string') text = body.value.config;
    else return body.value;
  }
  if (typeof text !== 'string') return text;
  try {
    return parseDeclarativeText(text);
  } catch (err) {
    throw KongDaoError.declarativeConfig([{ kind: null, where: '', path: [], message: `the file is neither JSON nor YAML: ${(err as Error).message}` }]);
  }
}

/** The plan as the API shows it: counts, and per entity its kind, operation, id, name and changed fields. */
export function planBody(plan: ImportPlan): { counts: ImportPlan['counts']; changes: { kind: string; op: string; id: string; name: string | null; fields?: readonly string[] }[] } {
  return {
    counts: plan.counts,
    changes: plan.changes.map((c) => ({ kind: c.kind, op: c.op, id: c.id, name: c.name, ...(c.op === 'update' ? { fields: c.fields } : {}) })),
  };
}

/** Registers `/config`; see the module comment. */
export function registerConfigEndpoints(app: FastifyInstance, service: DeclarativeConfigService, bodyLimitBytes: number): void {
  registerEndpoint(
    app,
    '/config',
    {
      GET: async (request, reply: FastifyReply) => {
        const { document, head, hash } = await service.export();
        reply.header(CONFIG_VERSION_HEADER, String(head.version)).header(CONFIG_EPOCH_HEADER, head.epoch).header(CONFIG_HASH_HEADER, hash);
        if (wantsYaml(request)) return reply.type(`${YAML_MEDIA_TYPES[0]}; charset=utf-8`).send(formatDeclarativeText(document, 'yaml'));
        return document;
      },
      POST: async (request, reply) => {
        const query = (request.query ?? {}) as Record<string, unknown>;
        const document = documentOf(request);
        if (isFlagSet(query.dry_run)) {
          const { plan, head } = await service.plan(document);
          reply.header(CONFIG_VERSION_HEADER, String(head.version)).header(CONFIG_EPOCH_HEADER, head.epoch);
          return planBody(plan);
        }
        request.auditEntity = { kind: 'config', id: null };
        const result = await service.import(document);
        reply.header(CONFIG_HASH_HEADER, result.hash);
        if (!result.isChanged && isFlagSet(query.check_hash)) {
          reply.code(304).header(CONFIG_VERSION_HEADER, String(result.version)).header(CONFIG_EPOCH_HEADER, result.epoch);
          return reply.send();
        }
        return sendWrite(reply, 201, result, { version: result.version, epoch: result.epoch, hash: result.hash, changed: result.isChanged, counts: result.plan.counts });
      },
    },
    { POST: { bodyLimit: bodyLimitBytes } },
  );
}
