import { describe, expect, it } from 'vitest';
import { formatReport, type DrillReport, type PhaseReport } from './drill-report.js';

const head = { epoch: 'e1', version: 7, hash: 'ab'.repeat(32) };
const dataPlane = { proxy_url: 'http://127.0.0.1:8000', status_url: 'http://127.0.0.1:8100', node_id: '0123456789abcdef', epoch: 'e1', version: 7, hash: head.hash, control_plane: 'ws://127.0.0.1:8005', sync_status: 'in_sync' };

function phase(name: string, extra: Partial<PhaseReport> = {}): PhaseReport {
  return {
    name,
    verdict: 'pass',
    reasons: [],
    duration_ms: 1000,
    requests: { served: 40, failed: 0, by_data_plane: [{ url: dataPlane.proxy_url, served: 40, failed: 0 }], failures: [] },
    stop: null,
    start: null,
    target: null,
    reconverge_ms: 250,
    marker_version: 7,
    head,
    data_planes: [dataPlane],
    ...extra,
  };
}

describe('formatReport', () => {
  it('prints a table of phases, each data plane at its version and hash, the failures and the verdict', () => {
    const report: DrillReport = {
      verdict: 'fail',
      started_at: '2026-01-01T00:00:00.000Z',
      duration_ms: 12_345,
      path: '/sluice-drill-1/ping',
      route_created: true,
      rate_per_second: 20,
      phases: [
        phase('baseline'),
        phase('control-plane', {
          verdict: 'fail',
          reasons: ['1 proxied requests failed (at most 0 allowed)'],
          requests: { served: 99, failed: 1, by_data_plane: [], failures: [{ dataPlane: dataPlane.proxy_url, at: '2026-01-01T00:00:05.000Z', error: 'ECONNRESET' }] },
          stop: { command: 'systemctl stop sluice-cp', exit_code: 0, ms: 1200, timed_out: false, output: '' },
          reconverge_ms: null,
        }),
      ],
      version_regressions: [],
      status_samples: 50,
      errors: [],
    };
    const text = formatReport(report);
    expect(text.split('\n').slice(0, 6)).toEqual([
      'sluice drill 2026-01-01T00:00:00.000Z: FAIL in 12.3 s',
      'traffic: 20 req/s per data plane to /sluice-drill-1/ping (route created by the drill)',
      '',
      'phase          verdict  served   failed   reconverge  head',
      `baseline       pass     40       0        250 ms      7 ${'ab'.repeat(6)}`,
      `control-plane  fail     99       1        -           7 ${'ab'.repeat(6)}`,
    ]);
    expect(text).toContain('  ran "systemctl stop sluice-cp": exit 0 in 1200 ms');
    expect(text).toContain(`  http://127.0.0.1:8000        node 01234567  version 7  hash ${'ab'.repeat(6)}  via ws://127.0.0.1:8005  in_sync`);
    expect(text).toContain('  failed: http://127.0.0.1:8000 ECONNRESET at 2026-01-01T00:00:05.000Z');
    expect(text).toContain('  FAIL: 1 proxied requests failed (at most 0 allowed)');
    expect(text.endsWith('verdict: fail')).toBe(true);
  });
});
