// SPDX-License-Identifier: Apache-2.0
// Copyright The Bulkhead Authors

/**
 * @module
 * The session: where the console's data comes from (a PCE, through the one
 * API client, or an offline snapshot), the saved connections (desktop), and
 * the long operations in flight and the messages they leave. Handed down by
 * context (`setSession`/`getSession`).
 */
import { getContext, setContext } from 'svelte';
import { ApiError, PceClient, type Transport } from '../../../common/api.js';
import type { Connection, ConnectionInput } from '../../../common/connections.js';
import type { BulkheadBridge } from '../../../common/ipc.js';
import type { Snapshot } from '../api/snapshot.js';
import { fromIpcError, IpcTransport, WebTransport } from '../api/transports.js';

export type Mode = 'disconnected' | 'online' | 'offline';

export interface Task {
  id: number;
  label: string;
  /** 0..1 when known. */
  progress?: number;
}

export interface Notice {
  id: number;
  kind: 'error' | 'success' | 'info';
  message: string;
  hint?: string;
}

let seq = 0;

export class Session {
  mode = $state<Mode>('disconnected');
  client = $state.raw<PceClient | undefined>(undefined);
  /** What the console talks to: the PCE's URL, or the snapshot's file name. */
  target = $state('');
  username = $state('');
  snapshot = $state.raw<Snapshot | undefined>(undefined);
  connections = $state.raw<Connection[]>([]);
  tasks = $state<Task[]>([]);
  notices = $state<Notice[]>([]);
  readonly isBusy = $derived(this.tasks.length > 0);

  constructor(readonly bridge?: BulkheadBridge) {}

  get isDesktop(): boolean {
    return !!this.bridge;
  }

  /** Run a long operation: shown in progress while it runs; its failure becomes a notice. */
  async run<T>(label: string, fn: (progress: (p: number) => void) => Promise<T>): Promise<T | undefined> {
    const task: Task = { id: ++seq, label };
    this.tasks.push(task);
    try {
      return await fn((p) => {
        const t = this.tasks.find((x) => x.id === task.id);
        if (t) t.progress = p;
      });
    } catch (err) {
      this.fail(err, label);
      return undefined;
    } finally {
      this.tasks = this.tasks.filter((t) => t.id !== task.id);
    }
  }

  fail(err: unknown, doing?: string): void {
    const e = err instanceof ApiError ? err : err instanceof Error ? err : new Error(String(err));
    const hint = e instanceof ApiError ? e.hint : undefined;
    this.notify('error', doing ? `${doing}: ${e.message}` : e.message, hint);
  }

  notify(kind: Notice['kind'], message: string, hint?: string): void {
    const id = ++seq;
    this.notices.push({ id, kind, message, ...(hint ? { hint } : {}) });
    if (this.notices.length > 5) this.notices.shift();
    // Errors stay until dismissed; the rest fade after a while.
    if (kind !== 'error' && typeof setTimeout !== 'undefined') setTimeout(() => this.dismiss(id), 5000);
  }

  dismiss(id: number): void {
    this.notices = this.notices.filter((n) => n.id !== id);
  }

  /** Use a transport once it has answered an authenticated call (so a bad key fails here, not later). */
  async #useTransport(t: Transport, username: string): Promise<void> {
    const client = new PceClient(t);
    await client.get('/orgs/1/container_clusters', { max_results: 1 });
    this.client = client;
    this.target = t.target;
    this.username = username;
    this.snapshot = undefined;
    this.mode = 'online';
    this.notices = []; // what failed on the way here no longer applies
  }

  /** Web console: same-origin requests with this API key (kept in this tab's memory only). */
  async connectWeb(username: string, secret: string): Promise<void> {
    await this.#useTransport(new WebTransport(username.trim(), secret.trim()), username.trim());
  }

  async loadConnections(): Promise<void> {
    if (!this.bridge) return;
    try {
      this.connections = await this.bridge.invoke('bulkhead:connections:list', undefined);
    } catch (err) {
      throw fromIpcError(err);
    }
  }

  async saveConnection(input: ConnectionInput): Promise<Connection> {
    if (!this.bridge) throw new Error('saved connections are a desktop app feature');
    try {
      const c = await this.bridge.invoke('bulkhead:connections:save', input);
      await this.loadConnections();
      return c;
    } catch (err) {
      throw fromIpcError(err);
    }
  }

  async removeConnection(id: string): Promise<void> {
    if (!this.bridge) return;
    await this.bridge.invoke('bulkhead:connections:remove', { id }).catch((err) => {
      throw fromIpcError(err);
    });
    await this.loadConnections();
  }

  /** Desktop app: requests go through the main process, which holds the secret. */
  async connectSaved(c: Connection): Promise<void> {
    if (!this.bridge) throw new Error('saved connections are a desktop app feature');
    await this.#useTransport(new IpcTransport(c.url, c.id, this.bridge), c.username);
  }

  openOffline(s: Snapshot): void {
    this.client = undefined;
    this.snapshot = s;
    this.target = s.name;
    this.username = '';
    this.mode = 'offline';
  }

  disconnect(): void {
    this.client = undefined;
    this.snapshot = undefined;
    this.target = '';
    this.username = '';
    this.mode = 'disconnected';
  }

  /** The client, or a clear error when there is none (offline or disconnected). */
  get pce(): PceClient {
    if (!this.client)
      throw new Error(
        this.mode === 'offline'
          ? 'this view needs a PCE; the console is showing an offline snapshot: connect to a PCE'
          : 'not connected: connect to a PCE first',
      );
    return this.client;
  }
}

const KEY = Symbol('session');
export const setSession = (s: Session): Session => setContext(KEY, s);
export const getSession = (): Session => getContext<Session>(KEY);
