// SPDX-License-Identifier: Apache-2.0
// Copyright The Bulkhead Authors

/**
 * @module
 * The identity log: who held each address from when (migration 006), so a
 * flow is enriched with the identities of its own time, not of its arrival.
 *
 * Owns: what a flow sees of a workload (`identityOf`: href, name, labels,
 * namespace; addresses from `interfaces`), which tables feed the log, how
 * one address's holders rank (container workloads before workloads, then
 * by href), and reading the log at a time. The store appends to it on every
 * write of a workload or container workload (`logIdentities`), in the
 * writer's transaction.
 * Must not import: ../http, ../traffic.
 */
import type { FlowWorkload } from '../api/traffic.js';
import type { Db, Tx } from './db.js';
import { nextId } from './db.js';

/** Documents whose addresses identify flow ends, with the rank of their holders (lower wins). */
export const IDENTITY_TABLES = { container_workloads: 0, workloads: 1 } as const;
export type IdentityTable = keyof typeof IDENTITY_TABLES;

/**
 * (ours) An address that had no holder at a flow's time but got one at most
 * this long after is taken to be that one: a pod talks before the PCE has
 * made it a workload, and node clocks drift.
 */
export const IDENTITY_GRACE_MS = 30_000;

interface IdentityDoc {
  href: string;
  name?: string | null;
  hostname?: string | null;
  labels?: { href: string; key: string; value: string }[];
  interfaces?: { address: string }[];
  namespace?: string;
}

/** What a flow shows of a workload document, and the addresses it holds. */
export function identityOf(doc: unknown): { addresses: string[]; workload: FlowWorkload } {
  const w = doc as IdentityDoc;
  return {
    addresses: [...new Set((w.interfaces ?? []).map((i) => i.address).filter(Boolean))],
    workload: {
      href: w.href,
      name: w.name ?? w.hostname ?? w.href,
      labels: (w.labels ?? []).map((l) => ({ href: l.href, key: l.key, value: l.value })),
      ...(w.namespace ? { namespace: w.namespace } : {}),
    },
  };
}

/**
 * Append what changed between a document's old and new body (either may be
 * absent: insert, delete) at `at`. The first change of a document written
 * before the log existed records its old identity from its `created_at`
 * first, so older flows still find it.
 */
export async function logIdentities(
  db: Db | Tx,
  table: IdentityTable,
  before: { body: string; created_at: string } | undefined,
  after: unknown,
  at: string,
): Promise<void> {
  const old = before ? identityOf(JSON.parse(before.body)) : undefined;
  const now = after !== undefined ? identityOf(after) : undefined;
  const href = (now ?? old)!.workload.href;
  const kind = IDENTITY_TABLES[table];
  const oldJson = old ? JSON.stringify(old.workload) : null;
  const newJson = now ? JSON.stringify(now.workload) : null;
  const append = async (address: string, body: string | null, validFrom: string): Promise<void> => {
    await db
      .insertInto('identity_log')
      .values({ address, href, kind, body, valid_from: validFrom, seq: await nextId(db, 'identity_log') })
      .execute();
  };
  const backfill = async (address: string): Promise<void> => {
    if (!before) return;
    const any = await db
      .selectFrom('identity_log')
      .select('seq')
      .where('address', '=', address)
      .where('href', '=', href)
      .limit(1)
      .executeTakeFirst();
    if (!any) await append(address, oldJson, before.created_at);
  };
  const kept = new Set(now?.addresses ?? []);
  for (const a of old?.addresses ?? [])
    if (!kept.has(a) || newJson !== oldJson) {
      await backfill(a);
      if (!kept.has(a)) await append(a, null, at);
    }
  const had = new Set(old?.addresses ?? []);
  for (const a of now?.addresses ?? []) if (!had.has(a) || newJson !== oldJson) await append(a, newJson, at);
}

/**
 * Who held `address` at `t` (ISO time), from the log: the best-ranked holder
 * then; when there was none, the first one that took it within
 * `IDENTITY_GRACE_MS` after.
 */
export async function identityAt(db: Db | Tx, address: string, t: string): Promise<FlowWorkload | undefined> {
  const rows = await db
    .selectFrom('identity_log')
    .selectAll()
    .where('address', '=', address)
    .orderBy('valid_from')
    .orderBy('seq')
    .execute();
  const state = new Map<string, { kind: number; body: string | null }>();
  for (const r of rows) if (r.valid_from <= t) state.set(r.href, { kind: Number(r.kind), body: r.body });
  const held = [...state.entries()]
    .filter(([, v]) => v.body !== null)
    .sort(([ha, a], [hb, b]) => a.kind - b.kind || (ha < hb ? -1 : ha > hb ? 1 : 0));
  if (held.length) return JSON.parse(held[0]![1].body!) as FlowWorkload;
  const until = new Date(Date.parse(t) + IDENTITY_GRACE_MS).toISOString();
  const next = rows.find((r) => r.valid_from > t && r.valid_from <= until && r.body !== null);
  return next ? (JSON.parse(next.body!) as FlowWorkload) : undefined;
}
