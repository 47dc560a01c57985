import { describe, expect, it } from 'vitest';
import { databaseFaultOf } from './database-faults.js';

describe('databaseFaultOf', () => {
  it.each([
    [{ code: 'ECONNREFUSED' }, 'connection'],
    [{ code: 'ECONNRESET' }, 'connection'],
    [{ code: 'EPIPE' }, 'connection'],
    [{ code: 'ETIMEDOUT' }, 'timeout'],
    [{ code: '57P01' }, 'server'], // terminated by pg_terminate_backend / admin shutdown
    [{ code: '57P03' }, 'server'], // cannot connect now (starting up, recovery)
    [{ code: '53300' }, 'server'], // too many connections
    [{ code: '08006' }, 'server'], // connection failure
    [{ code: '28P01' }, 'server'], // password authentication failed
    [{ code: '57014' }, 'timeout'], // statement timeout, or the write deadline
    [{ code: '25P03' }, 'timeout'], // idle in transaction timeout
    [{ code: '55P03' }, 'timeout'], // lock timeout
  ])('%o is a %s fault', (err, fault) => {
    expect(databaseFaultOf(err)).toBe(fault);
  });

  it.each([
    [{ code: '23505' }], // unique violation: the statement is wrong, the database is fine
    [{ code: '23503' }],
    [{ code: '42601' }],
    [new Error('no code')],
    [null],
    ['ECONNREFUSED'],
  ])('%o is not a fault', (err) => {
    expect(databaseFaultOf(err)).toBeNull();
  });
});
