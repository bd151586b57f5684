// SPDX-License-Identifier: Apache-2.0
// Copyright The Bulkhead Authors

/**
 * @module
 * The app-group map: flows grouped by label keys (default app and env),
 * online from the PCE's `traffic_flows/app_groups`, offline from the
 * snapshot with the PCE's own grouping; laid out left to right by dagre.
 * Selecting an edge lists its flows and drafts the rule that would allow it.
 */
import dagre from '@dagrejs/dagre';
import { appGroupOf, appGroups, type AppGroupMap, type TrafficFlow } from '@bulkhead/pce/api';
import { ruleForEdge, type RuleDraft } from '../../../common/rule-draft.js';
import type { Session } from './session.svelte.js';
import type { PolicyState } from './policy.svelte.js';

export type MapEdge = AppGroupMap['edges'][number];
export type MapNode = AppGroupMap['nodes'][number];

export interface Layout {
  width: number;
  height: number;
  nodes: (MapNode & { x: number; y: number; w: number; h: number })[];
  /** `d`: the SVG path of the edge. */
  edges: (MapEdge & { d: string; id: string })[];
}

export const NODE_W = 180;
export const NODE_H = 56;

/** Position the groups (dagre, left to right: consumers before providers). */
export function layoutMap(m: AppGroupMap): Layout {
  const g = new dagre.graphlib.Graph({ multigraph: false });
  g.setGraph({ rankdir: 'LR', nodesep: 36, ranksep: 120, marginx: 24, marginy: 60 });
  g.setDefaultEdgeLabel(() => ({}));
  for (const n of m.nodes) g.setNode(n.id, { width: NODE_W, height: NODE_H });
  for (const e of m.edges) if (e.source !== e.target) g.setEdge(e.source, e.target);
  dagre.layout(g);
  const graph = g.graph();
  return {
    width: Math.max(320, graph.width ?? 0),
    height: Math.max(200, graph.height ?? 0),
    nodes: m.nodes.map((n) => {
      const p = g.node(n.id);
      return { ...n, x: p.x - NODE_W / 2, y: p.y - NODE_H / 2, w: NODE_W, h: NODE_H };
    }),
    edges: m.edges.map((e) => {
      const id = `${e.source}>${e.target}`;
      if (e.source === e.target) {
        // dagre leaves self-loops out: a loop over the node's top edge (flows within one app group).
        const p = g.node(e.source);
        const x0 = p.x - NODE_W / 4;
        const x1 = p.x + NODE_W / 4;
        const y = p.y - NODE_H / 2;
        return { ...e, id, d: `M${x0},${y} C${x0 - 10},${y - 46} ${x1 + 10},${y - 46} ${x1},${y - 2}` };
      }
      return { ...e, id, d: smoothPath(g.edge(e.source, e.target)?.points ?? []) };
    }),
  };
}

/** A polyline through dagre's points, its corners rounded with quadratic curves. */
export function smoothPath(pts: { x: number; y: number }[]): string {
  if (pts.length < 2) return '';
  let d = `M${pts[0]!.x},${pts[0]!.y}`;
  for (let i = 1; i < pts.length - 1; i++) {
    const p = pts[i]!;
    const n = pts[i + 1]!;
    d += ` Q${p.x},${p.y} ${(p.x + n.x) / 2},${(p.y + n.y) / 2}`;
  }
  const last = pts[pts.length - 1]!;
  return `${d} L${last.x},${last.y}`;
}

/** The worst decision on an edge colours it. */
export function edgeDecision(e: Pick<MapEdge, 'decisions'>): 'blocked' | 'potentially_blocked' | 'allowed' | 'unknown' {
  if (e.decisions.blocked) return 'blocked';
  if (e.decisions.potentially_blocked) return 'potentially_blocked';
  if (e.decisions.allowed) return 'allowed';
  return 'unknown';
}

export class MapState {
  keys = $state<string[]>(['app', 'env']);
  sinceMinutes = $state(60);
  groups = $state.raw<AppGroupMap | undefined>(undefined);
  selected = $state<string | undefined>(undefined);
  edgeFlows = $state.raw<TrafficFlow[]>([]);
  readonly layout = $derived(this.groups ? layoutMap(this.groups) : undefined);
  readonly selectedEdge = $derived(this.layout?.edges.find((e) => e.id === this.selected));

  constructor(
    private readonly session: Session,
    private readonly policy: PolicyState,
  ) {}

  async load(): Promise<void> {
    const s = this.session;
    if (s.mode === 'offline') {
      this.groups = appGroups(s.snapshot?.flows ?? [], this.keys);
      return;
    }
    const now = Date.now();
    const m = await s.pce.get<AppGroupMap>('/orgs/1/traffic_flows/app_groups', {
      keys: this.keys.join(','),
      start_date: new Date(now - this.sinceMinutes * 60_000).toISOString(),
      end_date: new Date(now + 60_000).toISOString(),
    });
    this.groups = m;
    if (this.selected && !m.edges.some((e) => `${e.source}>${e.target}` === this.selected)) this.selected = undefined;
  }

  /** Select an edge and list its flows (the flows whose ends fall in its two groups). */
  async select(id: string | undefined, flowsSource: () => Promise<TrafficFlow[]>): Promise<void> {
    this.selected = id;
    this.edgeFlows = [];
    const e = this.selectedEdge;
    if (!e || !this.groups) return;
    const all = await flowsSource();
    const groupOf = (end: TrafficFlow['src']) => appGroupOf(end, this.keys).id;
    this.edgeFlows = all.filter((f) => groupOf(f.src) === e.source && groupOf(f.dst) === e.target);
  }

  /** The rule that would allow the selected edge. */
  draftForSelected(): RuleDraft | undefined {
    const e = this.selectedEdge;
    const m = this.groups;
    if (!e || !m) return undefined;
    const node = (id: string) => m.nodes.find((n) => n.id === id)!;
    return ruleForEdge(
      { source: node(e.source).labels, target: node(e.target).labels, ports: e.ports },
      this.policy.labels,
    );
  }

  /** Flows of the map's time range (offline: the snapshot's). */
  async flows(): Promise<TrafficFlow[]> {
    const s = this.session;
    if (s.mode === 'offline') return s.snapshot?.flows ?? [];
    const now = Date.now();
    const q = {
      start_date: new Date(now - this.sinceMinutes * 60_000).toISOString(),
      end_date: new Date(now + 60_000).toISOString(),
      sources: { include: [[]], exclude: [] },
      destinations: { include: [[]], exclude: [] },
      max_results: 100_000,
    };
    return s.pce.post<TrafficFlow[]>('/orgs/1/traffic_flows/traffic_analysis_queries', q);
  }
}
