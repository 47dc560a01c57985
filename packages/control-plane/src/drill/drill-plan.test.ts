import { describe, expect, it } from 'vitest';
import { ConfigurationError } from '../errors.js';
import { DEFAULT_OUTAGE_MS, parseDrillArgs } from './drill-plan.js';

const CLUSTER = ['--admin-url', 'http://127.0.0.1:8001', '--data-plane', 'http://127.0.0.1:8000', '--data-plane-status', 'http://127.0.0.1:8100'];
const TWO_DPS = [...CLUSTER, '--data-plane', 'http://127.0.0.1:8010', '--data-plane-status', 'http://127.0.0.1:8110'];

describe('parseDrillArgs', () => {
  it('runs the phases whose commands are given, in the default order, with stated defaults', () => {
    const plan = parseDrillArgs([...TWO_DPS, '--dp-stop-cmd', 'stop dp', '--dp-start-cmd', 'start dp', '--cp-stop-cmd', 'stop cp', '--cp-start-cmd', 'start cp']);
    if (plan === 'help') throw new Error('help');
    expect(plan.phases).toEqual([
      { kind: 'control-plane', stopCommand: 'stop cp', startCommand: 'start cp', dataPlaneIndex: null },
      { kind: 'data-plane', stopCommand: 'stop dp', startCommand: 'start dp', dataPlaneIndex: 1 },
    ]);
    expect(plan).toMatchObject({ outageMs: DEFAULT_OUTAGE_MS, ratePerSecond: 20, maxFailed: 0, expectStatus: 200, path: null, json: false });
    expect(plan.dataPlanes).toEqual([
      { proxyUrl: 'http://127.0.0.1:8000', statusUrl: 'http://127.0.0.1:8100' },
      { proxyUrl: 'http://127.0.0.1:8010', statusUrl: 'http://127.0.0.1:8110' },
    ]);
  });

  it('takes the order of --phases and the data plane of --dp-target', () => {
    const plan = parseDrillArgs([...TWO_DPS, '--phases', 'data-plane,database', '--db-stop-cmd', 'a', '--db-start-cmd', 'b', '--dp-stop-cmd', 'c', '--dp-start-cmd', 'd', '--dp-target', 'http://127.0.0.1:8000/']);
    if (plan === 'help') throw new Error('help');
    expect(plan.phases.map((p) => [p.kind, p.dataPlaneIndex])).toEqual([
      ['data-plane', 0],
      ['database', null],
    ]);
  });

  it.each([
    [[], /--admin-url is required/],
    [['--admin-url', 'http://a'], /--data-plane is required/],
    [['--admin-url', 'http://a', '--data-plane', 'http://b'], /needs its --data-plane-status/],
    [[...CLUSTER, '--cp-stop-cmd', 'x'], /--cp-stop-cmd and --cp-start-cmd go together/],
    [[...CLUSTER, '--phases', 'control-plane'], /needs --cp-stop-cmd/],
    [[...CLUSTER, '--phases', 'network'], /unknown phase "network"/],
    [[...CLUSTER, '--rate', '5000'], /--rate must be an integer from 1 to 1000/],
    [[...CLUSTER, '--dp-target', 'http://elsewhere'], /--dp-target must be one of the --data-plane URLs/],
    [['--admin-url', 'ftp://a', ...CLUSTER.slice(2)], /--admin-url must be an http/],
  ])('refuses %j', (argv, message) => {
    expect(() => parseDrillArgs(argv)).toThrow(ConfigurationError);
    expect(() => parseDrillArgs(argv)).toThrow(message);
  });
});
