/**
 * "Each database under test": embedded PGlite always, and the PostgreSQL server named by
 * `SLUICE_TEST_DATABASE_URL` when it is set. Each test file gets its own database per target (a
 * PGlite directory in a temp dir; `CREATE DATABASE sluice_test_<random>` on the server, dropped
 * afterwards), so test files can run in parallel.
 *
 * Usage:
 * ```ts
 * describeEachDatabase('admin api', (env) => {
 *   it('...', async () => { const store = await env.openStore(); ... });
 * });
 * ```
 */
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PGlite } from '@electric-sql/pglite';
import { ENTITY_KINDS } from '@sluice/protocol';
import { sql } from 'kysely';
import pg from 'pg';
import { afterAll, beforeAll, describe } from 'vitest';
import { type Store, openStore } from '../../src/store/index.js';

/** The environment variable naming a PostgreSQL server to test against as well. */
export const TEST_DATABASE_URL_ENV = 'SLUICE_TEST_DATABASE_URL';

/** One database target of a test file. */
export interface DatabaseEnv {
  readonly kind: 'pglite' | 'postgres';
  /** Opens (and migrates) a store on this file's database; closed after the file. */
  openStore(): Promise<Store>;
  /** Opens another store on the same database with its own connections: a second replica. */
  openReplica(): Promise<Store>;
  /** Empties every entity and the change log, and starts a new epoch at version 0. */
  reset(): Promise<void>;
}

/** The targets this run covers. */
export function databaseTargets(): ('pglite' | 'postgres')[] {
  return process.env[TEST_DATABASE_URL_ENV] ? ['pglite', 'postgres'] : ['pglite'];
}

/** Replaces the database name of a postgres URL. */
function withDatabase(url: string, database: string): string {
  const u = new URL(url);
  u.pathname = `/${database}`;
  return u.toString();
}

function createEnv(kind: 'pglite' | 'postgres') {
  const stores: Store[] = [];
  let tempDir: string | null = null;
  let pglite: PGlite | null = null;
  let serverUrl: string | null = null;
  let databaseName: string | null = null;
  let databaseUrl: string | null = null;

  const setup = async (): Promise<void> => {
    if (kind === 'pglite') {
      tempDir = mkdtempSync(join(tmpdir(), 'sluice-test-'));
      pglite = new PGlite(join(tempDir, 'pgdata'));
      await pglite.waitReady;
      return;
    }
    serverUrl = process.env[TEST_DATABASE_URL_ENV] ?? null;
    if (!serverUrl) throw new Error(`${TEST_DATABASE_URL_ENV} is not set`);
    databaseName = `sluice_test_${randomBytes(6).toString('hex')}`;
    const admin = new pg.Client({ connectionString: serverUrl });
    await admin.connect();
    try {
      await admin.query(`create database ${databaseName}`);
    } finally {
      await admin.end();
    }
    databaseUrl = withDatabase(serverUrl, databaseName);
  };

  const open = async (): Promise<Store> => {
    const store = kind === 'pglite' ? await openStore({ pglite: pglite ?? undefined }) : await openStore({ databaseUrl: databaseUrl ?? undefined });
    stores.push(store);
    return store;
  };

  const env: DatabaseEnv = {
    kind,
    openStore: open,
    openReplica: open,
    async reset() {
      const store = stores[0] ?? (await open());
      await store.db.transaction().execute(async (trx) => {
        await sql`truncate table ${sql.raw([...ENTITY_KINDS, 'config_changes'].join(', '))}`.execute(trx);
        await sql`update config_state set epoch = gen_random_uuid(), version = 0, min_retained_version = 0 where id = 1`.execute(trx);
      });
    },
  };

  const teardown = async (): Promise<void> => {
    for (const store of stores.splice(0)) await store.close().catch(() => undefined);
    if (pglite) await pglite.close().catch(() => undefined);
    if (tempDir) rmSync(tempDir, { recursive: true, force: true });
    if (serverUrl && databaseName) {
      const admin = new pg.Client({ connectionString: serverUrl });
      await admin.connect();
      try {
        await admin.query(`drop database if exists ${databaseName} with (force)`);
      } finally {
        await admin.end();
      }
    }
  };

  return { env, setup, teardown };
}

/** Declares `body` once per database target, each with its own fresh database. */
export function describeEachDatabase(title: string, body: (env: DatabaseEnv) => void): void {
  for (const kind of databaseTargets()) {
    describe(`${title} [${kind}]`, () => {
      const { env, setup, teardown } = createEnv(kind);
      beforeAll(setup);
      afterAll(teardown);
      body(env);
    });
  }
}
