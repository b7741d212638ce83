import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ADMIN_PASSWORD, testCloud, type TestCloud } from '../../identity/testing/kit.js';

/**
 * The network pages in headless Chromium against an in-process controller (no agents:
 * nothing here needs a host): sign in, create a network with a subnet and an external
 * one through the forms, a router with its gateway and an interface, then find all of
 * it in the topology picture, joined by lines. Screenshots in build/screenshots/.
 */
const ROOT = resolve(import.meta.dirname, '..', '..', '..');
const CHROMIUM = '/usr/bin/chromium';
const why =
  process.env.SYSTEM_TESTS !== '1'
    ? 'SYSTEM_TESTS is not 1'
    : !existsSync(CHROMIUM)
      ? 'no /usr/bin/chromium (apt-get install chromium)'
      : '';
if (why) console.log(`dashboard network pages browser test: skipped: ${why}`);

const runId = `t${randomBytes(3).toString('hex')}`;
const SHOTS = join(ROOT, 'build/screenshots');
const XSS = '<img src=x onerror=alert(1)>';

describe.skipIf(Boolean(why))('network pages in headless Chromium', () => {
  let cloud: TestCloud;
  let url = '';
  let browser: import('playwright-core').Browser;
  let page: import('playwright-core').Page;
  let dialogs = 0;
  const shot = (name: string) => page.screenshot({ path: join(SHOTS, `network-${name}.png`), fullPage: true });

  beforeAll(async () => {
    mkdirSync(SHOTS, { recursive: true });
    cloud = await testCloud();
    url = await cloud.app.listen({ port: 0, host: '127.0.0.1' });
    const { chromium } = await import('playwright-core');
    browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--no-sandbox'] });
    page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
    page.on('dialog', (d) => {
      dialogs++;
      void d.dismiss();
    });
    await page.goto(`${url}/dashboard/login`);
    await page.fill('input[name=username]', 'admin');
    await page.fill('input[name=password]', ADMIN_PASSWORD);
    await page.click('button[type=submit]');
    await page.waitForURL(/\/dashboard\/(?!login)/);
  }, 120_000);

  afterAll(async () => {
    await browser?.close();
    await cloud?.close(); // in-memory: every resource made here goes with it
  });

  it('creates a network with a subnet and sees it in the topology picture', async () => {
    await page.goto(`${url}/dashboard/project/networks`);
    await page.fill('form.box input[name=name]', `${runId}-public`);
    await page.check('form.box input[name=external]');
    await page.fill('form.box input[name=cidr]', '198.51.100.0/24');
    await page.uncheck('form.box input[name=enable_dhcp]');
    await page.click('form.box button[type=submit]');
    await page.waitForURL(/\/dashboard\/project\/networks/);
    await page.fill('form.box input[name=name]', `${runId}-net${XSS}`);
    await page.fill('form.box input[name=cidr]', '10.123.0.0/24');
    await page.click('form.box button[type=submit]');
    await page.waitForURL(/\/dashboard\/project\/networks/);
    expect(await page.locator('td a', { hasText: `${runId}-net${XSS}` }).count()).toBe(1);
    await shot('01-networks');

    await page.goto(`${url}/dashboard/project/network-topology`);
    const svg = page.locator('svg.topology');
    expect(await svg.locator('text', { hasText: '10.123.0.0/24' }).count()).toBe(1);
    expect(await svg.textContent()).toContain(`${runId}-net<img`);
    await shot('02-topology-networks');
  }, 60_000);

  it('routes it to the external network and draws the router joined to both', async () => {
    await page.goto(`${url}/dashboard/project/routers`);
    await page.fill('form.box input[name=name]', `${runId}-router`);
    await page.selectOption('form.box select[name=network_id]', { label: `${runId}-public` });
    await page.click('form.box button[type=submit]');
    await page.waitForURL(/\/dashboard\/project\/routers/);
    await page.click(`text=0 (edit)`);
    await page.waitForURL(/\/dashboard\/project\/routers\/[0-9a-f-]+/);
    await page.click('form.box button[type=submit]'); // the only candidate subnet
    await page.waitForURL(/\/dashboard\/project\/routers\/[0-9a-f-]+/);
    expect(await page.locator('td', { hasText: '10.123.0.1' }).count()).toBe(1);
    await shot('03-router');

    await page.goto(`${url}/dashboard/project/network-topology`);
    const svg = page.locator('svg.topology');
    expect(await svg.locator('g.node.router').count()).toBe(1);
    expect(await svg.locator('g.edge.gateway').count()).toBe(1);
    expect(await svg.locator('g.edge.interface').count()).toBe(1);
    expect(await svg.locator('g.node.network.external').count()).toBe(1);
    // The names stay text: no element was made from them, no script ran.
    expect(await page.locator('img[src=x]').count()).toBe(0);
    expect(dialogs).toBe(0);
    await shot('04-topology-router');
  }, 60_000);
});
