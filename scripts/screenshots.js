#!/usr/bin/env node
// `npm run screenshots`: the README's pictures of the web UI (docs/screenshots/*.png), taken from a
// real cluster: one sluice-cp serving the UI, three sluice-dp (one without the rate-limiting plugin,
// so the fleet shows an incompatible data plane), an echo upstream, and a small config written
// through the Admin API. Needs the build (`npm run build`) and Chromium (/usr/bin/chromium, or
// SLUICE_CHROMIUM). Everything runs on random loopback ports in a temporary directory.
import { spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:http';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const outDir = join(root, 'docs', 'screenshots');
const work = mkdtempSync(join(tmpdir(), 'sluice-screenshots-'));
const children = [];
/** Longest any step may take, in ms. */
const STEP_TIMEOUT_MS = 60_000;

/** Starts a binary and resolves with the addresses it prints (`sluice-xx <what> listening on <url>`). */
function start(bin, args, wanted) {
  const child = spawn(process.execPath, [join(root, bin), ...args], { cwd: root, env: { ...process.env, SLUICE_LOG_LEVEL: 'warn' }, stdio: ['ignore', 'pipe', 'pipe'] });
  children.push(child);
  const found = {};
  let output = '';
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`${bin} did not start:\n${output.slice(-2000)}`)), STEP_TIMEOUT_MS);
    const onData = (d) => {
      output += d;
      for (const m of String(d).matchAll(/sluice-(?:cp|dp) (\w[\w-]*) listening on (\S+)/g)) found[m[1]] = m[2];
      if (wanted.every((w) => found[w])) {
        clearTimeout(timer);
        resolve(found);
      }
    };
    child.stdout.on('data', onData);
    child.stderr.on('data', onData);
    child.on('exit', (code) => reject(new Error(`${bin} exited with ${code}:\n${output.slice(-2000)}`)));
  });
}

async function api(admin, method, path, body) {
  const res = await fetch(admin + path, { method, headers: body ? { 'content-type': 'application/json' } : {}, body: body ? JSON.stringify(body) : undefined });
  const text = await res.text();
  if (!res.ok) throw new Error(`${method} ${path}: ${res.status} ${text}`);
  return { body: text ? JSON.parse(text) : null, version: Number(res.headers.get('x-sluice-config-version')) };
}

async function until(check, what) {
  const deadline = Date.now() + STEP_TIMEOUT_MS;
  for (;;) {
    if (await check().catch(() => false)) return;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

const upstream = createServer((req, res) => {
  res.writeHead(200, { 'content-type': 'application/json' });
  res.end(JSON.stringify({ method: req.method, url: req.url }));
});
await new Promise((r) => upstream.listen(0, '127.0.0.1', r));
const upstreamUrl = `http://127.0.0.1:${upstream.address().port}`;

let browser;
try {
  const cp = await start(
    'packages/control-plane/bin/sluice-cp.js',
    ['--data-dir', join(work, 'cp'), '--admin-listen', '127.0.0.1:0', '--cluster-listen', '127.0.0.1:0', '--admin-gui-listen', '127.0.0.1:0'],
    ['admin', 'cluster', 'admin-gui'],
  );
  const dp = (name, labels, extra = []) =>
    start(
      'packages/data-plane/bin/sluice-dp.js',
      ['--control-plane', cp.cluster, '--cache-dir', join(work, name), '--proxy-listen', '127.0.0.1:0', '--status-listen', '127.0.0.1:0', ...labels.flatMap((l) => ['--label', l]), ...extra],
      ['proxy', 'status'],
    );
  await Promise.all([
    dp('dp-eu-1', ['zone=eu-west-1a', 'env=prod']),
    dp('dp-eu-2', ['zone=eu-west-1b', 'env=prod']),
    dp('dp-us-1', ['zone=us-east-1a', 'env=prod'], ['--plugins', 'key-auth,basic-auth,acl']),
  ]);
  await until(async () => (await api(cp.admin, 'GET', '/clustering/status')).body.data_planes.connected === 3, 'three data planes');

  // A small, plausible config.
  for (const [name, path, tags] of [
    ['billing', '/v1', ['team-payments', 'prod']],
    ['catalog', '/catalog', ['team-shop', 'prod']],
    ['search', '/search', ['team-shop', 'prod']],
    ['users', '/users', ['team-identity', 'prod']],
    ['legacy-orders', '/orders', ['team-shop', 'deprecated']],
  ]) {
    await api(cp.admin, 'POST', '/services', { name, url: `${upstreamUrl}${path}`, tags });
  }
  await api(cp.admin, 'POST', '/services/billing/routes', { name: 'billing-api', paths: ['/billing'], methods: ['GET', 'POST'], tags: ['team-payments'] });
  await api(cp.admin, 'POST', '/services/billing/routes', { name: 'billing-webhooks', hosts: ['hooks.example.com'], paths: ['/stripe'], tags: ['team-payments'] });
  await api(cp.admin, 'POST', '/services/catalog/routes', { name: 'catalog', paths: ['/catalog'], tags: ['team-shop'] });
  await api(cp.admin, 'POST', '/services/search/routes', { name: 'search', paths: ['~/search/v[12]/'], tags: ['team-shop'] });
  await api(cp.admin, 'POST', '/services/users/routes', { name: 'users', paths: ['/users'], strip_path: false, tags: ['team-identity'] });
  const alice = (await api(cp.admin, 'POST', '/consumers', { username: 'mobile-app', custom_id: 'app-7', tags: ['partner'] })).body;
  await api(cp.admin, 'POST', '/consumers', { username: 'partner-acme', tags: ['partner'] });
  await api(cp.admin, 'POST', `/consumers/${alice.id}/key-auth`, { key: 'demo-key-not-secret' });
  await api(cp.admin, 'POST', '/services/billing/plugins', { name: 'key-auth', config: {} }).catch(() => null);
  // rate-limiting: the data plane started without it is then withheld the config (incompatible).
  await api(cp.admin, 'POST', '/services/catalog/plugins', {
    name: 'rate-limiting',
    config: {
      second: null, minute: 600, hour: null, day: null, month: null, year: null, limit_by: 'consumer', header_name: null, path: null, policy: 'local', fault_tolerant: true,
      redis: { host: null, port: 6379, timeout: 2000, username: null, password: null, database: 0, ssl: false, ssl_verify: false, server_name: null },
      hide_client_headers: false, error_code: 429, error_message: 'API rate limit exceeded', sync_rate: -1,
    },
  });
  await until(async () => (await api(cp.admin, 'GET', '/clustering/status')).body.data_planes.incompatible === 1, 'the incompatible data plane');

  mkdirSync(outDir, { recursive: true });
  browser = await chromium.launch({
    executablePath: process.env.SLUICE_CHROMIUM ?? '/usr/bin/chromium',
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--force-color-profile=srgb'],
  });
  const page = await browser.newPage({ viewport: { width: 1360, height: 820 }, colorScheme: 'light' });
  page.setDefaultTimeout(STEP_TIMEOUT_MS);
  const shot = async (name) => {
    await page.screenshot({ path: join(outDir, `${name}.png`) });
    console.log(`docs/screenshots/${name}.png`);
  };

  await page.goto(`${cp['admin-gui']}/#/services`);
  await page.waitForSelector('tbody tr >> text=legacy-orders');
  await page.keyboard.press('j');
  await shot('services');

  // An edit through the form: the sidebar follows it to every data plane that can take it.
  await page.goto(`${cp['admin-gui']}/#/services/billing`);
  await page.waitForSelector('[data-screen=detail]');
  await page.click('a.btn-primary:has-text("Edit")');
  await page.waitForSelector('[data-screen=edit]');
  await page.fill('#field-tags', 'team-payments\nprod\npci');
  await page.click('button[type=submit]');
  await page.waitForSelector('[data-screen=detail] [data-children=routes] li');
  await page.waitForSelector('[data-children=plugins] :is(li, .empty)');
  await page.waitForSelector('[data-propagation] .prop-card:not([data-state=propagating])');
  await shot('service-detail');

  await page.goto(`${cp['admin-gui']}/#/routes/new`);
  await page.waitForSelector('#field-paths');
  await page.fill('#field-name', 'checkout');
  await page.fill('#field-paths', 'checkout');
  await page.fill('#field-methods', 'get');
  await page.click('button[type=submit]');
  await page.waitForSelector('.field-error');
  await shot('route-form-errors');

  await page.goto(`${cp['admin-gui']}/#/fleet`);
  await page.waitForSelector('[data-fleet] tr[data-connected=true]');
  await shot('fleet');
} finally {
  await browser?.close();
  for (const c of children) if (c.exitCode === null) c.kill('SIGTERM');
  await Promise.all(children.map((c) => (c.exitCode !== null ? null : new Promise((r) => c.on('exit', r)))));
  upstream.close();
  rmSync(work, { recursive: true, force: true });
}
