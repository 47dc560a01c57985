import { describe, expect, it } from 'vitest';
import type { DataPlaneRecord } from './data-plane-record.js';
import { PropagationWait } from './propagation-wait.js';

const record = (id: string, patch: Partial<DataPlaneRecord> = {}): DataPlaneRecord => ({
  id,
  hostname: `h-${id}`,
  ip: '',
  buildVersion: '',
  protocolVersion: 1,
  labels: {},
  cpInstanceId: 'cp1',
  connected: true,
  connectedAt: 1,
  lastSeen: 1_000,
  appliedEpoch: 'e1',
  appliedVersion: 4,
  appliedHash: '',
  lastError: null,
  lastErrorCode: null,
  rejectedVersion: null,
  incompatible: false,
  pluginIncompatibility: null,
  ...patch,
});

const wait = (minDataPlanes = 0, epoch = 'e1') =>
  new PropagationWait({ version: 5, minDataPlanes, epoch: () => epoch, isConnected: (r) => r.connected });

describe('PropagationWait', () => {
  it('answers once every member applied the version, counting Acks as they come', () => {
    const w = wait(2);
    w.observe(record('a'));
    w.observe(record('b'));
    expect(w.isAnswered).toBe(false);
    w.observe(record('a', { appliedVersion: 5 }));
    expect(w.isAnswered).toBe(false);
    w.observe(record('b', { appliedVersion: 6 }));
    expect(w.isAnswered).toBe(true);
    expect(w.body(0, 10)).toMatchObject({ version: 5, propagated: true, applied: [{ id: 'a', config_version: 5 }, { id: 'b', config_version: 6 }], pending: [], rejected: [] });
  });

  it('is for the data planes connected and compatible when seen: one that leaves stays pending, listed disconnected', () => {
    const w = wait();
    w.observe(record('gone-before', { connected: false }));
    w.observe(record('old', { incompatible: true }));
    w.observe(record('leaves'));
    expect(w.isAnswered).toBe(false);
    w.observeGone('leaves');
    expect(w.isAnswered).toBe(false);
    expect(w.body(0)).toMatchObject({ applied: [], pending: [{ id: 'leaves', connected: false }] });
    w.observe(record('leaves', { appliedVersion: 5 }));
    expect(w.isAnswered).toBe(true);
  });

  it('counts a rejection as an answer, not as propagated, and a version only within its epoch', () => {
    const w = wait(1);
    w.observe(record('a', { rejectedVersion: 5, lastError: 'no' }));
    expect(w.isAnswered).toBe(true);
    expect(w.isClean).toBe(false);
    expect(w.body(0)).toMatchObject({ propagated: false, rejected: [{ id: 'a', error: 'no' }] });
    const other = wait(0, 'e2');
    other.observe(record('a', { appliedVersion: 9 }));
    expect(other.isAnswered).toBe(false);
  });

  it('is vacuously answered with nobody connected, unless a minimum is asked', () => {
    expect(wait().isAnswered).toBe(true);
    expect(wait(1).isAnswered).toBe(false);
  });
});
