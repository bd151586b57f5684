// SPDX-License-Identifier: Apache-2.0
// Copyright The Bulkhead Authors
// Flow retention against the real SQLite store: by age and by size, oldest first, with an exact row count.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { sql } from 'kysely';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { AgentFlow } from '../api/traffic.js';
import { openStore } from '../store/seed.js';
import type { Store } from '../store/store.js';
import { ingestBatch, trafficSettings } from './store.js';

let dir: string;
let store: Store;
beforeEach(async () => {
  dir = mkdtempSync(join(tmpdir(), 'bh-retention-'));
  store = await openStore(join(dir, 'pce.sqlite'));
});
afterEach(async () => {
  await (store.db as { destroy(): Promise<void> }).destroy();
  rmSync(dir, { recursive: true, force: true });
});

const MIN = 60_000;
/** A flow `ageMin` minutes old, to a port of its own (one row each). */
const flow = (ageMin: number, port: number, o: Partial<AgentFlow> = {}): AgentFlow => {
  const t = new Date(Date.now() - ageMin * MIN).toISOString();
  return {
    src_ip: '198.18.0.10',
    dst_ip: '198.18.0.250',
    port,
    proto: 6,
    decision: 'allowed',
    reported_by: 'source',
    num_connections: 1,
    bytes: 100,
    packets: 2,
    first_seen: t,
    last_seen: t,
    ...o,
  };
};
let batches = 0;
const ingest = (flows: AgentFlow[]) => store.tx((s) => ingestBatch(s, 'a1', { batch_id: `batch-${++batches}`, flows }));
const ports = async () =>
  (await store.db.selectFrom('flows').select('port').orderBy('port').execute()).map((r) => r.port);
const counted = async () => {
  const real = await sql<{ n: number }>`SELECT count(*) AS n FROM flows`.execute(store.db);
  return { real: Number(real.rows[0]!.n), kept: (await trafficSettings(store)).stored_flows };
};
const setTraffic = (body: object) =>
  store.insertDoc('settings', 'traffic', { href: '/orgs/1/settings/traffic', ...body });

describe('flow retention', () => {
  it('defaults to 30 days and 5,000,000 flows', async () => {
    expect(await trafficSettings(store)).toMatchObject({ flow_retention_days: 30, max_stored_flows: 5_000_000 });
  });

  it('deletes flows older than the retention days on ingest, and keeps younger ones', async () => {
    await ingest([flow(31 * 24 * 60, 1), flow(29 * 24 * 60, 2), flow(1, 3)]);
    expect(await ports()).toEqual([2, 3]);
    await setTraffic({ flow_retention_days: 7 });
    await ingest([flow(0, 4)]);
    expect(await ports()).toEqual([3, 4]);
    expect(await counted()).toEqual({ real: 2, kept: 2 });
  });

  it('keeps at most max_stored_flows, pruning the oldest by last seen first, and counts rows exactly', async () => {
    await setTraffic({ max_stored_flows: 5 });
    // Out of order within the batch: age decides, not arrival.
    await ingest([flow(3, 103), flow(8, 108), flow(1, 101), flow(6, 106), flow(2, 102), flow(7, 107), flow(4, 104)]);
    expect(await ports()).toEqual([101, 102, 103, 104, 106]);
    expect(await counted()).toEqual({ real: 5, kept: 5 });
    // More of the same connections merge into their rows: nothing new, nothing pruned.
    await ingest([flow(1, 101), flow(2, 102, { reported_by: 'destination' })]);
    expect(await ports()).toEqual([101, 102, 103, 104, 106]);
    // A newer flow pushes out exactly the oldest.
    await ingest([flow(0, 100)]);
    expect(await ports()).toEqual([100, 101, 102, 103, 104]);
    // A row folded into its merged decision's row (-1) keeps the count exact.
    await store.updateDoc('settings', 'traffic', { max_stored_flows: 100 });
    const rowsOf99 = async () => (await ports()).filter((p) => p === 99).length;
    await ingest([
      flow(0, 99, { decision: 'blocked' }),
      flow(0, 99, { decision: 'potentially_blocked', reported_by: 'destination' }),
    ]);
    expect(await rowsOf99()).toBe(2); // blocked (source), potentially_blocked (destination): two connections so far
    await ingest([flow(0, 99, { decision: 'blocked' })]); // the source's block meets the destination's row: folded
    expect(await rowsOf99()).toBe(1);
    expect(await counted()).toEqual({ real: 6, kept: 6 });
  });
});
