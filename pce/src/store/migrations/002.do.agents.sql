-- SPDX-License-Identifier: Apache-2.0
-- Bulkhead PCE schema 002: paired agents (C-VENs) and the pods they report.
-- agents: one row per paired C-VEN; only the hash of its secret is kept.
CREATE TABLE agents (id TEXT PRIMARY KEY, auth_username TEXT NOT NULL UNIQUE, secret_hash TEXT NOT NULL, workload_id TEXT NOT NULL, cluster_id TEXT, body TEXT NOT NULL, created_at TEXT NOT NULL, updated_at TEXT NOT NULL);
CREATE INDEX agents_workload ON agents (workload_id);
-- pods: the last report of every pod on every node (managed namespaces or not), keyed by pod uid.
-- Written by the node's C-VEN (level-based: its report replaces its node's rows); read to derive container workloads.
CREATE TABLE pods (id TEXT PRIMARY KEY, cluster_id TEXT NOT NULL, node_workload_id TEXT NOT NULL, namespace TEXT NOT NULL, body TEXT NOT NULL, created_at TEXT NOT NULL, updated_at TEXT NOT NULL);
CREATE INDEX pods_node ON pods (node_workload_id);
CREATE INDEX pods_namespace ON pods (cluster_id, namespace);
