// SPDX-License-Identifier: Apache-2.0
// Copyright The Bulkhead Authors

/**
 * @module
 * The PCE's store: JSON documents in portable SQL tables, the draft and the
 * numbered active versions of the provisionable objects, sequences, and
 * reference search.
 *
 * Owns: how objects are kept (a `body` of the wire JSON per row; SQL never
 * looks inside it except `findReferences`' exact-string match), the draft
 * (version 0) and active versions (N >= 1, full copies), transactions, and
 * the identity log (identities.ts), appended on every write of a workload
 * or container workload in the writer's transaction.
 * Must not: validate objects (domain/), know HTTP (http/).
 * Contract: every method that writes commits before it resolves; a write the
 * caller acknowledged is on disk (db.ts: WAL + synchronous FULL).
 */
import { sql } from 'kysely';
import type { Db, DocRow, Tx } from './db.js';
import { nextId } from './db.js';
import { IDENTITY_TABLES, logIdentities, type IdentityTable } from './identities.js';

const isIdentityTable = (t: string): t is IdentityTable => t in IDENTITY_TABLES;

/** Tables that hold one JSON document per row. */
export type DocTable =
  | 'users'
  | 'labels'
  | 'label_dimensions'
  | 'workloads'
  | 'container_clusters'
  | 'container_workload_profiles'
  | 'container_workloads'
  | 'pairing_profiles'
  | 'settings'
  | 'pods';

/** An object that refers to another (for "cannot delete: in use by ..."). */
export interface Reference {
  href: string;
  name: string;
  /** Where it is: `draft`, `active`, or the inventory. */
  where: 'draft' | 'active' | 'inventory';
}

const now = (): string => new Date().toISOString();

/** Escape a string for `LIKE ... ESCAPE '\'`. */
function likeLiteral(s: string): string {
  return s.replace(/[\\%_]/g, (c) => `\\${c}`);
}

export class Store {
  constructor(
    readonly db: Db | Tx,
    private readonly root?: Db,
  ) {}

  /** Run `fn` in one transaction; everything it writes commits together or not at all. */
  async tx<T>(fn: (store: Store) => Promise<T>): Promise<T> {
    if (this.root === undefined && 'transaction' in this.db && typeof this.db.transaction === 'function') {
      const root = this.db as Db;
      return root.transaction().execute((tx) => fn(new Store(tx, root)));
    }
    return fn(this); // already inside a transaction
  }

  nextId(name: string): Promise<number> {
    return nextId(this.db, name);
  }

  // ------------------------------------------------------------ documents

  async getDoc<T>(table: DocTable, id: string): Promise<T | undefined> {
    const row = await this.db.selectFrom(table).select('body').where('id', '=', id).executeTakeFirst();
    return row ? (JSON.parse(row.body) as T) : undefined;
  }

  async listDocs<T>(table: DocTable): Promise<T[]> {
    const rows = await this.db.selectFrom(table).select('body').orderBy('created_at').orderBy('id').execute();
    return rows.map((r) => JSON.parse(r.body) as T);
  }

  /** Insert a document; `extra` fills the table's indexed columns. */
  async insertDoc(table: DocTable, id: string, body: unknown, extra: Record<string, unknown> = {}): Promise<void> {
    const t = now();
    const row = { id, body: JSON.stringify(body), created_at: t, updated_at: t, ...extra } as DocRow;
    await this.db
      .insertInto(table)
      .values(row as never)
      .execute();
    if (isIdentityTable(table)) await logIdentities(this.db, table, undefined, body, t);
  }

  /** Replace a document's body (and indexed columns). Returns false when there is no such row. */
  async updateDoc(table: DocTable, id: string, body: unknown, extra: Record<string, unknown> = {}): Promise<boolean> {
    const t = now();
    const before = isIdentityTable(table) ? await this.#row(table, id) : undefined;
    const r = await this.db
      .updateTable(table)
      .set({ body: JSON.stringify(body), updated_at: t, ...extra } as never)
      .where('id', '=', id)
      .executeTakeFirst();
    if (before && isIdentityTable(table)) await logIdentities(this.db, table, before, body, t);
    return Number(r.numUpdatedRows) > 0;
  }

  async deleteDoc(table: DocTable, id: string): Promise<boolean> {
    const before = isIdentityTable(table) ? await this.#row(table, id) : undefined;
    const r = await this.db.deleteFrom(table).where('id', '=', id).executeTakeFirst();
    if (before && isIdentityTable(table)) await logIdentities(this.db, table, before, undefined, now());
    return Number(r.numDeletedRows) > 0;
  }

  async #row(table: IdentityTable, id: string): Promise<{ body: string; created_at: string } | undefined> {
    return this.db.selectFrom(table).select(['body', 'created_at']).where('id', '=', id).executeTakeFirst();
  }

  // ------------------------------------------------------------ labels

  async findLabel(key: string, value: string): Promise<{ id: string } | undefined> {
    return this.db
      .selectFrom('labels')
      .select('id')
      .where('key', '=', key)
      .where('value', '=', value)
      .executeTakeFirst();
  }

  // ------------------------------------------------------------ policy objects

  /** The newest active version number, 0 when nothing was ever provisioned. */
  async activeVersion(): Promise<number> {
    const row = await this.db
      .selectFrom('policy_versions')
      .select(sql<number>`max(version)`.as('v'))
      .executeTakeFirst();
    return Number(row?.v ?? 0);
  }

  /** Every object of `kind` in `version` (0 = draft), by id. */
  async listPolicy<T>(kind: string, version: number): Promise<Map<string, T>> {
    const rows = await this.db
      .selectFrom('policy_objects')
      .select(['id', 'body'])
      .where('kind', '=', kind)
      .where('version', '=', version)
      .execute();
    const byId = new Map<string, T>();
    for (const r of rows.sort((a, b) => compareIds(a.id, b.id))) byId.set(r.id, JSON.parse(r.body) as T);
    return byId;
  }

  async getPolicy<T>(kind: string, id: string, version: number): Promise<T | undefined> {
    const row = await this.db
      .selectFrom('policy_objects')
      .select('body')
      .where('kind', '=', kind)
      .where('id', '=', id)
      .where('version', '=', version)
      .executeTakeFirst();
    return row ? (JSON.parse(row.body) as T) : undefined;
  }

  /** Create or replace an object in the draft. */
  async putDraft(kind: string, id: string, body: unknown): Promise<void> {
    const text = JSON.stringify(body);
    const r = await this.db
      .updateTable('policy_objects')
      .set({ body: text })
      .where('kind', '=', kind)
      .where('id', '=', id)
      .where('version', '=', 0)
      .executeTakeFirst();
    if (Number(r.numUpdatedRows) === 0)
      await this.db.insertInto('policy_objects').values({ kind, id, version: 0, body: text }).execute();
  }

  async deleteDraft(kind: string, id: string): Promise<boolean> {
    const r = await this.db
      .deleteFrom('policy_objects')
      .where('kind', '=', kind)
      .where('id', '=', id)
      .where('version', '=', 0)
      .executeTakeFirst();
    return Number(r.numDeletedRows) > 0;
  }

  /** Copy every object of version `from` into the new version `to`. */
  async copyVersion(from: number, to: number): Promise<void> {
    await sql`INSERT INTO policy_objects (kind, id, version, body) SELECT kind, id, ${to}, body FROM policy_objects WHERE version = ${from}`.execute(
      this.db,
    );
  }

  /** Set (or, with `body` undefined, remove) one object in a version. */
  async setVersionObject(kind: string, id: string, version: number, body: string | undefined): Promise<void> {
    await this.db
      .deleteFrom('policy_objects')
      .where('kind', '=', kind)
      .where('id', '=', id)
      .where('version', '=', version)
      .execute();
    if (body !== undefined) await this.db.insertInto('policy_objects').values({ kind, id, version, body }).execute();
  }

  async insertVersion(version: number, body: unknown): Promise<void> {
    await this.db
      .insertInto('policy_versions')
      .values({ version, body: JSON.stringify(body), created_at: now() })
      .execute();
  }

  async listVersions<T>(): Promise<T[]> {
    const rows = await this.db.selectFrom('policy_versions').select('body').orderBy('version', 'desc').execute();
    return rows.map((r) => JSON.parse(r.body) as T);
  }

  async getVersion<T>(version: number): Promise<T | undefined> {
    const row = await this.db
      .selectFrom('policy_versions')
      .select('body')
      .where('version', '=', version)
      .executeTakeFirst();
    return row ? (JSON.parse(row.body) as T) : undefined;
  }

  // ------------------------------------------------------------ references

  /**
   * Objects whose JSON names `href` exactly (as a quoted string): provisionable
   * objects in the draft and the newest active version, and inventory
   * documents. `exceptHref` is the object itself.
   */
  async findReferences(href: string, exceptHref?: string): Promise<Reference[]> {
    const pattern = `%${likeLiteral(JSON.stringify(href))}%`;
    const like = sql<boolean>`body LIKE ${pattern} ESCAPE '\\'`;
    const active = await this.activeVersion();
    const out: Reference[] = [];
    const seen = new Set<string>();
    const add = (body: string, where: Reference['where']): void => {
      const doc = JSON.parse(body) as { href?: string; name?: string; hostname?: string; namespace?: string };
      const h = doc.href ?? '';
      const key = `${where}:${h}`;
      if (h === exceptHref || h === '' || seen.has(key)) return;
      seen.add(key);
      out.push({ href: h, name: doc.name ?? doc.hostname ?? doc.namespace ?? h, where });
    };
    const policyRows = await this.db
      .selectFrom('policy_objects')
      .select(['version', 'body'])
      .where('version', 'in', active > 0 ? [0, active] : [0])
      .where(like)
      .execute();
    for (const r of policyRows) add(r.body, Number(r.version) === 0 ? 'draft' : 'active');
    const tables: DocTable[] = [
      'workloads',
      'container_workload_profiles',
      'container_workloads',
      'pairing_profiles',
      'container_clusters',
    ];
    for (const t of tables) {
      for (const r of await this.db.selectFrom(t).select('body').where(like).execute()) add(r.body, 'inventory');
    }
    return out;
  }

  // ------------------------------------------------------------ events

  async insertEvent(id: string, eventType: string, body: unknown): Promise<void> {
    const seq = await this.nextId('events');
    await this.db
      .insertInto('events')
      .values({ id, seq, event_type: eventType, body: JSON.stringify(body), created_at: now() })
      .execute();
  }

  /** Newest first. */
  async listEvents<T>(limit: number): Promise<T[]> {
    const rows = await this.db.selectFrom('events').select('body').orderBy('seq', 'desc').limit(limit).execute();
    return rows.map((r) => JSON.parse(r.body) as T);
  }

  async countEvents(): Promise<number> {
    const row = await this.db
      .selectFrom('events')
      .select(sql<number>`count(*)`.as('n'))
      .executeTakeFirst();
    return Number(row?.n ?? 0);
  }
}

/** Ids compare numerically when both are numbers, else as strings. */
export function compareIds(a: string, b: string): number {
  const na = Number(a);
  const nb = Number(b);
  if (Number.isInteger(na) && Number.isInteger(nb)) return na - nb;
  return a < b ? -1 : a > b ? 1 : 0;
}
