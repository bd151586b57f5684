// SPDX-License-Identifier: Apache-2.0
// Copyright The Bulkhead Authors

/**
 * @module
 * Benchmark (not a test): the web console (as this PCE serves it) on a
 * snapshot of 100,000 flows in Debian's Chromium: time to open the file
 * offline (sql.js), to run an explorer query over it, and the frame times
 * while the explorer's table scrolls through it. Prints figures; asserts
 * nothing. Needs `npm run build` (the console in pce/dist/console) and
 * /usr/bin/chromium. Run: `node pce/dist/bench/console.bench.js [--flows N]`.
 */
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';
import type { TrafficFlow, TrafficQuery } from '../api/traffic.js';
import { buildApp } from '../http/app.js';
import { openStore } from '../store/seed.js';
import { writeSnapshot } from '../traffic/snapshot.js';

const arg = (name: string, dflt: number): number => {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? Number(process.argv[i + 1]) : dflt;
};
const FLOWS = arg('flows', 100_000);
const CONSOLE = fileURLToPath(new URL('../console', import.meta.url));
const pct = (xs: number[], p: number): number =>
  [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.ceil((p / 100) * xs.length) - 1)]!;

if (!existsSync(join(CONSOLE, 'index.html')) || !existsSync('/usr/bin/chromium')) {
  process.stderr.write('needs the built console (npm run build) and /usr/bin/chromium (apt-get install chromium)\n');
  process.exit(2);
}

const dir = mkdtempSync(join(tmpdir(), 'bh-console-bench-'));
try {
  const decisions = ['allowed', 'potentially_blocked', 'blocked'] as const;
  const labels = (i: number) => [
    { href: `/orgs/1/labels/${i % 40}`, key: 'app', value: `app${i % 40}` },
    { href: `/orgs/1/labels/${100 + (i % 3)}`, key: 'env', value: ['prod', 'dev', 'test'][i % 3]! },
  ];
  const now = Date.now();
  const flows: TrafficFlow[] = Array.from({ length: FLOWS }, (_, i) => {
    const t = new Date(now - (i % 3600) * 1000).toISOString();
    return {
      src: {
        ip: `198.19.${(i >> 8) & 255}.${i & 255}`,
        workload: {
          href: `/orgs/1/container_workloads/w${i % 2000}`,
          name: `pod-${i % 2000}`,
          namespace: `ns${i % 20}`,
          labels: labels(i),
        },
      },
      dst: {
        ip: `198.19.200.${i % 250}`,
        workload: {
          href: `/orgs/1/container_workloads/d${i % 250}`,
          name: `svc-${i % 250}`,
          namespace: `ns${i % 20}`,
          labels: labels(i + 7),
        },
      },
      service: { port: 8000 + (i % 50), proto: 6 },
      policy_decision: decisions[i % 3]!,
      rule: null,
      num_connections: 1 + (i % 17),
      flow_direction: 'outbound',
      timestamp_range: { first_detected: t, last_detected: t },
      dst_bi: i % 9000,
      dst_bo: i % 7000,
    };
  });
  const file = join(dir, 'flows.sqlite');
  const q = {
    start_date: new Date(now - 7_200_000).toISOString(),
    end_date: new Date(now).toISOString(),
  } as TrafficQuery;
  writeSnapshot(file, q, flows);

  const store = await openStore(join(dir, 'pce.sqlite'));
  const app = await buildApp({ store, consoleDir: CONSOLE });
  const url = await app.listen({ host: '127.0.0.1', port: 0 });
  const browser = await chromium.launch({
    executablePath: '/usr/bin/chromium',
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
  try {
    const page = await (await browser.newContext({ viewport: { width: 1280, height: 800 } })).newPage();
    await page.goto(`${url}/#/offline`);
    await page.getByRole('heading', { name: 'Open a snapshot' }).waitFor();
    let t = performance.now();
    await page.locator('input[type=file]').setInputFiles(file);
    await page.getByText(/^Offline: /).waitFor({ timeout: 120_000 });
    await page.locator('[role=row]').first().waitFor({ timeout: 120_000 });
    const openMs = performance.now() - t;
    const runs: number[] = [];
    for (let i = 0; i < 5; i++) {
      t = performance.now();
      await page.getByRole('button', { name: 'Run query' }).click();
      await page.waitForFunction(`document.querySelector('.totals')?.textContent?.includes('queried 0 s ago')`);
      runs.push(performance.now() - t);
    }
    // Scroll the table 600 px a frame for 400 frames; record the interval between frames.
    // (A string: this file is compiled for Node, without the DOM's types.)
    const frames = (await page.evaluate(`new Promise((resolve) => {
      const body = document.querySelector('.vt .body');
      const out = [];
      let last = performance.now();
      const step = (now) => {
        out.push(now - last);
        last = now;
        body.scrollTop += 600;
        if (out.length < 400) requestAnimationFrame(step);
        else resolve(out.slice(1));
      };
      requestAnimationFrame(step);
    })`)) as number[];
    const rows = await page.locator('[role=row]').count();
    process.stdout.write(
      `console, ${FLOWS.toLocaleString('en-US')} flows in Chromium (headless, 1280x800):\n` +
        `  open the snapshot offline (sql.js) until the first rows show: ${openMs.toFixed(0)} ms\n` +
        `  explorer query over it: p50 ${pct(runs, 50).toFixed(0)} ms, max ${Math.max(...runs).toFixed(0)} ms\n` +
        `  scrolling 600 px a frame: frame interval p50 ${pct(frames, 50).toFixed(1)} ms, p95 ${pct(frames, 95).toFixed(1)} ms, max ${Math.max(...frames).toFixed(1)} ms\n` +
        `  rows in the DOM while scrolling: ${rows}\n`,
    );
  } finally {
    await browser.close();
    await app.close();
    await store.db.destroy();
  }
} finally {
  rmSync(dir, { recursive: true, force: true });
}
