-- SPDX-License-Identifier: Apache-2.0
-- Bulkhead PCE schema 004: traffic.
-- flows: one row per (minute bucket, source, destination, port, protocol, decision); the other end's report merges
-- into it (counts are the larger of the two sides', the decision the more restrictive). Written by
-- flow ingest; rows older than the retention are deleted by it.
CREATE TABLE flows (bucket TEXT NOT NULL, src_ip TEXT NOT NULL, dst_ip TEXT NOT NULL, port INTEGER NOT NULL, proto INTEGER NOT NULL, decision TEXT NOT NULL, rule TEXT, src_workload TEXT, dst_workload TEXT, src_conns INTEGER NOT NULL, dst_conns INTEGER NOT NULL, src_bytes INTEGER NOT NULL, dst_bytes INTEGER NOT NULL, first_seen TEXT NOT NULL, last_seen TEXT NOT NULL, PRIMARY KEY (bucket, src_ip, dst_ip, port, proto, decision));
CREATE INDEX flows_last_seen ON flows (last_seen);
-- flow_batches: batch ids already counted (a retried batch is acknowledged, not counted again).
CREATE TABLE flow_batches (batch_id TEXT PRIMARY KEY, agent_id TEXT NOT NULL, flows INTEGER NOT NULL, lost INTEGER NOT NULL, received_at TEXT NOT NULL);
-- traffic_queries: explorer async queries and their results (JSON).
CREATE TABLE traffic_queries (id TEXT PRIMARY KEY, body TEXT NOT NULL, result TEXT, created_at TEXT NOT NULL);
