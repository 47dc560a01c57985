import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { hasChromium, launchChromium } from './support/browser.js';
import { http, startControlPlane, startDataPlane, tempDir, waitFor, type ControlPlaneHandle, type DataPlaneHandle } from './support/processes.js';
import { startEchoUpstream } from './support/upstream.js';

// The Sluice UI in a real browser against a real sluice-cp (serving the UI), two real sluice-dp
// and a real upstream: forms generated from the schemas create what the data planes then proxy,
// Kong's validation messages land beside their fields, deletes go through, and the fleet view
// follows the data planes.
describe.skipIf(!hasChromium)('web UI (Chromium)', () => {
  const dirs = [tempDir('cp'), tempDir('dp1'), tempDir('dp2')];
  let cp: ControlPlaneHandle;
  let dps: DataPlaneHandle[];
  let upstream: Awaited<ReturnType<typeof startEchoUpstream>>;
  let browser: Browser;
  let page: Page;
  const pageErrors: string[] = [];

  beforeAll(async () => {
    [upstream, cp, browser] = await Promise.all([startEchoUpstream('ui-echo'), startControlPlane({ dataDir: dirs[0].path, gui: true }), launchChromium()]);
    dps = await Promise.all([1, 2].map((i) => startDataPlane({ controlPlane: cp.cluster, cacheDir: dirs[i].path, args: ['--label', `zone=z${i}`] })));
    page = await browser.newPage({ viewport: { width: 1280, height: 860 } });
    page.on('pageerror', (err) => pageErrors.push(err.message));
    page.setDefaultTimeout(10_000);
  });

  afterAll(async () => {
    await browser?.close();
    await Promise.all([...(dps ?? []).map((d) => d.proc.kill()), cp?.proc.kill()]);
    await upstream?.close();
    for (const d of dirs) d.cleanup();
  });

  it('creates a service and a route through the forms, and a data plane proxies them', async () => {
    await page.goto(`${cp.gui}/#/services/new`);
    await page.fill('#field-url', `${upstream.url}/base`);
    await page.fill('#field-name', 'ui-echo');
    await page.fill('#field-tags', 'ui\nteam-a');
    await page.click('button[type=submit]');
    await page.waitForSelector('[data-screen=detail][data-kind=services]');
    expect(await page.textContent('h1')).toBe('ui-echo');
    expect(await page.textContent('[data-field=port]')).toBe(String(upstream.port));

    // The route is created from the service's page, under it.
    await page.click('[data-children=routes] >> text=Add route');
    await page.waitForSelector('[data-screen=create][data-kind=routes]');
    await page.fill('#field-name', 'ui-route');
    await page.fill('#field-paths', '/ui');
    await page.click('button[type=submit]');
    await page.waitForSelector('[data-screen=detail][data-kind=routes]');
    const routeId = (await page.textContent('[data-field=id]'))!.trim();
    const route = await http('GET', `${cp.admin}/routes/${routeId}`);
    expect(route.body).toMatchObject({ name: 'ui-route', paths: ['/ui'], service: { id: expect.any(String) } });

    // The write's propagation: both data planes serve it, as the panel says.
    const card = page.locator('[data-propagation] .prop-card').first();
    await card.locator('xpath=self::*[@data-state="propagated"]').waitFor({ timeout: 15_000 });
    expect(await card.locator('.prop-dps li.ok').count()).toBe(2);
    for (const dp of dps) {
      const res = await http('GET', `${dp.proxy}/ui/hello`);
      expect(res.status).toBe(200);
      expect(res.body).toMatchObject({ name: 'ui-echo', url: '/base/hello' });
    }

    // The list finds it by name, and by the tags filter.
    await page.goto(`${cp.gui}/#/services`);
    await page.waitForSelector('[data-screen=list] table');
    await page.fill('input[aria-label="Search by name or id"]', 'ui-echo');
    await page.press('input[aria-label="Search by name or id"]', 'Enter');
    await page.waitForSelector('tbody tr >> text=ui-echo');
    await page.fill('input[aria-label="Search by name or id"]', '');
    await page.fill('input[aria-label="Filter by tags"]', 'nobody-has-this');
    await page.press('input[aria-label="Filter by tags"]', 'Enter');
    await page.waitForSelector('.empty >> text=Nothing carries these tags.');
    await page.fill('input[aria-label="Filter by tags"]', 'ui,team-a');
    await page.press('input[aria-label="Filter by tags"]', 'Enter');
    await page.waitForSelector('tbody tr >> text=ui-echo');
    expect(await page.locator('tbody tr').count()).toBe(1);
    expect(pageErrors).toEqual([]);
  });

  it("shows Kong's validation message beside the field it names", async () => {
    await page.goto(`${cp.gui}/#/services/new`);
    await page.fill('#field-host', 'example.com');
    await page.fill('#field-port', '70000');
    await page.click('button[type=submit]');
    const error = page.locator('[data-field=port] .field-error');
    await error.waitFor();
    expect(await error.textContent()).toBe('value should be between 0 and 65535');
    expect(await page.getAttribute('#field-port', 'aria-invalid')).toBe('true');
    expect(await page.textContent('[data-form-error]')).toContain('schema violation (port: value should be between 0 and 65535)');
    // Nothing else is marked, and nothing was written.
    expect(await page.locator('.field-error').count()).toBe(1);
    expect((await http('GET', `${cp.admin}/services`)).body.data).toHaveLength(1);
  });

  it("builds a plugin's config form from GET /schemas/plugins/{name}", async () => {
    // Kong's answer for rate-limiting, cut to five fields. The page is given it through the
    // browser, so the form is tested the same whether or not this Admin API serves the endpoint.
    await page.route('**/schemas/plugins/rate-limiting', (route) =>
      route.fulfill({
        contentType: 'application/json',
        body: JSON.stringify({
          fields: [
            { consumer: { type: 'foreign', reference: 'consumers' } },
            { protocols: { type: 'set', required: true, default: ['grpc', 'grpcs', 'http', 'https'], elements: { type: 'string', one_of: ['grpc', 'grpcs', 'http', 'https'] } } },
            {
              config: {
                type: 'record',
                required: true,
                fields: [
                  { minute: { type: 'number', gt: 0 } },
                  { hour: { type: 'number', gt: 0 } },
                  { limit_by: { type: 'string', required: true, default: 'consumer', one_of: ['consumer', 'credential', 'ip', 'service', 'header', 'path'] } },
                  { policy: { type: 'string', required: true, default: 'local', one_of: ['local', 'cluster', 'redis'] } },
                  { fault_tolerant: { type: 'boolean', required: true, default: true } },
                ],
              },
            },
          ],
        }),
      }),
    );
    await page.goto(`${cp.gui}/#/plugins/new`);
    await page.fill('#field-name', 'rate-limiting');
    await page.waitForSelector('#field-config\\.minute');
    await page.fill('#field-config\\.minute', '5');
    await page.selectOption('#field-config\\.policy', 'local');
    await page.click('button[type=submit]');
    await page.waitForSelector('[data-screen=detail][data-kind=plugins]');
    const id = (await page.textContent('[data-field=id]'))!.trim();
    const plugin = (await http('GET', `${cp.admin}/plugins/${id}`)).body;
    expect(plugin).toMatchObject({ name: 'rate-limiting', config: { minute: 5, limit_by: 'consumer', policy: 'local', fault_tolerant: true } });
    await page.unroute('**/schemas/plugins/rate-limiting');
  });

  it('deletes through the list, after confirmation', async () => {
    await http('POST', `${cp.admin}/routes`, { name: 'doomed', paths: ['/doomed'] });
    await page.goto(`${cp.gui}/#/routes`);
    const row = page.locator('tbody tr', { hasText: 'doomed' });
    await row.waitFor();
    await row.locator('button', { hasText: 'Delete' }).click();
    await page.click('dialog button[data-confirm]');
    await row.waitFor({ state: 'detached' });
    expect((await http('GET', `${cp.admin}/routes/doomed`)).status).toBe(404);
    expect(await page.locator('tbody tr', { hasText: 'ui-route' }).count()).toBe(1);
  });

  it('shows both data planes in the fleet, and one turning disconnected when it stops', async () => {
    await page.goto(`${cp.gui}/#/fleet`);
    const rows = page.locator('[data-fleet] tbody tr');
    await waitFor(async () => (await page.locator('[data-fleet] tbody tr[data-connected=true]').count()) === 2, 'two connected data planes');
    expect(await rows.count()).toBe(2);
    const head = (await http('GET', `${cp.admin}/clustering/status`)).body.config.version;
    for (const text of await page.locator('[data-fleet] [data-config-version]').allTextContents()) expect(text).toBe(`v${head} / v${head}`);
    expect(await page.textContent('[data-fleet]')).toContain('zone=z1');
    expect(await page.textContent('[data-fleet]')).toContain('zone=z2');

    const nodeId: string = (await http('GET', `${dps[1].status}/status`)).body.node_id;
    await dps[1].proc.kill();
    await page.waitForSelector(`[data-fleet] tr[data-dp="${nodeId}"][data-connected=false]`, { timeout: 15_000 });
    expect(await page.locator('[data-fleet] tr[data-connected=true]').count()).toBe(1);
    expect(pageErrors).toEqual([]);
  });
});
