// SPDX-License-Identifier: Apache-2.0
// Copyright The Bulkhead Authors

/**
 * @module
 * Kubelink's loop (sample-controller): informers on nodes, namespaces,
 * pods, services and endpointslices → a keyed queue → level-based
 * reconcile (each key sends the PCE the object's whole current state, or
 * its deletion). Nothing is reported before every informer has synced;
 * then each kind is sent whole once (so what was deleted while Kubelink was
 * away goes), and again after the PCE was unreachable. Informers that fail
 * (cut stream, API server gone) restart with capped backoff and relist.
 *
 * Owns: keys (`<kind>/<namespace>/<name>` or `<kind>/<name>`), the uid last
 * reported per key (to delete by uid once the object left the cache), and
 * the heartbeat. Not on the critical path: pods get policy through their
 * node's C-VEN without it.
 */
import * as k8s from '@kubernetes/client-node';
import type { KubeKind, KubelinkStatus } from '@bulkhead/pce/api';
import { KeyedQueue } from './queue/keyed-queue.js';
import { toKubeNamespace, toKubeNode, toKubePod, toKubeService } from './reconcile/convert.js';
import type { PceReporter } from './report/pce.js';

export const KUBELINK_VERSION = '0.1.0';
export const HEARTBEAT_MS = 5_000;

type Obj = k8s.KubernetesObject;
type Log = (level: 'info' | 'warn' | 'error' | 'debug', msg: string, fields?: Record<string, unknown>) => void;

interface Watched {
  kind: 'nodes' | 'namespaces' | 'pods' | 'services' | 'endpointslices';
  path: string;
  list: () => Promise<k8s.KubernetesListObject<Obj>>;
  informer?: k8s.Informer<Obj> & k8s.ObjectCache<Obj>;
  synced: boolean;
  restarts: number;
  lastErrorAt: number;
}

const cacheKey = (o: Obj): string =>
  o.metadata?.namespace ? `${o.metadata.namespace}/${o.metadata.name}` : o.metadata!.name!;

export interface KubelinkOptions {
  kubeconfig: k8s.KubeConfig;
  pce: PceReporter;
  /** The cluster's service CIDRs, when known (Kubernetes does not list them). */
  serviceNetworks?: string[];
  log: Log;
  workers?: number;
}

export class Kubelink {
  readonly #o: KubelinkOptions;
  readonly #watched: Watched[];
  readonly #queue: KeyedQueue;
  /** Last uid reported per pod/service cache key: deletes go by uid. */
  readonly #reportedUid = new Map<string, string>();
  #synced = false;
  #needResync = true;
  #stopped = false;
  #heartbeat: NodeJS.Timeout | null = null;
  #k8sVersion = '';
  /** Counters for tests and the log. */
  readonly stats = { reports: 0, deletes: 0, fullSyncs: 0, informerRestarts: 0, errors: 0 };

  constructor(o: KubelinkOptions) {
    this.#o = o;
    const core = o.kubeconfig.makeApiClient(k8s.CoreV1Api);
    const discovery = o.kubeconfig.makeApiClient(k8s.DiscoveryV1Api);
    const w = (kind: Watched['kind'], path: string, list: Watched['list']): Watched => ({
      kind,
      path,
      list,
      synced: false,
      restarts: 0,
      lastErrorAt: 0,
    });
    this.#watched = [
      w('nodes', '/api/v1/nodes', () => core.listNode() as never),
      w('namespaces', '/api/v1/namespaces', () => core.listNamespace() as never),
      w('pods', '/api/v1/pods', () => core.listPodForAllNamespaces() as never),
      w('services', '/api/v1/services', () => core.listServiceForAllNamespaces() as never),
      w(
        'endpointslices',
        '/apis/discovery.k8s.io/v1/endpointslices',
        () => discovery.listEndpointSliceForAllNamespaces() as never,
      ),
    ];
    this.#queue = new KeyedQueue((key) => this.#reconcile(key), {
      workers: o.workers ?? 4,
      baseMs: 200,
      capMs: 30_000,
      onError: (key, err, retryInMs) => {
        this.stats.errors++;
        this.#needResync = true;
        o.log('warn', 'report failed; retrying', { key, error: (err as Error).message, retry_in_ms: retryInMs });
      },
    });
  }

  get synced(): boolean {
    return this.#synced;
  }

  /** Start the informers; resolves once all have synced and the first full report is sent (or queued for retry). */
  async start(): Promise<void> {
    await Promise.all(this.#watched.map((w) => this.#startInformer(w)));
    this.#synced = true;
    this.#o.log('info', 'caches synced', {
      objects: Object.fromEntries(this.#watched.map((w) => [w.kind, w.informer!.list().length])),
    });
    await this.#fullSync().catch((err: Error) =>
      this.#o.log('warn', 'first full report failed; retrying', { error: err.message }),
    );
    this.#queue.start();
    await this.#beat();
    this.#heartbeat = setInterval(() => void this.#beat(), HEARTBEAT_MS);
  }

  async stop(): Promise<void> {
    this.#stopped = true;
    if (this.#heartbeat) clearInterval(this.#heartbeat);
    this.#queue.stop();
    await Promise.all(this.#watched.map((w) => w.informer?.stop().catch(() => undefined)));
  }

  /** Nothing queued or retrying (for tests and the benchmark). */
  idle(): Promise<void> {
    return this.#queue.idle();
  }

  async #startInformer(w: Watched): Promise<void> {
    const inf = k8s.makeInformer<Obj>(this.#o.kubeconfig, w.path, w.list);
    w.informer = inf;
    const enqueue = (o: Obj): void => {
      if (!this.#synced) return; // the full sync after the caches sync covers these
      if (w.kind === 'endpointslices') {
        const svc = o.metadata?.labels?.['kubernetes.io/service-name'];
        if (svc) this.#queue.add(`services/${o.metadata!.namespace}/${svc}`);
      } else this.#queue.add(`${w.kind}/${cacheKey(o)}`);
    };
    inf.on('add', enqueue);
    inf.on('update', enqueue);
    inf.on('delete', enqueue);
    inf.on('error', (err: unknown) => {
      if (this.#stopped) return;
      // The backoff grows while failures follow each other; a quiet minute starts it over.
      if (Date.now() - w.lastErrorAt > 60_000) w.restarts = 0;
      w.lastErrorAt = Date.now();
      w.restarts++;
      this.stats.informerRestarts++;
      const delay = Math.min(30_000, 200 * 2 ** Math.min(w.restarts - 1, 10)) * (0.5 + Math.random() / 2);
      this.#o.log('warn', 'watch failed; restarting the informer', {
        kind: w.kind,
        error: String((err as Error)?.message ?? err),
        retry_in_ms: Math.round(delay),
      });
      setTimeout(() => {
        if (this.#stopped) return;
        inf.start().then(
          () => {
            this.#o.log('info', 'informer relisted', { kind: w.kind, objects: inf.list().length });
            // A relist may hide deletions that happened while it was down: the next heartbeat sends every kind whole.
            this.#needResync = true;
          },
          () => undefined, // the error event fires again and schedules the next try
        );
      }, delay).unref();
    });
    // The first list may fail (API server not up yet): retry until it works.
    for (let attempt = 0; !this.#stopped; attempt++) {
      try {
        await inf.start();
        w.synced = true;
        return;
      } catch (err) {
        const delay = Math.min(10_000, 200 * 2 ** attempt);
        this.#o.log('warn', 'initial list failed; retrying', {
          kind: w.kind,
          error: (err as Error).message,
          retry_in_ms: delay,
        });
        await new Promise((r) => setTimeout(r, delay));
      }
    }
  }

  #watchedOf(kind: Watched['kind']): Watched {
    return this.#watched.find((w) => w.kind === kind)!;
  }

  #slicesOf(namespace: string, service: string): k8s.V1EndpointSlice[] {
    return (this.#watchedOf('endpointslices').informer!.list(namespace) as k8s.V1EndpointSlice[]).filter(
      (s) => s.metadata?.labels?.['kubernetes.io/service-name'] === service,
    );
  }

  #convert(kind: KubeKind, o: Obj): unknown {
    switch (kind) {
      case 'nodes':
        return toKubeNode(o as k8s.V1Node);
      case 'namespaces':
        return toKubeNamespace(o as k8s.V1Namespace);
      case 'pods':
        return toKubePod(o as k8s.V1Pod);
      case 'services':
        return toKubeService(o as k8s.V1Service, this.#slicesOf(o.metadata!.namespace!, o.metadata!.name!));
    }
  }

  /** Level-based: send the object's whole current state, or its deletion. */
  async #reconcile(key: string): Promise<void> {
    const slash = key.indexOf('/');
    const kind = key.slice(0, slash) as KubeKind;
    const rest = key.slice(slash + 1);
    const [a, b] = rest.split('/');
    const obj = b === undefined ? this.#watchedOf(kind).informer!.get(a!) : this.#watchedOf(kind).informer!.get(b, a);
    const byUid = kind === 'pods' || kind === 'services';
    const prevUid = this.#reportedUid.get(key);
    if (!obj) {
      const id = byUid ? prevUid : rest;
      if (id) await this.#o.pce.request('DELETE', `/objects/${kind}/${encodeURIComponent(id)}`);
      this.#reportedUid.delete(key);
      this.stats.deletes++;
      return;
    }
    const body = this.#convert(kind, obj) as { uid?: string; name?: string };
    const id = byUid ? body.uid! : body.name!;
    if (byUid && prevUid && prevUid !== id)
      await this.#o.pce.request('DELETE', `/objects/${kind}/${encodeURIComponent(prevUid)}`);
    await this.#o.pce.request('PUT', `/objects/${kind}/${encodeURIComponent(id)}`, body);
    if (byUid) this.#reportedUid.set(key, id);
    this.stats.reports++;
  }

  /** Send every kind whole; the PCE drops what is missing. Namespaces first: profiles before pods. */
  async #fullSync(): Promise<void> {
    for (const kind of ['nodes', 'namespaces', 'pods', 'services'] as const) {
      const items = this.#watchedOf(kind)
        .informer!.list()
        .map((o) => this.#convert(kind, o) as { uid?: string });
      await this.#o.pce.request('PUT', `/objects/${kind}`, { items });
      if (kind === 'pods' || kind === 'services')
        for (const o of this.#watchedOf(kind).informer!.list())
          this.#reportedUid.set(`${kind}/${cacheKey(o)}`, o.metadata!.uid!);
    }
    this.#needResync = false;
    this.stats.fullSyncs++;
    this.#o.log('info', 'full report sent', {});
  }

  async #beat(): Promise<void> {
    if (!this.#synced || this.#stopped) return;
    try {
      if (!this.#k8sVersion) {
        const v = await this.#o.kubeconfig.makeApiClient(k8s.VersionApi).getCode();
        this.#k8sVersion = v.gitVersion;
      }
      const nodes = this.#watchedOf('nodes').informer!.list() as k8s.V1Node[];
      const status: KubelinkStatus = {
        kubelink_version: KUBELINK_VERSION,
        manager_type: `Kubernetes ${this.#k8sVersion}`,
        container_runtime:
          nodes.find((n) => n.status?.nodeInfo?.containerRuntimeVersion)?.status?.nodeInfo?.containerRuntimeVersion ??
          null,
        pod_networks: [
          ...new Set(nodes.flatMap((n) => n.spec?.podCIDRs ?? (n.spec?.podCIDR ? [n.spec.podCIDR] : []))),
        ].sort(),
        service_networks: this.#o.serviceNetworks ?? [],
        synced: this.#synced,
      };
      await this.#o.pce.request('PUT', '/status', status);
      if (this.#needResync) await this.#fullSync();
    } catch (err) {
      this.#needResync = true;
      this.#o.log('warn', 'heartbeat failed; the PCE gets a full report when it is back', {
        error: (err as Error).message,
      });
    }
  }
}
