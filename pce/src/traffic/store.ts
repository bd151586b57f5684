// SPDX-License-Identifier: Apache-2.0
// Copyright The Bulkhead Authors

/**
 * @module
 * Flow ingest and explorer queries over the `flows` table.
 * - Ingest: each agent's aggregate is enriched with who the two addresses
 *   were at the flow's time (workload href, name, labels, namespace: the
 *   address book, or the identity log for flows older than their
 *   address's last change), frozen in the row, merged
 *   into its minute bucket (both ends' reports are one flow: counts are the
 *   larger side's, the decision the more restrictive), and its batch id is
 *   recorded in the same transaction, so a retried batch counts once and an
 *   acknowledged one is durable.
 * - Retention (`settings/traffic`): by age (default 30 days) and by size
 *   (default 5,000,000 rows; the oldest by last seen go first), applied in
 *   every ingest's transaction and when the settings change.
 * - Query: Illumio's explorer semantics (an include list is an OR of inner
 *   lists that AND their actors; `[]`/`[[]]` match all; empty services or
 *   decisions lists do not filter).
 * Must not import: http/.
 */
import { invalid } from '../api/errors.js';
import { containsAddress } from '../api/ip.js';
import type { IpList, LabelGroup } from '../api/policy-objects.js';
import { mostRestrictive, type PolicyDecision } from '../api/evaluate.js';
import type { AgentFlow, FlowBatch, FlowWorkload, TrafficFlow, TrafficQuery } from '../api/traffic.js';
import { flowMatches } from '../api/traffic-views.js';
import { buildContext, flattenGroup, ipListIntervals } from '../compiler/resolve.js';
import { toDraftHref } from '../domain/refs.js';
import { sql } from 'kysely';
import { identityAt, identityOf } from '../store/identities.js';
import type { Store } from '../store/store.js';

/** Default retention of stored flows, by age. */
export const RETENTION_DAYS = 30;
/**
 * Default bound on stored flow rows (aggregates), whatever their age.
 * Measured ~0.5 KB a row on disk with both ends' identities (README), so
 * about 2.5 GB.
 */
export const MAX_STORED_FLOWS = 5_000_000;

/** `GET/PUT /orgs/1/settings/traffic` (ours; Illumio has no public equivalent). */
export interface TrafficSettings {
  href: '/orgs/1/settings/traffic';
  /** Flows whose last packet is older are deleted. */
  flow_retention_days: number;
  /** Past this many stored flows, the oldest (by last seen) are deleted first. */
  max_stored_flows: number;
  /** Read-only: how many flows are stored now. */
  stored_flows: number;
}

/** The traffic settings in force (defaults where none were set). */
export async function trafficSettings(s: Store): Promise<TrafficSettings> {
  const doc = await s.getDoc<Partial<TrafficSettings>>('settings', 'traffic');
  return {
    href: '/orgs/1/settings/traffic',
    flow_retention_days: doc?.flow_retention_days ?? RETENTION_DAYS,
    max_stored_flows: doc?.max_stored_flows ?? MAX_STORED_FLOWS,
    stored_flows: await storedFlows(s),
  };
}

/**
 * What the agents said they could not record (probe evictions, a full map or
 * ring, a full spool), summed over their batches, in total and per agent:
 * loss is reported, never silent. Read on demand, not on the ingest path.
 */
export async function reportedLoss(
  s: Store,
): Promise<{ flows_lost: number; flows_lost_by_agent: { agent: { href: string }; lost: number }[] }> {
  const rows = await s.db
    .selectFrom('flow_batches')
    .select(['agent_id', (eb) => eb.fn.sum<number>('lost').as('lost')])
    .where('lost', '>', 0)
    .groupBy('agent_id')
    .orderBy('agent_id')
    .execute();
  const by = rows.map((r) => ({ agent: { href: `/orgs/1/agents/${r.agent_id}` }, lost: Number(r.lost) }));
  return { flows_lost: by.reduce((n, r) => n + r.lost, 0), flows_lost_by_agent: by };
}

async function storedFlows(s: Store): Promise<number> {
  const row = await s.db.selectFrom('flow_count').select('n').where('id', '=', 1).executeTakeFirst();
  return Number(row?.n ?? 0);
}

/**
 * Apply the retention: delete flows older than `flow_retention_days`, then,
 * while more than `max_stored_flows` remain, the oldest by last seen
 * (exactly the excess; ties broken by row key). `added` is the change in
 * rows the caller made in this transaction. Returns the rows deleted.
 */
export async function enforceRetention(s: Store, added = 0): Promise<number> {
  const set = await trafficSettings(s);
  const cutoff = new Date(Date.now() - set.flow_retention_days * 86_400_000).toISOString();
  const aged = await s.db.deleteFrom('flows').where('last_seen', '<', cutoff).executeTakeFirst();
  let deleted = Number(aged.numDeletedRows);
  // Identities no stored flow can need any more: superseded before the cutoff.
  await sql`DELETE FROM identity_log WHERE valid_from < ${cutoff} AND EXISTS (SELECT 1 FROM identity_log n WHERE n.address = identity_log.address AND n.href = identity_log.href AND n.valid_from <= ${cutoff} AND (n.valid_from > identity_log.valid_from OR (n.valid_from = identity_log.valid_from AND n.seq > identity_log.seq)))`.execute(
    s.db,
  );
  let n = set.stored_flows + added - deleted;
  if (n > set.max_stored_flows) {
    const excess = n - set.max_stored_flows;
    const r =
      await sql`DELETE FROM flows WHERE (bucket, src_ip, dst_ip, port, proto, decision) IN (SELECT bucket, src_ip, dst_ip, port, proto, decision FROM flows ORDER BY last_seen, bucket, src_ip, dst_ip, port, proto, decision LIMIT ${excess})`.execute(
        s.db,
      );
    deleted += Number(r.numAffectedRows ?? 0);
    n -= Number(r.numAffectedRows ?? 0);
  }
  if (added !== 0 || deleted !== 0) {
    const u = await s.db.updateTable('flow_count').set({ n }).where('id', '=', 1).executeTakeFirst();
    if (Number(u.numUpdatedRows) === 0) await s.db.insertInto('flow_count').values({ id: 1, n }).execute();
  }
  return deleted;
}

/** Who has which address now (container workloads first, then nodes and workloads by hand; the first created wins). */
export async function addressBook(s: Store): Promise<Map<string, FlowWorkload>> {
  const book = new Map<string, FlowWorkload>();
  for (const table of ['container_workloads', 'workloads'] as const)
    for (const doc of await s.listDocs<unknown>(table)) {
      const { addresses, workload } = identityOf(doc);
      for (const a of addresses) if (!book.has(a)) book.set(a, workload);
    }
  return book;
}

/**
 * Who each end of a batch's flows was at the flow's time (its first
 * packet): the address book of now, unless the identity log shows the
 * address changed hands or labels after that time; then the log's holder at
 * that time (store/identities.ts). One log read for the batch; the log is
 * read per address only for flows older than their address's last change.
 */
async function identitiesFor(
  s: Store,
  flows: readonly AgentFlow[],
): Promise<(ip: string, at: string) => Promise<FlowWorkload | undefined>> {
  const book = await addressBook(s);
  if (flows.length === 0) return async (ip) => book.get(ip);
  const oldest = flows.reduce((m, f) => (f.first_seen < m ? f.first_seen : m), flows[0]!.first_seen);
  const lastChange = new Map<string, string>();
  for (const r of await s.db
    .selectFrom('identity_log')
    .select(['address', 'valid_from'])
    .where('valid_from', '>', oldest)
    .execute())
    if ((lastChange.get(r.address) ?? '') < r.valid_from) lastChange.set(r.address, r.valid_from);
  const memo = new Map<string, Promise<FlowWorkload | undefined>>();
  return async (ip, at) => {
    const changed = lastChange.get(ip);
    if (changed === undefined || changed <= at) return book.get(ip);
    const k = `${ip}|${at}`;
    let hit = memo.get(k);
    if (!hit) memo.set(k, (hit = identityAt(s.db, ip, at)));
    return hit;
  };
}

const bucketOf = (iso: string): string => `${iso.slice(0, 16)}:00Z`;

/**
 * Store one agent batch. Returns false when the batch was seen before (nothing counted).
 */
export async function ingestBatch(s: Store, agentId: string, batch: FlowBatch): Promise<boolean> {
  const seen = await s.db
    .selectFrom('flow_batches')
    .select('batch_id')
    .where('batch_id', '=', batch.batch_id)
    .executeTakeFirst();
  if (seen) return false;
  const who = await identitiesFor(s, batch.flows);
  let added = 0;
  for (const f of batch.flows) added += await mergeFlow(s, f, who);
  await s.db
    .insertInto('flow_batches')
    .values({
      batch_id: batch.batch_id,
      agent_id: agentId,
      flows: batch.flows.length,
      lost: batch.lost ?? 0,
      received_at: new Date().toISOString(),
    })
    .execute();
  await enforceRetention(s, added);
  return true;
}

/**
 * Merge one end's aggregate into its bucket. Precedence:
 * 1. a row of the same connection that only the other end has reported: the
 *    same flow seen from both ends, so one flow, with the more restrictive decision
 *    (but a source's blocked row is never the destination's: that one got through);
 * 2. a row this end reported with the same decision: more of the same;
 * 3. otherwise a new row (the same pair under another decision: the policy or a mode changed).
 * Returns the change in stored rows (+1 new, -1 folded into another, 0 merged).
 */
async function mergeFlow(
  s: Store,
  f: AgentFlow,
  who: (ip: string, at: string) => Promise<FlowWorkload | undefined>,
): Promise<number> {
  const bucket = bucketOf(f.first_seen);
  /** The connection's row key, less the decision. */
  const key = { bucket, src_ip: f.src_ip, dst_ip: f.dst_ip, port: f.port, proto: f.proto };
  const bySource = f.reported_by === 'source';
  const rows = await s.db
    .selectFrom('flows')
    .selectAll()
    .where((eb) => eb.and(key))
    .execute();
  const mine = (r: (typeof rows)[number]): number => (bySource ? r.src_conns : r.dst_conns);
  // A connection the source blocked never reaches the destination: what the destination sees is another one.
  const sameConnection = (r: (typeof rows)[number]): boolean =>
    mine(r) === 0 && !(!bySource && r.decision === 'blocked');
  const row =
    rows.find((r) => sameConnection(r) && r.decision === f.decision) ??
    rows.find(sameConnection) ??
    rows.find((r) => r.decision === f.decision);
  if (!row) {
    // Identities as at the flow's time; kept as they were when the row was made (a relabel later changes nothing).
    const src = await who(f.src_ip, f.first_seen);
    const dst = await who(f.dst_ip, f.first_seen);
    await s.db
      .insertInto('flows')
      .values({
        ...key,
        decision: f.decision,
        rule: f.rule ?? null,
        src_workload: src ? JSON.stringify(src) : null,
        dst_workload: dst ? JSON.stringify(dst) : null,
        src_conns: bySource ? f.num_connections : 0,
        dst_conns: bySource ? 0 : f.num_connections,
        src_bytes: bySource ? f.bytes : 0,
        dst_bytes: bySource ? 0 : f.bytes,
        first_seen: f.first_seen,
        last_seen: f.last_seen,
      })
      .execute();
    return 1;
  }
  const decision = mostRestrictive(row.decision as PolicyDecision, f.decision);
  // The merged decision may already have its own row: fold this one into it (one row per decision).
  const target = decision !== row.decision ? rows.find((r) => r.decision === decision) : undefined;
  const base = target ?? row;
  const extra = target ? row : undefined;
  if (target)
    await s.db
      .deleteFrom('flows')
      .where((eb) => eb.and(key))
      .where('decision', '=', row.decision)
      .execute();
  const firsts = [base.first_seen, f.first_seen, ...(extra ? [extra.first_seen] : [])].sort();
  const lasts = [base.last_seen, f.last_seen, ...(extra ? [extra.last_seen] : [])].sort();
  await s.db
    .updateTable('flows')
    .set({
      decision,
      rule: decision !== base.decision ? (f.rule ?? null) : (base.rule ?? f.rule ?? null),
      src_conns: base.src_conns + (extra?.src_conns ?? 0) + (bySource ? f.num_connections : 0),
      dst_conns: base.dst_conns + (extra?.dst_conns ?? 0) + (bySource ? 0 : f.num_connections),
      src_bytes: base.src_bytes + (extra?.src_bytes ?? 0) + (bySource ? f.bytes : 0),
      dst_bytes: base.dst_bytes + (extra?.dst_bytes ?? 0) + (bySource ? 0 : f.bytes),
      first_seen: firsts[0]!,
      last_seen: lasts[lasts.length - 1]!,
    })
    .where((eb) => eb.and(key))
    .where('decision', '=', base.decision)
    .execute();
  return target ? -1 : 0;
}

type Actor = TrafficQuery['sources']['exclude'][number];

/** The label hrefs each label group stands for (nested groups flattened), from the active policy. */
export type LabelGroupMembers = ReadonlyMap<string, ReadonlySet<string>>;

/** What explorer filters by label group and IP list resolve against (the active policy), by draft-form href. */
export interface ExplorerContext {
  groups: LabelGroupMembers;
  ipLists: ReadonlyMap<string, (ip: string) => boolean>;
}

/**
 * The active policy's label groups (flattened) and IP lists (ranges less
 * exclusions; FQDN entries match nothing, as in enforcement) for the explorer.
 * Before anything is provisioned: the built-in objects (row version -1).
 */
export async function explorerContext(s: Store): Promise<ExplorerContext> {
  const active = await s.activeVersion();
  const row = active > 0 ? active : -1;
  const groups = [...(await s.listPolicy<LabelGroup>('label_groups', row)).values()];
  const lists = [...(await s.listPolicy<IpList>('ip_lists', row)).values()];
  const ctx = buildContext(
    { label_groups: groups, ip_lists: lists, virtual_services: [], services: [], rule_sets: [] },
    [],
  );
  return {
    groups: new Map(groups.map((g) => [g.href, new Set(flattenGroup(ctx, g.href))])),
    ipLists: new Map(
      lists.map((l) => {
        const intervals = ipListIntervals(l);
        return [l.href, (ip: string) => containsAddress(intervals, ip)];
      }),
    ),
  };
}

/**
 * Refuse label groups and IP lists the active policy does not have, naming
 * the actor's field (`sources.include[0][1].label_group.href`).
 *
 * @throws BulkheadError BH_ERR_API_VALIDATION (terminal).
 */
function checkActors(q: TrafficQuery, ctx: ExplorerContext): void {
  const check = (a: Actor, field: string): void => {
    if (a.label_group && !ctx.groups.has(toDraftHref(a.label_group.href)))
      throw invalid(
        `${field}.label_group.href`,
        `label group ${a.label_group.href} is not in the active policy; provision it first, or filter by its labels`,
      );
    if (a.ip_list && !ctx.ipLists.has(toDraftHref(a.ip_list.href)))
      throw invalid(
        `${field}.ip_list.href`,
        `IP list ${a.ip_list.href} is not in the active policy; provision it first, or filter by ip_address`,
      );
  };
  for (const side of ['sources', 'destinations'] as const) {
    q[side].include.forEach((and, i) => and.forEach((a, j) => check(a, `${side}.include[${i}][${j}]`)));
    q[side].exclude.forEach((a, i) => check(a, `${side}.exclude[${i}]`));
  }
}

/**
 * Run an explorer query over the stored flows. Label groups and IP lists
 * resolve against `ctx`, by default the active policy (`explorerContext`).
 *
 * @throws BulkheadError BH_ERR_API_VALIDATION naming the actor when a label
 *   group or IP list is not in the active policy.
 */
export async function queryFlows(s: Store, q: TrafficQuery, ctx?: ExplorerContext): Promise<TrafficFlow[]> {
  ctx ??= await explorerContext(s);
  checkActors(q, ctx);
  // Newest first, streamed: a query stops reading once it has max_results answers.
  const rows = s.db
    .selectFrom('flows')
    .selectAll()
    .where('last_seen', '>=', q.start_date)
    .where('first_seen', '<=', q.end_date)
    .orderBy('last_seen', 'desc')
    .stream(1000);
  const out: TrafficFlow[] = [];
  for await (const r of rows) {
    const src: FlowWorkload | undefined = r.src_workload ? JSON.parse(r.src_workload) : undefined;
    const dst: FlowWorkload | undefined = r.dst_workload ? JSON.parse(r.dst_workload) : undefined;
    const flow: TrafficFlow = {
      src: { ip: r.src_ip, ...(src ? { workload: src } : {}) },
      dst: { ip: r.dst_ip, ...(dst ? { workload: dst } : {}) },
      service: { port: r.port, proto: r.proto },
      policy_decision: r.decision as TrafficFlow['policy_decision'],
      rule: r.rule ? { href: r.rule } : null,
      num_connections: Math.max(r.src_conns, r.dst_conns),
      flow_direction: r.dst_conns > 0 ? 'inbound' : 'outbound',
      timestamp_range: { first_detected: r.first_seen, last_detected: r.last_seen },
      dst_bi: r.dst_bytes,
      dst_bo: r.src_bytes,
    };
    if (!flowMatches(q, flow, ctx)) continue; // the console filters snapshots with the same function
    out.push(flow);
    if (out.length >= (q.max_results ?? 100_000)) break;
  }
  return out;
}
