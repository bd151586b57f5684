// SPDX-License-Identifier: Apache-2.0
// Copyright The Bulkhead Authors

/**
 * @module
 * Benchmark (not a test): flow ingest into the real SQLite store (agent
 * batches of 5,000 aggregates through `ingestBatch`, with enrichment from
 * 2,000 container workloads), then explorer queries filtered by a label
 * over 1,000,000 stored flows (p50/p95). Prints figures; asserts nothing.
 * Run: `npm run build && node pce/dist/bench/traffic.bench.js [--flows N]`.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import { join } from 'node:path';
import type { AgentFlow, TrafficQuery } from '../api/traffic.js';
import { openStore } from '../store/seed.js';
import { ingestBatch, queryFlows } from '../traffic/store.js';

const arg = (name: string, dflt: number): number => {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? Number(process.argv[i + 1]) : dflt;
};
const FLOWS = arg('flows', 1_000_000);
const BATCH = 5000;
const WORKLOADS = 2000;

const ip = (i: number): string => `198.19.${(i >> 8) & 255}.${i & 255}`;
const pct = (xs: number[], p: number): number =>
  [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.ceil((p / 100) * xs.length) - 1)]!;

async function main(): Promise<void> {
  const dir = mkdtempSync(join(os.tmpdir(), 'bh-traffic-bench-'));
  try {
    const store = await openStore(join(dir, 'pce.sqlite'));
    await store.insertDoc(
      'container_clusters',
      'c1',
      { href: '/orgs/1/container_clusters/c1', name: 'bench' },
      { token_hash: 'x' },
    );
    const apps = ['shop', 'crm', 'erp', 'hr', 'web'];
    for (const [i, v] of apps.entries())
      await store.insertDoc(
        'labels',
        `b${i}`,
        { href: `/orgs/1/labels/b${i}`, key: 'app', value: v },
        { key: 'app', value: v },
      );
    for (let i = 0; i < WORKLOADS; i++)
      await store.insertDoc(
        'container_workloads',
        `cw${i}`,
        {
          href: `/orgs/1/container_workloads/cw${i}`,
          name: `pod-${i}`,
          namespace: `ns-${i % 50}`,
          labels: [{ href: `/orgs/1/labels/b${i % 5}`, key: 'app', value: apps[i % 5] }],
          interfaces: [{ name: 'eth0', address: ip(i) }],
        },
        { cluster_id: 'c1' },
      );
    // Distinct aggregates spread over the last ~16 hours of minute buckets.
    const now = Date.now();
    // The workloads held their addresses before those flows (identities are as at each flow's time).
    await store.db
      .updateTable('identity_log')
      .set({ valid_from: new Date(now - 24 * 3_600_000).toISOString() })
      .execute();
    let made = 0;
    const t0 = performance.now();
    for (let b = 0; made < FLOWS; b++) {
      const flows: AgentFlow[] = [];
      for (let k = 0; k < BATCH && made < FLOWS; k++, made++) {
        const t = new Date(now - Math.floor(made / 1000) * 60_000).toISOString();
        flows.push({
          src_ip: ip(made % WORKLOADS),
          dst_ip: ip((made * 7 + 13) % WORKLOADS),
          port: 1000 + (made % 997),
          proto: 6,
          decision: made % 10 === 0 ? 'blocked' : 'allowed',
          reported_by: 'source',
          num_connections: 1,
          bytes: 500,
          packets: 6,
          first_seen: t,
          last_seen: t,
        });
      }
      await store.tx((s) => ingestBatch(s, 'agent-1', { batch_id: `bench-batch-${b}`, flows }));
      if (b % 40 === 0) process.stderr.write(`ingested ${made} flows\n`);
    }
    const ingestS = (performance.now() - t0) / 1000;
    const q: TrafficQuery = {
      start_date: new Date(now - 24 * 3_600_000).toISOString(),
      end_date: new Date(now + 60_000).toISOString(),
      sources: { include: [[{ label: { href: '/orgs/1/labels/b0' } }]], exclude: [] },
      destinations: { include: [[]], exclude: [] },
      max_results: 10_000,
    };
    const times: number[] = [];
    let n = 0;
    for (let i = 0; i < 7; i++) {
      const t = performance.now();
      n = (await queryFlows(store, q)).length;
      times.push(performance.now() - t);
    }
    const c = os.cpus();
    process.stdout.write(
      `cores: ${c.length} (${c[0]?.model.split(' ').slice(0, 2).join(' ')}), node ${process.version}\n` +
        `ingest: ${FLOWS} flow aggregates in batches of ${BATCH}: ${ingestS.toFixed(1)} s, ${Math.round(FLOWS / ingestS)} flows/s (SQLite WAL, synchronous FULL)\n` +
        `explorer, source label app=shop, over ${FLOWS} stored flows (answer capped at 10,000; got ${n}): p50 ${pct(times, 50).toFixed(0)} ms, p95 ${pct(times, 95).toFixed(0)} ms\n`,
    );
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

await main();
