import { randomBytes } from 'node:crypto';
import pg from 'pg';

/** The PostgreSQL server of the end-to-end tests (`SLUICE_TEST_DATABASE_URL`), or undefined: those tests are skipped. */
export const TEST_SERVER_URL = process.env.SLUICE_TEST_DATABASE_URL;

async function onServer<T>(run: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: TEST_SERVER_URL });
  await client.connect();
  try {
    return await run(client);
  } finally {
    await client.end();
  }
}

/**
 * Creates a fresh database `<prefix>_<random>` on the test server (a copy of `template`, a name,
 * when given: it must have no connection); `drop()` removes it (connections forced off).
 */
export async function createTestDatabase(prefix: string, template?: string): Promise<{ name: string; url: string; drop: () => Promise<void> }> {
  const name = `${prefix}_${randomBytes(6).toString('hex')}`;
  await onServer((c) => c.query(`create database ${name}${template ? ` template ${template}` : ''}`));
  const u = new URL(TEST_SERVER_URL!);
  u.pathname = `/${name}`;
  return { name, url: u.toString(), drop: () => onServer((c) => c.query(`drop database if exists ${name} with (force)`)).then(() => undefined) };
}
