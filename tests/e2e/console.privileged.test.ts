// SPDX-License-Identifier: Apache-2.0
// Copyright The Bulkhead Authors
// Privileged, end to end, in a real browser: Debian's Chromium (playwright-core) drives the web
// console served by a real PCE on the lab with the shop app's traffic: connect, write a rule from
// the map, see it pending, provision, see draft and reported decisions in the explorer, export a
// snapshot and open it offline. Screenshots of every view go to tests/artifacts/console/
// (BULKHEAD_ARTIFACTS to put them elsewhere).
/// <reference lib="dom" />
import { existsSync, mkdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium, type Browser, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startDemo, type Demo } from '../lab/src/demo.js';
import { freePort, shortName } from '../lab/src/demo-support.js';

const isRoot = process.getuid?.() === 0;
const CHROMIUM = '/usr/bin/chromium';
const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const SHOTS = process.env.BULKHEAD_ARTIFACTS ?? join(ROOT, 'tests/artifacts/console');

/** Controls without an accessible name (label, aria-label, aria-labelledby, text, title). */
const UNLABELLED = () =>
  Array.from(document.querySelectorAll<HTMLElement>('input, select, textarea, button, [role="button"], [tabindex="0"]'))
    .filter((el) => {
      if ((el as HTMLInputElement).type === 'hidden' || el.closest('[hidden]')) return false;
      const byId = el.getAttribute('aria-labelledby');
      const named =
        el.getAttribute('aria-label') ||
        (byId && document.getElementById(byId)?.textContent?.trim()) ||
        el.closest('label')?.textContent?.trim() ||
        (el.id && document.querySelector(`label[for="${el.id}"]`)) ||
        (!['INPUT', 'SELECT', 'TEXTAREA'].includes(el.tagName) && el.textContent?.trim()) ||
        el.getAttribute('title');
      return !named;
    })
    .map((el) => el.outerHTML.slice(0, 120));

describe.skipIf(!isRoot || !existsSync(CHROMIUM))('the web console in Chromium (privileged)', () => {
  let demo: Demo;
  let browser: Browser;
  let page: Page;
  const problems: string[] = [];

  const shot = async (name: string) => {
    await page.waitForTimeout(300); // let transitions settle
    await page.screenshot({ path: join(SHOTS, `${name}.png`), fullPage: false });
  };
  const go = async (route: string, heading: string) => {
    await page.goto(`${demo.localUrl}/#/${route}`);
    await page.getByRole('heading', { level: 1, name: heading }).waitFor();
  };
  const labelsOk = async (view: string) =>
    expect(await page.evaluate(UNLABELLED), `unlabelled controls on ${view}`).toEqual([]);
  /** Click `button` until `check` holds (traffic and policy arrive over seconds). */
  const until = async (what: string, act: () => Promise<void>, check: () => Promise<boolean>, ms = 60_000) => {
    const end = Date.now() + ms;
    for (;;) {
      await act();
      if (await check()) return;
      if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
      await page.waitForTimeout(2000);
    }
  };
  const totals = async () => (await page.locator('.totals').innerText()).replace(/,/g, '');
  const num = (text: string, re: RegExp) => Number(re.exec(text)?.[1] ?? 0);

  beforeAll(async () => {
    mkdirSync(SHOTS, { recursive: true });
    demo = await startDemo({
      dir: `/tmp/${shortName('bh-ui-')}`,
      labName: shortName('ui'),
      nodes: 2,
      pcePort: await freePort(),
      shop: true,
    });
    browser = await chromium.launch({
      executablePath: CHROMIUM,
      args: [
        '--no-sandbox',
        '--disable-gpu',
        '--disable-background-networking',
        '--disable-component-update',
        '--disable-sync',
        '--no-first-run',
        '--disable-quic',
      ],
    });
    const ctx = await browser.newContext({
      ignoreHTTPSErrors: true,
      viewport: { width: 1280, height: 800 },
      acceptDownloads: true,
    });
    page = await ctx.newPage();
    page.on('pageerror', (e) => problems.push(`page error: ${e.message}`));
    page.on('console', (m) => m.type() === 'error' && problems.push(`console: ${m.text()}`));
  }, 240_000);

  afterAll(async () => {
    await browser?.close().catch(() => undefined);
    await demo?.stop();
  }, 120_000);

  it('connects, writes a rule from the map, provisions it, shows draft and reported decisions, and opens its snapshot offline', async () => {
    try {
      await walkThrough();
    } catch (err) {
      await page.screenshot({ path: join(SHOTS, 'failure.png') }).catch(() => undefined);
      throw new Error(
        `${(err as Error).message}\n(see ${join(SHOTS, 'failure.png')}; page problems: ${problems.join('; ') || 'none'})`,
      );
    }
    // Failed requests the console handles (the wrong key, a new object's missing active version)
    // are logged by Chromium; anything else (a script error, a CSP violation) fails the test.
    expect(problems.filter((p) => !p.includes('Failed to load resource'))).toEqual([]);
  }, 420_000);

  async function walkThrough() {
    // Connect (keyboard: Enter submits).
    await page.goto(`${demo.localUrl}/`);
    await page.getByRole('heading', { name: 'Connect to Bulkhead' }).waitFor();
    await labelsOk('connect');
    await shot('01-connect');
    await page.getByLabel('API key user name').fill(demo.owner.auth_username);
    await page.getByLabel('Secret').fill('wrong');
    await page.getByLabel('Secret').press('Enter');
    await page.getByRole('alert').filter({ hasText: 'API key' }).first().waitFor();
    await page.getByLabel('Secret').fill(demo.owner.secret);
    await page.getByLabel('Secret').press('Enter');
    await page.getByRole('heading', { level: 1, name: 'Overview' }).waitFor();
    await page.getByText('Kubelink online').first().waitFor();
    await page.getByText('applied').first().waitFor();
    await labelsOk('overview');
    await shot('02-overview');

    await go('clusters', 'Container clusters');
    await page.getByRole('cell', { name: 'shop-prod', exact: true }).waitFor();
    await labelsOk('clusters');
    await shot('03-clusters');
    await go('workloads', 'Workloads');
    await page.getByText('shop-prod').first().waitFor();
    await shot('04-workloads');
    await go('objects', 'Labels & policy objects');
    await shot('05-objects');

    // The shop's flows reach the explorer, potentially blocked (visibility_only, no rules yet).
    await go('explorer', 'Traffic explorer');
    await until(
      'the shop flows',
      () => page.getByRole('button', { name: 'Run query' }).click(),
      async () => num(await totals(), /(\d+) potentially blocked/) > 0,
    );
    await labelsOk('explorer');
    await shot('06-explorer');

    // The map: select the shop·prod → shop·prod connections with the keyboard, write the rule.
    await go('map', 'Map');
    const edge = page.locator('g.edge[aria-label^="shop · prod to shop · prod"]');
    await until(
      'the prod edge on the map',
      () => page.getByRole('button', { name: 'Refresh' }).click(),
      async () => (await edge.count()) > 0,
    );
    await edge.focus();
    await page.keyboard.press('Enter');
    await page.getByRole('button', { name: 'Write this rule into the draft' }).waitFor();
    await labelsOk('map');
    await shot('07-map-edge');
    await page.getByRole('button', { name: 'Write this rule into the draft' }).click();
    await page.getByText('Wrote the rule into ruleset').waitFor();

    await go('rulesets', 'Rulesets');
    await page.getByRole('heading', { name: 'shop/prod to shop/prod' }).waitFor();
    await labelsOk('rulesets');
    await shot('08-rulesets');

    // Draft decisions before provisioning: the same flows, now allowed by the draft.
    await go('explorer', 'Traffic explorer');
    await page.getByRole('button', { name: 'Run query' }).click();
    await page.getByRole('button', { name: 'Show draft decisions' }).click();
    await page.getByText('Draft changes').waitFor();
    expect(num(await totals(), /Draft changes (\d+)/)).toBeGreaterThan(0);
    await shot('09-explorer-draft');

    // Pending, with its diff; provision.
    await go('provision', 'Provision');
    await page.getByRole('button', { name: /shop\/prod to shop\/prod/ }).click();
    await page.locator('pre.diff').waitFor();
    await labelsOk('provision');
    await shot('10-provision');
    await page.getByLabel('Note (kept with the version)').fill('Allow the shop within prod (from the map)');
    await page.getByRole('button', { name: /^Provision \d+ change/ }).click();
    await page.getByText(/Provisioned version \d+/).waitFor();
    await shot('11-provisioned');

    // Policy check under the active policy.
    await go('check', 'Policy check');
    const src = page.getByLabel('Source workload');
    const dst = page.getByLabel('Destination workload');
    const option = async (sel: typeof src, prefix: string) =>
      (await sel.locator('option').allInnerTexts()).find((t) => t.startsWith(prefix) && t.includes('shop-prod'))!;
    await src.selectOption({ label: await option(src, 'web-') });
    await dst.selectOption({ label: await option(dst, 'app-') });
    await page.getByRole('radio', { name: 'Active' }).check();
    await page.getByRole('button', { name: 'Check' }).click();
    await page.getByRole('heading', { name: /^Allowed/ }).waitFor();
    await labelsOk('check');
    await shot('12-policy-check');

    // Reported decisions after provisioning: new prod flows come in allowed.
    await go('explorer', 'Traffic explorer');
    await until(
      'allowed flows after provisioning',
      () => page.getByRole('button', { name: 'Run query' }).click(),
      async () => num(await totals(), /(\d+) allowed/) > 0,
    );
    await shot('13-explorer-reported');

    // Export the snapshot, then open it offline with no PCE.
    const download = page.waitForEvent('download');
    await page.getByRole('button', { name: 'Export snapshot' }).click();
    const file = join(SHOTS, 'snapshot.sqlite');
    await (await download).saveAs(file);
    expect(statSync(file).size).toBeGreaterThan(4096);
    const flowsOnline = num(await totals(), /(\d+) flows/);

    await page.getByRole('button', { name: 'Disconnect' }).click();
    await page.getByRole('button', { name: 'Open a snapshot file offline' }).click();
    await page.locator('input[type=file]').setInputFiles(file);
    await page.getByText(/^Offline: /).waitFor();
    expect(await page.getByText(/^Offline: /).innerText()).toContain(`${flowsOnline.toLocaleString('en-US')} flows`);
    await page.getByRole('button', { name: 'Run query' }).click();
    expect(num(await totals(), /(\d+) flows/)).toBe(flowsOnline);
    await shot('14-offline-explorer');
    await page.getByRole('link', { name: 'Map' }).click();
    await page.locator('g.edge').first().waitFor();
    await shot('15-offline-map');

    // A large screen.
    await page.setViewportSize({ width: 1920, height: 1080 });
    await page.getByRole('link', { name: 'Traffic explorer' }).click();
    await page.getByRole('button', { name: 'Run query' }).click();
    await shot('16-offline-explorer-1920');
  }
});
