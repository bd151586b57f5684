// SPDX-License-Identifier: Apache-2.0
// Copyright The Bulkhead Authors

/**
 * @module
 * The traffic explorer's state: the filters, the last result (online: an
 * Illumio async query, polled until completed, then downloaded; offline: the
 * snapshot's flows filtered here with the PCE's own matcher), the draft
 * decisions (`update_rules`), sorting, and the exports (CSV, snapshot).
 */
import { flowMatches, flowsCsv, type AsyncQuery, type TrafficFlow, type TrafficQuery } from '@bulkhead/pce/api';
import { buildQuery, emptyFilters, type ExplorerFilters } from '../../../common/explorer-query.js';
import type { Session } from './session.svelte.js';

export type SortKey = 'last' | 'connections' | 'source' | 'destination' | 'port' | 'decision';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export class ExplorerState {
  filters = $state<ExplorerFilters>(emptyFilters());
  flows = $state.raw<TrafficFlow[]>([]);
  query = $state.raw<AsyncQuery | undefined>(undefined);
  hasDraft = $state(false);
  sort = $state<{ key: SortKey; desc: boolean }>({ key: 'last', desc: true });
  error = $state('');
  ranAt = $state<Date | undefined>(undefined);

  readonly sorted = $derived.by(() => sortFlows(this.flows, this.sort.key, this.sort.desc));
  readonly totals = $derived.by(() => {
    const t = { flows: this.flows.length, connections: 0, allowed: 0, potentially_blocked: 0, blocked: 0, changed: 0 };
    for (const f of this.flows) {
      t.connections += f.num_connections;
      if (f.policy_decision in t) t[f.policy_decision as 'allowed']++;
      if (f.draft_policy_decision && f.draft_policy_decision !== f.policy_decision) t.changed++;
    }
    return t;
  });

  constructor(private readonly session: Session) {}

  /** Run the filters as a query; false when they do not parse (`error` says why). */
  async run(): Promise<boolean> {
    let q: TrafficQuery;
    try {
      q = buildQuery(this.filters);
      this.error = '';
    } catch (err) {
      this.error = (err as Error).message;
      return false;
    }
    const s = this.session;
    if (s.mode === 'offline') {
      this.flows = (s.snapshot?.flows ?? []).filter((f) =>
        flowMatches({ ...q, start_date: '0000', end_date: '9999' }, f),
      );
      this.query = undefined;
      this.hasDraft = false;
      this.ranAt = new Date();
      return true;
    }
    const flows = await s.run('Querying traffic', async (progress) => {
      let job = await s.pce.post<AsyncQuery>('/orgs/1/traffic_flows/async_queries', q);
      for (let i = 0; job.status !== 'completed'; i++) {
        if (job.status === 'failed') throw new Error(`the query failed: ${job.error ?? 'no reason given'}`);
        if (i > 600) throw new Error('the query did not complete within 5 minutes; narrow the time range or filters');
        progress(Math.min(0.9, i / 20));
        await sleep(500);
        job = await s.pce.getHref<AsyncQuery>(job.href);
      }
      this.query = job;
      return s.pce.getHref<TrafficFlow[]>(job.result!);
    });
    if (!flows) return false;
    this.flows = flows;
    this.hasDraft = false;
    this.ranAt = new Date();
    return true;
  }

  /** Re-decide the result under the draft policy: what provisioning would change. */
  async decideDraft(): Promise<void> {
    const s = this.session;
    const q = this.query;
    if (!q) {
      s.notify('info', 'Run a query first; draft decisions need a PCE.');
      return;
    }
    const flows = await s.run('Deciding under the draft policy', async () => {
      await s.pce.put(`${q.href}/update_rules`, {});
      return s.pce.getHref<TrafficFlow[]>(q.result!);
    });
    if (flows) {
      this.flows = flows;
      this.hasDraft = true;
    }
  }

  csv(): string {
    return flowsCsv(this.sorted);
  }

  /** The result as an offline snapshot (SQLite bytes), made by the PCE. */
  async snapshotBytes(): Promise<Uint8Array | undefined> {
    const q = this.query;
    const s = this.session;
    if (!q) {
      s.notify('info', 'Run a query against a PCE first; its result is what the snapshot holds.');
      return undefined;
    }
    return s.run('Exporting a snapshot', async () => {
      const r = await s.pce.call<Uint8Array>({ method: 'GET', path: `${q.href}/snapshot`, accept: 'bytes' });
      return r.body;
    });
  }

  toggleSort(key: SortKey): void {
    this.sort =
      this.sort.key === key ? { key, desc: !this.sort.desc } : { key, desc: key === 'last' || key === 'connections' };
  }
}

const endName = (e: TrafficFlow['src']) => e.workload?.name ?? e.ip;
const RANK: Record<string, number> = { blocked: 0, potentially_blocked: 1, allowed: 2, unknown: 3 };

export function sortFlows(flows: TrafficFlow[], key: SortKey, desc: boolean): TrafficFlow[] {
  const cmp: (a: TrafficFlow, b: TrafficFlow) => number =
    key === 'connections'
      ? (a, b) => a.num_connections - b.num_connections
      : key === 'source'
        ? (a, b) => endName(a.src).localeCompare(endName(b.src))
        : key === 'destination'
          ? (a, b) => endName(a.dst).localeCompare(endName(b.dst))
          : key === 'port'
            ? (a, b) => a.service.port - b.service.port || a.service.proto - b.service.proto
            : key === 'decision'
              ? (a, b) => (RANK[a.policy_decision] ?? 9) - (RANK[b.policy_decision] ?? 9)
              : (a, b) => (a.timestamp_range.last_detected < b.timestamp_range.last_detected ? -1 : 1);
  const out = [...flows].sort(cmp);
  return desc ? out.reverse() : out;
}
