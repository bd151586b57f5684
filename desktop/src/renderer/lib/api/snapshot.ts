// SPDX-License-Identifier: Apache-2.0
// Copyright The Bulkhead Authors

/**
 * @module
 * Offline snapshots in the browser: opens a snapshot file (schema version 1,
 * pce/src/traffic/snapshot.ts) with sql.js and reads it back as explorer
 * flows, so the explorer and the map work on it with no PCE.
 */
import initSqlJs from 'sql.js';
import wasmUrl from 'sql.js/dist/sql-wasm.wasm?url';
import type { FlowWorkload, TrafficFlow, TrafficQuery } from '@bulkhead/pce/api';

export interface Snapshot {
  name: string;
  createdAt: string;
  query: TrafficQuery | undefined;
  flows: TrafficFlow[];
}

/** Schema versions this console reads. */
const READABLE = new Set(['1']);

export async function openSnapshot(name: string, bytes: Uint8Array): Promise<Snapshot> {
  const SQL = await initSqlJs({ locateFile: () => wasmUrl });
  let db;
  try {
    db = new SQL.Database(bytes);
    db.exec('SELECT 1 FROM sqlite_master LIMIT 1');
  } catch (err) {
    throw new Error(
      `${name} is not a SQLite file (${(err as Error).message}); export a snapshot with the console or \`bulkhead traffic export\``,
    );
  }
  try {
    const meta = new Map<string, string>();
    try {
      for (const [k, v] of db.exec('SELECT key, value FROM snapshot_meta')[0]?.values ?? [])
        meta.set(String(k), String(v));
    } catch {
      throw new Error(`${name} is a SQLite file but not a Bulkhead snapshot (no snapshot_meta table)`);
    }
    const version = meta.get('schema_version') ?? '';
    if (!READABLE.has(version))
      throw new Error(
        `${name} has snapshot schema version ${version || '(none)'}; this console reads version ${[...READABLE].join(', ')}: update the console`,
      );
    const labels = new Map<string, { href: string; key: string; value: string }>();
    for (const [href, key, value] of db.exec('SELECT href, key, value FROM labels')[0]?.values ?? [])
      labels.set(String(href), { href: String(href), key: String(key), value: String(value) });
    const wlLabels = new Map<string, { href: string; key: string; value: string }[]>();
    for (const [w, l] of db.exec('SELECT workload, label FROM workload_labels')[0]?.values ?? []) {
      const lab = labels.get(String(l));
      if (!lab) continue;
      const list = wlLabels.get(String(w)) ?? [];
      list.push(lab);
      wlLabels.set(String(w), list);
    }
    const workloads = new Map<string, FlowWorkload>();
    for (const [href, wname, ns] of db.exec('SELECT href, name, namespace FROM workloads')[0]?.values ?? [])
      workloads.set(String(href), {
        href: String(href),
        name: String(wname),
        labels: wlLabels.get(String(href)) ?? [],
        ...(ns !== null ? { namespace: String(ns) } : {}),
      });
    const flows: TrafficFlow[] = [];
    const stmt = db.prepare(
      'SELECT src_ip, dst_ip, src_workload, dst_workload, port, proto, policy_decision, rule, num_connections, first_detected, last_detected, bytes_in, bytes_out FROM flows ORDER BY last_detected DESC',
    );
    while (stmt.step()) {
      const [sip, dip, sw, dw, port, proto, dec, rule, n, first, last, bin, bout] = stmt.get();
      const sWl = sw ? workloads.get(String(sw)) : undefined;
      const dWl = dw ? workloads.get(String(dw)) : undefined;
      flows.push({
        src: { ip: String(sip), ...(sWl ? { workload: sWl } : {}) },
        dst: { ip: String(dip), ...(dWl ? { workload: dWl } : {}) },
        service: { port: Number(port), proto: Number(proto) },
        policy_decision: String(dec) as TrafficFlow['policy_decision'],
        rule: rule ? { href: String(rule) } : null,
        num_connections: Number(n),
        timestamp_range: { first_detected: String(first), last_detected: String(last) },
        flow_direction: 'outbound',
        dst_bi: Number(bin),
        dst_bo: Number(bout),
      });
    }
    stmt.free();
    let query: TrafficQuery | undefined;
    try {
      query = JSON.parse(meta.get('query') ?? 'null') ?? undefined;
    } catch {
      query = undefined;
    }
    return { name, createdAt: meta.get('created_at') ?? '', query, flows };
  } finally {
    db.close();
  }
}
