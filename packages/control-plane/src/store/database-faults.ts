/**
 * Which database errors mean "the database is unavailable" (answer 503, serve reads from memory)
 * rather than "this statement is wrong" (a constraint, a syntax error). Decided by the error's
 * shape, never its message: a server error carries a five-character SQLSTATE, a socket error a
 * Node `E…` code; `pg` raises its own transport errors ("Connection terminated unexpectedly") with
 * neither, and the guarded pool knows those from the client's `error`/`end` events.
 */
import { DatabaseFault } from '../errors.js';

/**
 * SQLSTATE classes and codes that say the server cannot serve now, or gave up on the statement:
 * 08 connection exception, 28 invalid authorization (e.g. a password rotated under a running
 * replica), 53 insufficient resources (too many connections, out of memory or disk), 57P0x
 * shutdown / cannot connect now, 57014 statement timeout, 25P03 idle-in-transaction timeout,
 * 55P03 lock timeout.
 */
const UNAVAILABLE_SQLSTATE_CLASSES = ['08', '28', '53'];
const UNAVAILABLE_SQLSTATES = new Set(['57P01', '57P02', '57P03', '57P04', '57P05']);
const TIMEOUT_SQLSTATES = new Set(['57014', '25P03', '55P03']);

/** The fault `err` stands for, or `null` when it is an ordinary statement error. */
export function databaseFaultOf(err: unknown): DatabaseFault | null {
  if (typeof err !== 'object' || err === null) return null;
  const code = (err as { code?: unknown }).code;
  if (typeof code !== 'string') return null;
  // Node's socket errors first: no SQLSTATE class starts with E.
  if (code === 'ETIMEDOUT') return DatabaseFault.TIMEOUT;
  if (/^E[A-Z_]+$/.test(code)) return DatabaseFault.CONNECTION;
  if (!/^[0-9A-Z]{5}$/.test(code)) return null;
  if (TIMEOUT_SQLSTATES.has(code)) return DatabaseFault.TIMEOUT;
  if (UNAVAILABLE_SQLSTATES.has(code) || UNAVAILABLE_SQLSTATE_CLASSES.includes(code.slice(0, 2))) return DatabaseFault.SERVER;
  return null;
}
