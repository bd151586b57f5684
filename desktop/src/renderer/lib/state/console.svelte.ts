// SPDX-License-Identifier: Apache-2.0
// Copyright The Bulkhead Authors

/**
 * @module
 * The console's state, one object handed down by context: the session and
 * the per-area state classes, and the route (the URL's hash, so views can be
 * linked and the browser's back button works).
 */
import { getContext, setContext } from 'svelte';
import type { BulkheadBridge } from '../../../common/ipc.js';
import { ExplorerState } from './explorer.svelte.js';
import { InventoryState } from './inventory.svelte.js';
import { MapState } from './map.svelte.js';
import { PolicyState } from './policy.svelte.js';
import { Session } from './session.svelte.js';

export type Route =
  | 'connect'
  | 'overview'
  | 'clusters'
  | 'workloads'
  | 'objects'
  | 'rulesets'
  | 'provision'
  | 'check'
  | 'explorer'
  | 'map'
  | 'offline';

export const ROUTES: { route: Route; title: string; offline: boolean; group: string }[] = [
  { route: 'overview', title: 'Overview', offline: false, group: 'Cluster' },
  { route: 'clusters', title: 'Clusters & profiles', offline: false, group: 'Cluster' },
  { route: 'workloads', title: 'Workloads', offline: false, group: 'Cluster' },
  { route: 'objects', title: 'Labels & objects', offline: false, group: 'Policy' },
  { route: 'rulesets', title: 'Rulesets', offline: false, group: 'Policy' },
  { route: 'provision', title: 'Provision', offline: false, group: 'Policy' },
  { route: 'check', title: 'Policy check', offline: false, group: 'Policy' },
  { route: 'explorer', title: 'Traffic explorer', offline: true, group: 'Traffic' },
  { route: 'map', title: 'Map', offline: true, group: 'Traffic' },
  { route: 'offline', title: 'Open snapshot', offline: true, group: 'Traffic' },
];

export function parseRoute(hash: string): Route {
  const r = hash.replace(/^#\/?/, '').split(/[/?]/)[0] as Route;
  return r === 'connect' || ROUTES.some((x) => x.route === r) ? r : 'overview';
}

export class ConsoleState {
  readonly session: Session;
  readonly policy: PolicyState;
  readonly inventory: InventoryState;
  readonly explorer: ExplorerState;
  readonly map: MapState;
  route = $state<Route>('overview');
  /** Where the rulesets view should open (set by the map's "write the rule"). */
  focusRuleSet = $state<string | undefined>(undefined);

  constructor(bridge?: BulkheadBridge) {
    this.session = new Session(bridge);
    this.policy = new PolicyState(this.session);
    this.inventory = new InventoryState(this.session);
    this.explorer = new ExplorerState(this.session);
    this.map = new MapState(this.session, this.policy);
  }

  /** The view to show: connect until there is a source; offline, only the traffic views. */
  readonly view = $derived.by((): Route => {
    if (this.session.mode === 'disconnected') return this.route === 'offline' ? 'offline' : 'connect';
    if (this.session.mode === 'offline' && !ROUTES.find((r) => r.route === this.route)?.offline) return 'explorer';
    return this.route === 'connect' ? 'overview' : this.route;
  });

  /** Forget what came from the previous source (another PCE, a snapshot). */
  reset(): void {
    this.explorer.flows = [];
    this.explorer.query = undefined;
    this.explorer.hasDraft = false;
    this.explorer.ranAt = undefined;
    this.map.groups = undefined;
    this.map.selected = undefined;
    this.map.edgeFlows = [];
  }

  go(route: Route): void {
    this.route = route;
    if (typeof location !== 'undefined' && location.hash !== `#/${route}`) location.hash = `#/${route}`;
  }
}

const KEY = Symbol('console');
export const setConsole = (c: ConsoleState): ConsoleState => setContext(KEY, c);
export const getConsole = (): ConsoleState => getContext<ConsoleState>(KEY);
