// SPDX-License-Identifier: Apache-2.0
// Copyright The Bulkhead Authors

/**
 * @module
 * The lab API server's storage: every object of every served kind, one
 * cluster-wide resourceVersion counter (as etcd's revision), a bounded
 * window of past events for watches that resume, and a JSON file on disk
 * (written shortly after each change, atomically) so a restarted lab finds
 * its objects again.
 *
 * Semantics kept from the real API server: uid, resourceVersion,
 * creationTimestamp and generation are the server's; an update carrying a
 * stale resourceVersion is a 409 Conflict; a watch from a resourceVersion
 * older than the window is 410 Expired; deleting a namespace deletes what
 * is in it; deleting an owner deletes its dependents (background cascade);
 * a watch with a selector sees an object leave (DELETED) or enter (ADDED)
 * its selection. Deletion is immediate (no grace period, no finalizers):
 * what the lab does not emulate.
 */
import { randomUUID } from 'node:crypto';
import { existsSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { ApiError, notFound } from './errors.js';
import { jsonPatch, mergePatch, PatchError, type JsonPatchOp } from './patch.js';
import { apiVersionOf, RESOURCES, resourceKey, type KObject, type ResourceType } from './resources.js';
import { parseFieldSelector, parseLabelSelector, SelectorError } from './selectors.js';

export type EventType = 'ADDED' | 'MODIFIED' | 'DELETED';

export interface StoreEvent {
  type: EventType;
  rv: number;
  resource: ResourceType;
  object: KObject;
  /** The object before this change (MODIFIED, DELETED). */
  old?: KObject;
}

export interface Query {
  namespace?: string;
  labelSelector?: string;
  fieldSelector?: string;
}

export interface WatchHandle {
  stop(): void;
}

const DNS1123_SUBDOMAIN = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;
const DNS1123_LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;

const keyOf = (ns: string | undefined, name: string): string => `${ns ?? ''}/${name}`;

export interface StoreOptions {
  file?: string;
  /** Events kept for watches that resume (older resourceVersions get 410). */
  window?: number;
  /** Called after create to fill server-side defaults (cluster IPs...). */
  defaulter?: (r: ResourceType, obj: KObject) => void;
}

export class Store {
  #rv = 0;
  /** resourceVersions above this are in the event window. */
  #floor = 0;
  readonly #objects = new Map<string, Map<string, KObject>>();
  #events: StoreEvent[] = [];
  readonly #watchers = new Set<(e: StoreEvent) => void>();
  readonly #window: number;
  readonly #file?: string;
  readonly #defaulter?: StoreOptions['defaulter'];
  #saveTimer?: NodeJS.Timeout;

  constructor(opts: StoreOptions = {}) {
    this.#window = opts.window ?? 10_000;
    this.#file = opts.file;
    this.#defaulter = opts.defaulter;
    for (const r of RESOURCES) this.#objects.set(resourceKey(r), new Map());
    if (this.#file && existsSync(this.#file)) this.#load(this.#file);
  }

  get resourceVersion(): number {
    return this.#rv;
  }

  #load(file: string): void {
    const data = JSON.parse(readFileSync(file, 'utf8')) as { rv: number; objects: Record<string, KObject[]> };
    this.#rv = data.rv;
    this.#floor = data.rv; // history is not kept across restarts: older watches get 410
    for (const [k, list] of Object.entries(data.objects)) {
      const m = this.#objects.get(k);
      if (m) for (const o of list) m.set(keyOf(o.metadata.namespace, o.metadata.name), o);
    }
  }

  /** Write the state file now (also called on shutdown). */
  flush(): void {
    if (this.#saveTimer) clearTimeout(this.#saveTimer);
    this.#saveTimer = undefined;
    if (!this.#file) return;
    const objects: Record<string, KObject[]> = {};
    for (const [k, m] of this.#objects) objects[k] = [...m.values()];
    const tmp = `${this.#file}.tmp`;
    writeFileSync(tmp, JSON.stringify({ rv: this.#rv, objects }));
    renameSync(tmp, this.#file);
  }

  #scheduleSave(): void {
    if (!this.#file || this.#saveTimer) return;
    this.#saveTimer = setTimeout(() => this.flush(), 100);
    this.#saveTimer.unref?.();
  }

  #map(r: ResourceType): Map<string, KObject> {
    return this.#objects.get(resourceKey(r))!;
  }

  #emit(type: EventType, r: ResourceType, object: KObject, old?: KObject): void {
    const e: StoreEvent = { type, rv: this.#rv, resource: r, object, old };
    this.#events.push(e);
    if (this.#events.length > this.#window) {
      const drop = this.#events.length - this.#window;
      this.#floor = this.#events[drop - 1]!.rv;
      this.#events = this.#events.slice(drop);
    }
    this.#scheduleSave();
    for (const w of [...this.#watchers]) w(e);
  }

  /**
   * Forget the event history (what etcd compaction does): a watch resuming
   * from any resourceVersion handed out so far gets 410. The counter moves
   * on by one (like etcd's compaction revision), so a relist hands out a
   * version that can be watched from again.
   */
  compact(): void {
    this.#rv += 1;
    this.#events = [];
    this.#floor = this.#rv;
    this.#scheduleSave();
  }

  #predicate(r: ResourceType, q: Query): (o: KObject) => boolean {
    try {
      const lp = parseLabelSelector(q.labelSelector);
      const fp = parseFieldSelector(q.fieldSelector, ['metadata.name', 'metadata.namespace', ...(r.fields ?? [])]);
      return (o) =>
        (q.namespace === undefined || o.metadata.namespace === q.namespace) && lp(o.metadata.labels) && fp(o);
    } catch (err) {
      if (err instanceof SelectorError) throw new ApiError('BadRequest', err.message);
      throw err;
    }
  }

  #withType(r: ResourceType, o: KObject): KObject {
    return { apiVersion: apiVersionOf(r), kind: r.kind, ...o };
  }

  list(r: ResourceType, q: Query = {}): { items: KObject[]; resourceVersion: string } {
    const pred = this.#predicate(r, q);
    const items = [...this.#map(r).values()]
      .filter(pred)
      .sort((a, b) =>
        keyOf(a.metadata.namespace, a.metadata.name).localeCompare(keyOf(b.metadata.namespace, b.metadata.name)),
      )
      .map((o) => structuredClone(o));
    return { items, resourceVersion: String(this.#rv) };
  }

  get(r: ResourceType, namespace: string | undefined, name: string): KObject {
    const o = this.#map(r).get(keyOf(r.namespaced ? namespace : undefined, name));
    if (!o) throw notFound(r.plural, r.group, name);
    return structuredClone(o);
  }

  tryGet(r: ResourceType, namespace: string | undefined, name: string): KObject | undefined {
    const o = this.#map(r).get(keyOf(r.namespaced ? namespace : undefined, name));
    return o ? structuredClone(o) : undefined;
  }

  #checkTypeAndNamespace(r: ResourceType, obj: KObject, namespace: string | undefined): void {
    if (!obj || typeof obj !== 'object' || typeof obj.metadata !== 'object' || obj.metadata === null)
      throw new ApiError('BadRequest', `the body must be a ${r.kind} object with metadata`);
    if (obj.kind !== undefined && obj.kind !== r.kind)
      throw new ApiError(
        'BadRequest',
        `the kind of the object (${String(obj.kind)}) does not match the request (${r.kind})`,
      );
    if (obj.apiVersion !== undefined && obj.apiVersion !== apiVersionOf(r))
      throw new ApiError(
        'BadRequest',
        `the apiVersion of the object (${String(obj.apiVersion)}) does not match the request (${apiVersionOf(r)})`,
      );
    if (r.namespaced) {
      if (obj.metadata.namespace && namespace && obj.metadata.namespace !== namespace)
        throw new ApiError(
          'BadRequest',
          'the namespace of the provided object does not match the namespace sent on the request',
        );
    }
  }

  create(r: ResourceType, namespace: string | undefined, body: KObject): KObject {
    this.#checkTypeAndNamespace(r, body, namespace);
    const obj = structuredClone(body);
    delete obj.apiVersion;
    delete obj.kind;
    const meta = obj.metadata;
    if (!meta.name && meta.generateName) meta.name = meta.generateName + randomUUID().replace(/-/g, '').slice(0, 5);
    const causes: { field: string; message: string }[] = [];
    const nameRe = r.plural === 'namespaces' || r.plural === 'services' ? DNS1123_LABEL : DNS1123_SUBDOMAIN;
    if (!meta.name) causes.push({ field: 'metadata.name', message: 'name or generateName is required' });
    else if (!nameRe.test(meta.name) || meta.name.length > (nameRe === DNS1123_LABEL ? 63 : 253))
      causes.push({
        field: 'metadata.name',
        message: `a lowercase RFC 1123 ${nameRe === DNS1123_LABEL ? 'label' : 'subdomain'} is required`,
      });
    if (causes.length)
      throw new ApiError(
        'Invalid',
        `${r.kind} "${meta.name ?? ''}" is invalid: ${causes.map((c) => `${c.field}: ${c.message}`).join('; ')}`,
        {
          name: meta.name,
          group: r.group,
          kind: r.kind,
          causes,
        },
      );
    if (r.namespaced) {
      meta.namespace = namespace ?? meta.namespace ?? 'default';
      if (!this.#map(RESOURCES[0]!).has(keyOf(undefined, meta.namespace)))
        throw new ApiError('NotFound', `namespaces "${meta.namespace}" not found`, {
          name: meta.namespace,
          kind: 'namespaces',
        });
    } else delete meta.namespace;
    const m = this.#map(r);
    const key = keyOf(meta.namespace, meta.name);
    if (m.has(key))
      throw new ApiError('AlreadyExists', `${r.plural}${r.group ? '.' + r.group : ''} "${meta.name}" already exists`, {
        name: meta.name,
        group: r.group,
        kind: r.plural,
      });
    meta.uid = randomUUID();
    meta.creationTimestamp = new Date().toISOString().replace(/\.\d{3}Z$/, 'Z');
    meta.generation = 1;
    delete meta.resourceVersion;
    delete meta.deletionTimestamp;
    this.#defaulter?.(r, obj);
    meta.resourceVersion = String(++this.#rv);
    m.set(key, obj);
    this.#emit('ADDED', r, obj);
    return this.#withType(r, structuredClone(obj));
  }

  /** PUT: replace; `subresource` 'status' changes only status, the main resource keeps status when the kind has one. */
  update(r: ResourceType, namespace: string | undefined, name: string, body: KObject, subresource?: 'status'): KObject {
    this.#checkTypeAndNamespace(r, body, namespace);
    if (body.metadata.name && body.metadata.name !== name)
      throw new ApiError(
        'BadRequest',
        `the name of the object (${body.metadata.name}) does not match the name on the URL (${name})`,
      );
    const m = this.#map(r);
    const key = keyOf(r.namespaced ? namespace : undefined, name);
    const cur = m.get(key);
    if (!cur) throw notFound(r.plural, r.group, name);
    if (body.metadata.resourceVersion && body.metadata.resourceVersion !== cur.metadata.resourceVersion)
      throw new ApiError(
        'Conflict',
        `Operation cannot be fulfilled on ${r.plural}${r.group ? '.' + r.group : ''} "${name}": the object has been modified; please apply your changes to the latest version and try again`,
        { name, group: r.group, kind: r.plural },
      );
    let next: KObject;
    if (subresource === 'status') {
      next = { ...structuredClone(cur), status: structuredClone(body.status ?? {}) };
    } else {
      next = structuredClone(body);
      delete next.apiVersion;
      delete next.kind;
      if (r.status) next.status = structuredClone(cur.status);
      next.metadata = {
        ...next.metadata,
        name: cur.metadata.name,
        namespace: cur.metadata.namespace,
        uid: cur.metadata.uid,
        creationTimestamp: cur.metadata.creationTimestamp,
        generation: cur.metadata.generation,
      };
      if (!r.namespaced) delete next.metadata.namespace;
      if (JSON.stringify(next.spec) !== JSON.stringify(cur.spec))
        next.metadata.generation = (cur.metadata.generation ?? 1) + 1;
    }
    const unchanged =
      JSON.stringify({ ...next, metadata: { ...next.metadata, resourceVersion: undefined } }) ===
      JSON.stringify({ ...cur, metadata: { ...cur.metadata, resourceVersion: undefined } });
    if (unchanged) return this.#withType(r, structuredClone(cur)); // a no-op write bumps nothing, as in Kubernetes
    next.metadata.resourceVersion = String(++this.#rv);
    m.set(key, next);
    this.#emit('MODIFIED', r, next, cur);
    return this.#withType(r, structuredClone(next));
  }

  patch(
    r: ResourceType,
    namespace: string | undefined,
    name: string,
    contentType: string,
    body: unknown,
    subresource?: 'status',
  ): KObject {
    const cur = this.get(r, namespace, name);
    let next: unknown;
    try {
      if (contentType.startsWith('application/json-patch+json')) next = jsonPatch(cur, body as JsonPatchOp[]);
      else if (
        contentType.startsWith('application/merge-patch+json') ||
        contentType.startsWith('application/strategic-merge-patch+json')
      )
        next = mergePatch(cur, body);
      else
        throw new ApiError(
          'UnsupportedMediaType',
          `the body of the request was in an unknown format - accepted media types include: application/json-patch+json, application/merge-patch+json, application/strategic-merge-patch+json`,
        );
    } catch (err) {
      if (err instanceof PatchError) throw new ApiError('BadRequest', err.message);
      throw err;
    }
    const obj = next as KObject;
    if (!obj || typeof obj !== 'object' || !obj.metadata)
      throw new ApiError('BadRequest', 'the patch removed metadata');
    // A patch's resourceVersion is a precondition only when the patch sets it.
    const rvInPatch = (body as KObject | undefined)?.metadata?.resourceVersion;
    if (!rvInPatch || Array.isArray(body)) obj.metadata.resourceVersion = undefined;
    if (r.status && subresource !== 'status') return this.update(r, namespace, name, obj);
    return this.update(r, namespace, name, obj, subresource);
  }

  delete(r: ResourceType, namespace: string | undefined, name: string): KObject {
    const m = this.#map(r);
    const key = keyOf(r.namespaced ? namespace : undefined, name);
    const cur = m.get(key);
    if (!cur) throw notFound(r.plural, r.group, name);
    if (r.plural === 'namespaces') {
      for (const other of RESOURCES)
        if (other.namespaced)
          for (const o of [...this.#map(other).values()]) if (o.metadata.namespace === name) this.#deleteOne(other, o);
    }
    const gone = this.#deleteOne(r, cur);
    return this.#withType(r, gone);
  }

  #deleteOne(r: ResourceType, cur: KObject): KObject {
    const m = this.#map(r);
    const key = keyOf(cur.metadata.namespace, cur.metadata.name);
    if (!m.has(key)) return cur;
    m.delete(key);
    const gone = structuredClone(cur);
    gone.metadata.resourceVersion = String(++this.#rv);
    this.#emit('DELETED', r, gone, cur);
    // Background cascade: dependents go with their owner.
    const uid = cur.metadata.uid;
    for (const other of RESOURCES)
      for (const o of [...this.#map(other).values()])
        if (o.metadata.ownerReferences?.some((ref) => ref.uid === uid)) this.#deleteOne(other, o);
    return gone;
  }

  /**
   * Watch `r` from `fromRv` ('' or '0': the current state as ADDED events
   * first). Events are filtered by the query, an object moving out of the
   * selection is DELETED and moving in is ADDED. Throws 410 Expired when
   * `fromRv` is older than the event window.
   */
  watch(r: ResourceType, q: Query, fromRv: string, send: (type: EventType, obj: KObject) => void): WatchHandle {
    const pred = this.#predicate(r, q);
    const deliver = (e: StoreEvent): void => {
      if (e.resource !== r) return;
      const now = pred(e.object);
      const before = e.old ? pred(e.old) : false;
      let type: EventType | undefined;
      if (e.type === 'ADDED') type = now ? 'ADDED' : undefined;
      else if (e.type === 'DELETED') type = before || now ? 'DELETED' : undefined;
      else if (now && before) type = 'MODIFIED';
      else if (now) type = 'ADDED';
      else if (before) type = 'DELETED';
      if (type) send(type, this.#withType(r, structuredClone(e.object)));
    };
    if (fromRv === '' || fromRv === '0') {
      for (const o of this.list(r, q).items) send('ADDED', this.#withType(r, o));
    } else {
      const n = Number(fromRv);
      if (!Number.isInteger(n) || n < 0)
        throw new ApiError('BadRequest', `resourceVersion "${fromRv}" is not a number`);
      if (n < this.#floor) throw new ApiError('Expired', `too old resource version: ${n} (${this.#floor})`);
      for (const e of this.#events) if (e.rv > n) deliver(e);
    }
    this.#watchers.add(deliver);
    return { stop: () => this.#watchers.delete(deliver) };
  }

  /** In-process subscription to every change (controllers, kubelets). */
  subscribe(fn: (e: StoreEvent) => void): () => void {
    this.#watchers.add(fn);
    return () => this.#watchers.delete(fn);
  }
}
