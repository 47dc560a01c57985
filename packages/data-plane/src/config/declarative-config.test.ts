import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { ConfigHash, encodeEntity, ENTITY_KINDS } from '@sluice/protocol';
import { buildDeclarativeConfig, DECLARATIVE_EPOCH, loadDeclarativeConfig, parseDeclarativeText } from './declarative-config.js';
import type { RuntimeConfig } from './runtime-config.js';

const NOW = 1_700_000_000;
const build = (document: unknown) => buildDeclarativeConfig(document, { nowSeconds: NOW });

/** The message a document is refused with. */
function refusal(document: unknown): string {
  try {
    build(document);
  } catch (err) {
    expect((err as { code?: string }).code).toBe('SLUICE_DP_DECLARATIVE_CONFIG');
    return (err as Error).message;
  }
  throw new Error('the document was accepted');
}

/** The hash of a config's entities recomputed from scratch over kind, id and payload (as the control plane hashes). */
function hashOf(config: RuntimeConfig): string {
  const hash = new ConfigHash();
  for (const kind of ENTITY_KINDS) for (const entity of config.entities[kind].values()) hash.set(kind, entity.id, encodeEntity(kind, entity as never));
  return hash.hex();
}

describe('buildDeclarativeConfig', () => {
  it('takes nested routes from their service and resolves a flat route’s service by name, with stable ids', () => {
    const document = {
      _format_version: '3.0',
      services: [{ name: 'up', url: 'http://up.test:8080/base', routes: [{ name: 'nested', paths: ['/nested'] }] }],
      routes: [
        { name: 'flat', paths: ['/flat'], service: { name: 'up' } },
        { name: 'by-string', paths: ['/s'], service: 'up' },
      ],
    };
    const config = build(document);
    expect(config).toMatchObject({ epoch: DECLARATIVE_EPOCH, version: 1, source: 'declarative' });
    const [service] = [...config.services.values()];
    expect(service).toMatchObject({ name: 'up', host: 'up.test', port: 8080, path: '/base' });
    expect([...config.routes.values()].map((r) => [r.name, r.service?.id]).sort()).toEqual([
      ['by-string', service.id],
      ['flat', service.id],
      ['nested', service.id],
    ]);
    expect(config.references.count('services', service.id)).toBe(3);
    expect(config.router.size).toBe(3);
    expect(build(document).hashHex).toBe(config.hashHex); // same file, same ids, same hash
  });

  it('refuses a nested route that names a service, a service name that does not exist, and unknown keys', () => {
    expect(refusal({ services: [{ name: 'up', host: 'up.test', routes: [{ paths: ['/a'], service: { name: 'up' } }] }] })).toContain(
      'services[0].routes[0]: a nested route takes its service from its parent',
    );
    expect(refusal({ routes: [{ paths: ['/a'], service: 'missing' }] })).toContain('routes[0]: service "missing" does not exist');
    expect(refusal({ services: [], upstreams: [] })).toContain('unknown top-level key "upstreams"');
    expect(refusal({ consumers: { username: 'x' } })).toContain('consumers must be an array');
  });

  it('accepts consumers with Kong’s fields, hashed as the control plane hashes them', () => {
    const config = build({
      _format_version: '3.0',
      consumers: [{ username: 'alice', tags: ['team-a'] }, { custom_id: 'ext-42' }, { id: '6f6b7c2e-1d9a-4b8e-9f3a-2c1d0e9b8a7f', username: 'bob', custom_id: 'ext-7' }],
    });
    const consumers = [...config.entities.consumers.values()].sort((a, b) => String(a.username).localeCompare(String(b.username)));
    expect(consumers).toEqual([
      expect.objectContaining({ username: 'alice', custom_id: null, tags: ['team-a'], created_at: NOW, updated_at: NOW }),
      expect.objectContaining({ id: '6f6b7c2e-1d9a-4b8e-9f3a-2c1d0e9b8a7f', username: 'bob', custom_id: 'ext-7' }),
      expect.objectContaining({ username: null, custom_id: 'ext-42' }),
    ]);
    expect(config.resources.size).toBe(3);
    expect(config.hashHex).toBe(hashOf(config));
    expect(config.router.size).toBe(0);
  });

  it('refuses invalid consumers with Kong’s messages', () => {
    expect(refusal({ consumers: [{ tags: ['a'] }] })).toContain("consumers[0]: schema violation (at least one of these fields must be non-empty: 'custom_id', 'username')");
    expect(refusal({ consumers: [{ username: 'a', plan: 'gold' }] })).toContain('consumers[0]: schema violation (plan: unknown field)');
    expect(refusal({ consumers: [{ username: 42 }] })).toContain('consumers[0]: schema violation (username: expected a string)');
    expect(refusal({ consumers: [{ username: 'a' }, { username: 'a', custom_id: 'c' }] })).toContain(
      "consumers[1]: uniqueness violation: 'consumers' entity with username set to 'a' already declared",
    );
    expect(refusal({ consumers: [{ custom_id: 'c' }, { username: 'b', custom_id: 'c' }] })).toContain(
      "consumers[1]: uniqueness violation: 'consumers' entity with custom_id set to 'c' already declared",
    );
  });
});

describe('loadDeclarativeConfig', () => {
  const dir = mkdtempSync(join(tmpdir(), 'sluice-declarative-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  const write = (name: string, text: string) => {
    const path = join(dir, name);
    writeFileSync(path, text);
    return path;
  };

  it('reads a YAML file (kong.yml) as it reads the same JSON, timestamps given in the file kept', async () => {
    const yaml = [
      '_format_version: "3.0"',
      '_transform: false',
      'services:',
      '  - name: up',
      '    url: http://up.test:8080',
      '    created_at: 1600000000',
      '    updated_at: 1600000001',
      '    routes:',
      '      - name: r',
      '        paths: [/r]',
      '',
    ].join('\n');
    const fromYaml = await loadDeclarativeConfig(write('kong.yml', yaml));
    const fromJson = await loadDeclarativeConfig(write('kong.json', JSON.stringify(parseDeclarativeText(yaml))));
    const [service] = [...fromYaml.services.values()];
    expect(service).toMatchObject({ name: 'up', host: 'up.test', port: 8080, created_at: 1600000000, updated_at: 1600000001 });
    expect([...fromYaml.routes.values()].map((r) => r.paths)).toEqual([['/r']]);
    expect([...fromJson.services.values()]).toEqual([service]);
  });

  it('refuses a file without _format_version, a 2.x file with how to convert it, and text that is neither JSON nor YAML', async () => {
    await expect(loadDeclarativeConfig(write('none.yml', 'services: []\n'))).rejects.toThrow(/_format_version: required field missing/);
    await expect(loadDeclarativeConfig(write('old.yml', '_format_version: "2.1"\nservices: []\n'))).rejects.toThrow(
      /_format_version: format 2.1 is Kong 1.x\/2.x.*deck file convert/,
    );
    await expect(loadDeclarativeConfig(write('four.yml', '_format_version: "4.0"\n'))).rejects.toThrow(/_format_version: expected one of: 3.0/);
    await expect(loadDeclarativeConfig(write('bad.yml', 'services: [\n'))).rejects.toMatchObject({ code: 'SLUICE_DP_DECLARATIVE_CONFIG', message: expect.stringMatching(/neither JSON nor YAML/) });
  });
});
