/**
 * How long the control plane waits on PostgreSQL before it answers 503 `database unavailable`.
 * Every bound is enforced twice: by the server (`statement_timeout`,
 * `idle_in_transaction_session_timeout`, and the commit deadline of migration 0005), which keeps a
 * stuck session from holding locks, and by the client (`guarded-pool.ts`), which cuts a connection
 * that stopped answering at all (a partition, a hung server) and so never waits forever.
 */

/** Limits on the database's time, in ms. */
export interface DatabaseTimeouts {
  /** Longest wait for a pooled connection, a new one's TCP connect and startup included (default 5 s; `--database-connect-timeout`). */
  connectTimeoutMs: number;
  /** Longest one statement may run (default 5 s; `--database-statement-timeout`). */
  statementTimeoutMs: number;
  /**
   * Longest a write may take from its start (connection included) to its COMMIT being processed by
   * the database (default 10 s; `--database-transaction-timeout`). A COMMIT that reaches the
   * database later is refused there, so a write never commits after its client was told 503.
   */
  transactionTimeoutMs: number;
}

/** Default {@link DatabaseTimeouts}: 5 s to connect (Kong's `pg_timeout`), 5 s per statement, 10 s per write. */
export const DEFAULT_DATABASE_TIMEOUTS: DatabaseTimeouts = {
  connectTimeoutMs: 5_000,
  statementTimeoutMs: 5_000,
  transactionTimeoutMs: 10_000,
};

/**
 * How much longer than a server-side bound the client waits before cutting the connection, in ms:
 * room for the server's own timeout error (or COMMIT answer) to arrive, so a healthy but slow
 * database is told apart from one that does not answer.
 */
export const CLIENT_TIMEOUT_GRACE_MS = 500;

/** Checks that every timeout is a positive integer number of ms; throws `TypeError` naming the bad one. */
export function checkDatabaseTimeouts(timeouts: DatabaseTimeouts): DatabaseTimeouts {
  for (const [name, value] of Object.entries(timeouts)) {
    if (!Number.isSafeInteger(value) || value < 1) throw new TypeError(`${name} must be a positive integer number of ms, got ${String(value)}`);
  }
  return timeouts;
}
