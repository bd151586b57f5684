// SPDX-License-Identifier: Apache-2.0
// Copyright The Bulkhead Authors

/**
 * @module
 * Opening the PCE's database and migrating it.
 *
 * Owns: the connection (SQLite through better-sqlite3 by default: WAL,
 * `synchronous = FULL`, so a committed write survives `kill -9` and power
 * loss), the table types, and the numbered migrations in `migrations/`
 * (`NNN.do.<what>.sql`, `NNN.undo.<what>.sql`).
 * Must not: hold SQLite-only SQL outside this folder. The SQL here is
 * portable (the same migrations run on PostgreSQL through Kysely's dialect).
 */
import { readdirSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import SQLite from 'better-sqlite3';
import { Kysely, SqliteDialect, sql, type Transaction } from 'kysely';
import { BulkheadError } from '../api/errors.js';

/** A row of a JSON document table. */
export interface DocRow {
  id: string;
  body: string;
  created_at: string;
  updated_at: string;
}

export interface Database {
  sequences: { name: string; value: number };
  schema_migrations: { version: number; name: string; applied_at: string };
  users: DocRow & { username: string };
  api_keys: DocRow & { auth_username: string; secret_hash: string; user_id: string; role: string };
  labels: DocRow & { key: string; value: string };
  label_dimensions: DocRow & { key: string };
  policy_objects: { kind: string; id: string; version: number; body: string };
  policy_versions: { version: number; body: string; created_at: string };
  workloads: DocRow;
  container_clusters: DocRow & { token_hash: string };
  container_workload_profiles: DocRow & { cluster_id: string; namespace: string | null };
  container_workloads: DocRow & { cluster_id: string };
  pairing_profiles: DocRow;
  pairing_keys: { id: string; profile_id: string; code_hash: string; body: string; created_at: string };
  events: { id: string; seq: number; event_type: string; body: string; created_at: string };
  settings: DocRow;
  agents: DocRow & { auth_username: string; secret_hash: string; workload_id: string; cluster_id: string | null };
  pods: DocRow & { cluster_id: string; node_workload_id: string; namespace: string };
  flows: {
    bucket: string;
    src_ip: string;
    dst_ip: string;
    port: number;
    proto: number;
    decision: string;
    rule: string | null;
    src_workload: string | null;
    dst_workload: string | null;
    src_conns: number;
    dst_conns: number;
    src_bytes: number;
    dst_bytes: number;
    first_seen: string;
    last_seen: string;
  };
  flow_batches: { batch_id: string; agent_id: string; flows: number; lost: number; received_at: string };
  flow_count: { id: number; n: number };
  identity_log: { address: string; href: string; kind: number; body: string | null; valid_from: string; seq: number };
  traffic_queries: { id: string; body: string; result: string | null; created_at: string };
  kube_objects: {
    cluster_id: string;
    kind: string;
    obj_key: string;
    namespace: string | null;
    body: string;
    updated_at: string;
  };
}

export type Db = Kysely<Database>;
export type Tx = Transaction<Database>;

const MIGRATIONS_DIR = fileURLToPath(new URL('./migrations/', import.meta.url));

/**
 * Open (creating if needed) the SQLite database file and bring its schema
 * up to date.
 *
 * @throws BulkheadError BH_ERR_STORE_OPEN (terminal): the file cannot be
 *   opened or a migration failed; the message names the file or migration.
 */
export async function openSqlite(file: string): Promise<Db> {
  let native: SQLite.Database;
  try {
    native = new SQLite(file);
    native.pragma('journal_mode = WAL');
    native.pragma('synchronous = FULL');
    native.pragma('foreign_keys = ON');
    native.pragma('busy_timeout = 5000');
  } catch (cause) {
    throw new BulkheadError('BH_ERR_STORE_OPEN', `cannot open the database ${file}: ${(cause as Error).message}`, {
      cause,
    });
  }
  const db = new Kysely<Database>({ dialect: new SqliteDialect({ database: native }) });
  await migrate(db);
  return db;
}

interface Migration {
  version: number;
  name: string;
  up: string;
}

function loadMigrations(): Migration[] {
  return readdirSync(MIGRATIONS_DIR)
    .map((f) => /^(\d{3})\.do\.([a-z0-9_-]+)\.sql$/.exec(f))
    .filter((m): m is RegExpExecArray => m !== null)
    .map((m) => ({
      version: Number(m[1]),
      name: m[2] ?? '',
      up: readFileSync(`${MIGRATIONS_DIR}${m[0]}`, 'utf8'),
    }))
    .sort((a, b) => a.version - b.version);
}

/** Split a migration file into statements (one per `;` at a line's end). */
function statements(text: string): string[] {
  return text
    .split(/;\s*$/m)
    .map((s) =>
      s
        .split('\n')
        .filter((l) => !l.trim().startsWith('--'))
        .join('\n')
        .trim(),
    )
    .filter((s) => s.length > 0);
}

/** Apply every migration not yet applied, each in its own transaction. */
export async function migrate(db: Db): Promise<void> {
  await sql`CREATE TABLE IF NOT EXISTS schema_migrations (version BIGINT PRIMARY KEY, name TEXT NOT NULL, applied_at TEXT NOT NULL)`.execute(
    db,
  );
  const done = new Set(
    (await db.selectFrom('schema_migrations').select('version').execute()).map((r) => Number(r.version)),
  );
  for (const m of loadMigrations()) {
    if (done.has(m.version)) continue;
    try {
      await db.transaction().execute(async (tx) => {
        for (const stmt of statements(m.up)) await sql.raw(stmt).execute(tx);
        await tx
          .insertInto('schema_migrations')
          .values({ version: m.version, name: m.name, applied_at: new Date().toISOString() })
          .execute();
      });
    } catch (cause) {
      throw new BulkheadError(
        'BH_ERR_STORE_OPEN',
        `migration ${String(m.version).padStart(3, '0')} (${m.name}) failed: ${(cause as Error).message}`,
        { cause },
      );
    }
  }
}

/** Next value of a named sequence (call inside a transaction). */
export async function nextId(tx: Tx | Db, name: string): Promise<number> {
  const row = await tx.selectFrom('sequences').select('value').where('name', '=', name).executeTakeFirst();
  const value = row ? Number(row.value) + 1 : 1;
  if (row) await tx.updateTable('sequences').set({ value }).where('name', '=', name).execute();
  else await tx.insertInto('sequences').values({ name, value }).execute();
  return value;
}
