-- SPDX-License-Identifier: Apache-2.0
-- Bulkhead PCE schema 001. Portable SQL only (SQLite and PostgreSQL):
-- TEXT and BIGINT columns, no AUTOINCREMENT (ids come from `sequences`),
-- JSON kept as TEXT in `body` and read by the store, never queried in SQL.
CREATE TABLE sequences (name TEXT PRIMARY KEY, value BIGINT NOT NULL);
CREATE TABLE users (id TEXT PRIMARY KEY, username TEXT NOT NULL UNIQUE, body TEXT NOT NULL, created_at TEXT NOT NULL, updated_at TEXT NOT NULL);
CREATE TABLE api_keys (id TEXT PRIMARY KEY, auth_username TEXT NOT NULL UNIQUE, secret_hash TEXT NOT NULL, user_id TEXT NOT NULL REFERENCES users(id), role TEXT NOT NULL, body TEXT NOT NULL, created_at TEXT NOT NULL, updated_at TEXT NOT NULL);
CREATE TABLE labels (id TEXT PRIMARY KEY, key TEXT NOT NULL, value TEXT NOT NULL, body TEXT NOT NULL, created_at TEXT NOT NULL, updated_at TEXT NOT NULL, UNIQUE (key, value));
CREATE TABLE label_dimensions (id TEXT PRIMARY KEY, key TEXT NOT NULL UNIQUE, body TEXT NOT NULL, created_at TEXT NOT NULL, updated_at TEXT NOT NULL);
-- Provisionable objects. version 0 is the draft; N >= 1 is active version N (a full copy).
CREATE TABLE policy_objects (kind TEXT NOT NULL, id TEXT NOT NULL, version BIGINT NOT NULL, body TEXT NOT NULL, PRIMARY KEY (kind, id, version));
CREATE INDEX policy_objects_version ON policy_objects (version, kind);
CREATE TABLE policy_versions (version BIGINT PRIMARY KEY, body TEXT NOT NULL, created_at TEXT NOT NULL);
CREATE TABLE workloads (id TEXT PRIMARY KEY, body TEXT NOT NULL, created_at TEXT NOT NULL, updated_at TEXT NOT NULL);
CREATE TABLE container_clusters (id TEXT PRIMARY KEY, token_hash TEXT NOT NULL, body TEXT NOT NULL, created_at TEXT NOT NULL, updated_at TEXT NOT NULL);
CREATE TABLE container_workload_profiles (id TEXT PRIMARY KEY, cluster_id TEXT NOT NULL REFERENCES container_clusters(id) ON DELETE CASCADE, namespace TEXT, body TEXT NOT NULL, created_at TEXT NOT NULL, updated_at TEXT NOT NULL);
CREATE INDEX container_workload_profiles_cluster ON container_workload_profiles (cluster_id, namespace);
CREATE TABLE container_workloads (id TEXT PRIMARY KEY, cluster_id TEXT NOT NULL REFERENCES container_clusters(id) ON DELETE CASCADE, body TEXT NOT NULL, created_at TEXT NOT NULL, updated_at TEXT NOT NULL);
CREATE TABLE pairing_profiles (id TEXT PRIMARY KEY, body TEXT NOT NULL, created_at TEXT NOT NULL, updated_at TEXT NOT NULL);
CREATE TABLE pairing_keys (id TEXT PRIMARY KEY, profile_id TEXT NOT NULL REFERENCES pairing_profiles(id) ON DELETE CASCADE, code_hash TEXT NOT NULL UNIQUE, body TEXT NOT NULL, created_at TEXT NOT NULL);
CREATE TABLE events (id TEXT PRIMARY KEY, seq BIGINT NOT NULL, event_type TEXT NOT NULL, body TEXT NOT NULL, created_at TEXT NOT NULL);
CREATE INDEX events_seq ON events (seq);
CREATE TABLE settings (id TEXT PRIMARY KEY, body TEXT NOT NULL, created_at TEXT NOT NULL, updated_at TEXT NOT NULL);
