// SPDX-License-Identifier: Apache-2.0
// Copyright The Bulkhead Authors

/**
 * @module
 * What the PCE knows of the clusters: container clusters (Kubelink online,
 * nodes), their profiles (managed, mode, visibility, label assignments), the
 * workloads (nodes with their C-VEN's sync state) and container workloads,
 * and the recent events (tampering, errors) for the overview.
 */
import type { ContainerCluster, ContainerWorkloadProfile, EnforcementMode, VisibilityLevel } from '@bulkhead/pce/api';
import type { Session } from './session.svelte.js';

export interface AgentStatus {
  status?: string;
  security_policy_sync_state?: string;
  security_policy_applied_at?: string | null;
  last_heartbeat_on?: string | null;
  firewall_rule_count?: number;
}
export interface WorkloadRow {
  href: string;
  name: string | null;
  hostname?: string | null;
  labels: { href: string; key: string; value: string }[];
  interfaces?: { name: string; address: string }[];
  enforcement_mode: EnforcementMode;
  visibility_level?: VisibilityLevel;
  managed?: boolean;
  online?: boolean;
  agent?: { href?: string; status?: AgentStatus };
  container_cluster?: { href: string } | null;
  namespace?: string;
  node?: { href: string; name?: string } | null;
}
export interface PceEvent {
  href: string;
  event_type: string;
  status: string | null;
  severity: string;
  timestamp: string;
  info?: Record<string, unknown> | null;
  created_by?: Record<string, unknown>;
}

export class InventoryState {
  clusters = $state.raw<ContainerCluster[]>([]);
  profiles = $state.raw<Record<string, ContainerWorkloadProfile[]>>({});
  workloads = $state.raw<WorkloadRow[]>([]);
  containerWorkloads = $state.raw<WorkloadRow[]>([]);
  events = $state.raw<PceEvent[]>([]);
  /** Flow records the agents could not keep and said so (settings/traffic). */
  flowsLost = $state.raw<{ total: number; byAgent: { agent: { href: string }; lost: number }[] }>({
    total: 0,
    byAgent: [],
  });
  loadedAt = $state<Date | undefined>(undefined);

  readonly nodes = $derived(this.workloads.filter((w) => w.managed));
  readonly syncSummary = $derived.by(() => {
    const by: Record<string, number> = {};
    for (const w of this.nodes) {
      const s = w.agent?.status?.security_policy_sync_state ?? 'unknown';
      by[s] = (by[s] ?? 0) + 1;
    }
    return by;
  });
  readonly recentProblems = $derived(
    this.events
      .filter((e) => e.event_type === 'agent.tampering' || e.severity === 'error' || e.status === 'failure')
      .slice(0, 20),
  );

  constructor(private readonly session: Session) {}

  async load(): Promise<void> {
    const pce = this.session.pce;
    const [clusters, workloads, cws, events, traffic] = await Promise.all([
      pce.get<ContainerCluster[]>('/orgs/1/container_clusters'),
      pce.get<WorkloadRow[]>('/orgs/1/workloads', { max_results: 10000 }),
      pce.get<WorkloadRow[]>('/orgs/1/container_workloads', { max_results: 10000 }),
      pce.get<PceEvent[]>('/orgs/1/events', { max_results: 200 }),
      pce.get<{ flows_lost?: number; flows_lost_by_agent?: { agent: { href: string }; lost: number }[] }>(
        '/orgs/1/settings/traffic',
      ),
    ]);
    this.flowsLost = { total: traffic.flows_lost ?? 0, byAgent: traffic.flows_lost_by_agent ?? [] };
    const profiles: Record<string, ContainerWorkloadProfile[]> = {};
    await Promise.all(
      clusters.map(async (c) => {
        profiles[c.href] = await pce.get<ContainerWorkloadProfile[]>(`${c.href}/container_workload_profiles`);
      }),
    );
    this.clusters = clusters;
    this.profiles = profiles;
    this.workloads = workloads;
    this.containerWorkloads = cws;
    this.events = [...events].sort((a, b) => (a.timestamp < b.timestamp ? 1 : -1));
    this.loadedAt = new Date();
  }

  /** The node an agent runs on, by its href. */
  nodeOfAgent(agentHref: string): string {
    const w = this.workloads.find((x) => x.agent?.href === agentHref);
    return w?.hostname ?? w?.name ?? agentHref;
  }

  /** Apply one change to several profiles of a cluster; reports how many succeeded. */
  async updateProfiles(
    clusterHref: string,
    hrefs: string[],
    patch: Partial<Pick<ContainerWorkloadProfile, 'managed' | 'enforcement_mode' | 'visibility_level'>> & {
      assign_labels?: { href: string }[];
    },
  ): Promise<{ ok: number; failed: { href: string; message: string }[] }> {
    const pce = this.session.pce;
    const failed: { href: string; message: string }[] = [];
    let ok = 0;
    for (const href of hrefs) {
      try {
        await pce.put(href, patch);
        ok++;
      } catch (err) {
        failed.push({ href, message: (err as Error).message });
      }
    }
    this.profiles = {
      ...this.profiles,
      [clusterHref]: await pce.get<ContainerWorkloadProfile[]>(`${clusterHref}/container_workload_profiles`),
    };
    return { ok, failed };
  }
}
