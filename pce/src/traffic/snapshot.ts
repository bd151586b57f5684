// SPDX-License-Identifier: Apache-2.0
// Copyright The Bulkhead Authors

/**
 * @module
 * Offline snapshots: one self-contained SQLite file holding a query's flows
 * and every object they reference, readable by any SQLite tool and sql.js.
 *
 * Schema (version 1, in `snapshot_meta`): `snapshot_meta(key, value)` —
 * `schema_version`, `created_at`, `query` (JSON); `flows(id, src_ip,
 * dst_ip, src_workload, dst_workload, port, proto, policy_decision, rule,
 * num_connections, first_detected, last_detected, bytes_in, bytes_out)`;
 * `workloads(href, name, namespace)`; `labels(href, key, value)`;
 * `workload_labels(workload, label)`. Never reuse a column for another meaning.
 */
import SQLite from 'better-sqlite3';
import type { TrafficFlow, TrafficQuery } from '../api/traffic.js';

export const SNAPSHOT_SCHEMA_VERSION = 1;

/** Write the snapshot to `file` (replaced if it exists). */
export function writeSnapshot(file: string, query: TrafficQuery, flows: TrafficFlow[]): void {
  const db = new SQLite(file);
  try {
    fill(db, query, flows);
  } finally {
    db.close();
  }
}

/** The snapshot as the bytes of a SQLite file (what the API serves; the same schema as `writeSnapshot`). */
export function snapshotBytes(query: TrafficQuery, flows: TrafficFlow[]): Buffer {
  const db = new SQLite(':memory:');
  try {
    fill(db, query, flows);
    return db.serialize();
  } finally {
    db.close();
  }
}

function fill(db: SQLite.Database, query: TrafficQuery, flows: TrafficFlow[]): void {
  {
    db.exec(`
      DROP TABLE IF EXISTS snapshot_meta; DROP TABLE IF EXISTS flows; DROP TABLE IF EXISTS workloads;
      DROP TABLE IF EXISTS labels; DROP TABLE IF EXISTS workload_labels;
      CREATE TABLE snapshot_meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
      CREATE TABLE flows (id INTEGER PRIMARY KEY, src_ip TEXT NOT NULL, dst_ip TEXT NOT NULL, src_workload TEXT, dst_workload TEXT,
        port INTEGER NOT NULL, proto INTEGER NOT NULL, policy_decision TEXT NOT NULL, rule TEXT, num_connections INTEGER NOT NULL,
        first_detected TEXT NOT NULL, last_detected TEXT NOT NULL, bytes_in INTEGER NOT NULL, bytes_out INTEGER NOT NULL);
      CREATE TABLE workloads (href TEXT PRIMARY KEY, name TEXT NOT NULL, namespace TEXT);
      CREATE TABLE labels (href TEXT PRIMARY KEY, key TEXT NOT NULL, value TEXT NOT NULL);
      CREATE TABLE workload_labels (workload TEXT NOT NULL, label TEXT NOT NULL, PRIMARY KEY (workload, label));
    `);
    const meta = db.prepare('INSERT INTO snapshot_meta VALUES (?, ?)');
    const flow = db.prepare(
      'INSERT INTO flows (src_ip, dst_ip, src_workload, dst_workload, port, proto, policy_decision, rule, num_connections, first_detected, last_detected, bytes_in, bytes_out) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?)',
    );
    const wl = db.prepare('INSERT OR IGNORE INTO workloads VALUES (?, ?, ?)');
    const lb = db.prepare('INSERT OR IGNORE INTO labels VALUES (?, ?, ?)');
    const wlb = db.prepare('INSERT OR IGNORE INTO workload_labels VALUES (?, ?)');
    db.transaction(() => {
      meta.run('schema_version', String(SNAPSHOT_SCHEMA_VERSION));
      meta.run('created_at', new Date().toISOString());
      meta.run('query', JSON.stringify(query));
      for (const f of flows) {
        for (const w of [f.src.workload, f.dst.workload]) {
          if (!w) continue;
          wl.run(w.href, w.name, w.namespace ?? null);
          for (const l of w.labels) {
            lb.run(l.href, l.key, l.value);
            wlb.run(w.href, l.href);
          }
        }
        flow.run(
          f.src.ip,
          f.dst.ip,
          f.src.workload?.href ?? null,
          f.dst.workload?.href ?? null,
          f.service.port,
          f.service.proto,
          f.policy_decision,
          f.rule?.href ?? null,
          f.num_connections,
          f.timestamp_range.first_detected,
          f.timestamp_range.last_detected,
          f.dst_bi,
          f.dst_bo,
        );
      }
    })();
  }
}
