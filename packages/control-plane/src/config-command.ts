/**
 * `sluice-cp config dump|diff|sync FILE`: the Admin API's `/config` from the command line, against
 * a running control plane (`--admin-url`, default `http://127.0.0.1:8001`, env
 * `SLUICE_ADMIN_URL`; the token from `SLUICE_ADMIN_TOKEN`, sent as `Authorization: Bearer`).
 *
 * - `dump FILE` writes the whole configuration to FILE (`-` for stdout): YAML when FILE ends in
 *   `.yml`/`.yaml`, else JSON.
 * - `diff FILE` prints what `sync FILE` would change, entity by entity (`+` created, `-` deleted,
 *   `~` changed, with the fields), without writing (`POST /config?dry_run=1`).
 * - `sync FILE` imports FILE (`POST /config`): one version, or nothing when it changes nothing.
 *
 * Exit codes: 0 done, 1 the control plane refused or failed (its message is printed), 2 bad usage.
 * An https:// Admin API with a private CA: `NODE_EXTRA_CA_CERTS=ca.pem`.
 */
import { readFile, writeFile } from 'node:fs/promises';
import { parseArgs } from 'node:util';
import { ENV_ADMIN_TOKEN_NAME } from './admin/index.js';
import { DEFAULT_ADMIN_LISTEN } from './control-plane.js';
import { YAML_MEDIA_TYPES, formatOfFileName } from './declarative/index.js';

/** The Admin API the commands talk to by default. */
export const DEFAULT_ADMIN_URL = `http://${DEFAULT_ADMIN_LISTEN}`;

/** How long one request to the Admin API may take, in ms (default 5 minutes: an import of 100,000 entities). */
export const CONFIG_COMMAND_TIMEOUT_MS = 5 * 60_000;

const SUBCOMMANDS = ['dump', 'diff', 'sync'] as const;
type Subcommand = (typeof SUBCOMMANDS)[number];

/** The usage text of `sluice-cp config`. */
export function configUsage(): string {
  return [
    'Usage: sluice-cp config dump|diff|sync FILE [--admin-url URL]',
    '',
    'The whole configuration as one declarative file (Kong format, _format_version "3.0"), against a running control plane.',
    '  dump FILE   write the configuration to FILE (- for stdout); YAML for .yml/.yaml, else JSON',
    '  diff FILE   print what sync would change (+ created, - deleted, ~ changed), without writing',
    '  sync FILE   import FILE: one version; entities FILE leaves out are deleted',
    '',
    'Options:',
    `  --admin-url URL      the Admin API (default: ${DEFAULT_ADMIN_URL}), env SLUICE_ADMIN_URL`,
    `  the token, when the Admin API needs one, comes from the environment variable ${ENV_ADMIN_TOKEN_NAME}`,
  ].join('\n');
}

/** One change as `POST /config?dry_run=1` lists it. */
interface PlanChange {
  kind: string;
  op: 'create' | 'update' | 'delete';
  id: string;
  name: string | null;
  fields?: string[];
}

/** The plan as people read it: one line per entity, then the counts. */
export function formatPlan(plan: { counts: Record<string, number>; changes: PlanChange[] }): string {
  const mark = { create: '+', delete: '-', update: '~' } as const;
  const lines = plan.changes.map((c) => {
    const who = c.name === null ? c.id : `${c.name} (${c.id})`;
    return `${mark[c.op]} ${c.kind} ${who}${c.op === 'update' && c.fields ? `: ${c.fields.join(', ')}` : ''}`;
  });
  const { create = 0, update = 0, delete: deleted = 0 } = plan.counts;
  lines.push(create + update + deleted === 0 ? 'no changes' : `${create} to create, ${update} to change, ${deleted} to delete`);
  return `${lines.join('\n')}\n`;
}

/** Runs `sluice-cp config …`; resolves with the exit code. */
export async function runConfigCommand(argv: string[], env: NodeJS.ProcessEnv, out: NodeJS.WritableStream = process.stdout, err: NodeJS.WritableStream = process.stderr): Promise<number> {
  let values: { 'admin-url'?: string; help?: boolean };
  let positionals: string[];
  try {
    ({ values, positionals } = parseArgs({ args: argv, options: { 'admin-url': { type: 'string' }, help: { type: 'boolean', short: 'h' } }, allowPositionals: true, strict: true }));
  } catch (e) {
    err.write(`sluice-cp config: ${(e as Error).message}\n\n${configUsage()}\n`);
    return 2;
  }
  if (values.help) {
    out.write(`${configUsage()}\n`);
    return 0;
  }
  const [subcommand, file, ...rest] = positionals;
  if (!SUBCOMMANDS.includes(subcommand as Subcommand) || file === undefined || rest.length > 0) {
    err.write(`sluice-cp config: expected dump, diff or sync and one FILE\n\n${configUsage()}\n`);
    return 2;
  }
  const base = (values['admin-url'] ?? env.SLUICE_ADMIN_URL ?? DEFAULT_ADMIN_URL).replace(/\/+$/, '');
  const token = env[ENV_ADMIN_TOKEN_NAME];
  const headers: Record<string, string> = token ? { authorization: `Bearer ${token}` } : {};
  const call = async (method: 'GET' | 'POST', path: string, body?: { text: string; type: string }, accept?: string): Promise<Response> => {
    const response = await fetch(`${base}${path}`, {
      method,
      headers: { ...headers, ...(accept ? { accept } : {}), ...(body ? { 'content-type': body.type } : {}) },
      body: body?.text,
      signal: AbortSignal.timeout(CONFIG_COMMAND_TIMEOUT_MS),
    });
    if (response.status >= 400) {
      const text = await response.text();
      let message = text;
      try {
        message = (JSON.parse(text) as { message?: string }).message ?? text;
      } catch {
        // not JSON: print as it came
      }
      throw new Error(`${method} ${path}: ${response.status} ${message}`);
    }
    return response;
  };
  const bodyOf = async (): Promise<{ text: string; type: string }> => {
    const text = file === '-' ? await readStdin() : await readFile(file, 'utf8');
    return { text, type: /^\s*\{/.test(text) ? 'application/json' : YAML_MEDIA_TYPES[0] };
  };
  try {
    if (subcommand === 'dump') {
      const format = file === '-' ? 'json' : formatOfFileName(file);
      const response = await call('GET', '/config', undefined, format === 'yaml' ? YAML_MEDIA_TYPES[0] : 'application/json');
      let text = await response.text();
      if (format === 'json') text = `${JSON.stringify(JSON.parse(text), null, 2)}\n`;
      if (file === '-') out.write(text);
      else {
        await writeFile(file, text);
        err.write(`wrote ${file} (config version ${response.headers.get('x-sluice-config-version')})\n`);
      }
      return 0;
    }
    if (subcommand === 'diff') {
      const response = await call('POST', '/config?dry_run=1', await bodyOf());
      out.write(formatPlan((await response.json()) as { counts: Record<string, number>; changes: PlanChange[] }));
      return 0;
    }
    const response = await call('POST', '/config', await bodyOf());
    const result = (await response.json()) as { version: number; changed: boolean; counts: Record<string, number> };
    const { create = 0, update = 0, delete: deleted = 0 } = result.counts;
    out.write(result.changed ? `synced: ${create} created, ${update} changed, ${deleted} deleted; config version ${result.version}\n` : `in sync: no changes (config version ${result.version})\n`);
    return 0;
  } catch (e) {
    const cause = (e as { cause?: { message?: string } }).cause;
    err.write(`sluice-cp config ${subcommand}: ${(e as Error).message}${cause?.message ? ` (${cause.message})` : ''}\n`);
    return 1;
  }
}

async function readStdin(): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}
