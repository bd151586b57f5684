// SPDX-License-Identifier: Apache-2.0
// Copyright The Bulkhead Authors

/**
 * @module
 * The lab Kubernetes API server over HTTPS (Fastify): discovery, and for
 * every served kind list (with label and field selectors), watch (chunked
 * JSON lines: ADDED, MODIFIED, DELETED, BOOKMARK, and ERROR with a 410
 * Status for an expired resourceVersion, as the real server does), get,
 * create, update, patch (JSON, merge, strategic-as-merge), delete, and the
 * /status subresource. Errors are `Status` objects. Every route but
 * /healthz, /livez, /readyz and /version needs the lab's bearer token.
 *
 * Lab-only routes under /lab/v1 (token required) inject faults for tests:
 * `POST /lab/v1/compact` (forget watch history: resumes get 410) and
 * `POST /lab/v1/cut-watches` (end every open watch stream).
 */
import { timingSafeEqual } from 'node:crypto';
import Fastify, { type FastifyInstance, type FastifyReply, type FastifyRequest } from 'fastify';
import { ApiError } from './errors.js';
import { apiVersionOf, RESOURCES, resourceByPath, type KObject, type ResourceType } from './resources.js';
import type { Store } from './store.js';

export interface ServerOptions {
  store: Store;
  token: string;
  tls?: { cert: string; key: string };
  /** How often a watch that asked for bookmarks gets one. */
  bookmarkMs?: number;
  /** Address clients should use (discovery's serverAddressByClientCIDRs). */
  advertise?: string;
  logger?: boolean;
}

const GROUP_VERSIONS = [...new Set(RESOURCES.filter((r) => r.group).map((r) => `${r.group}/${r.version}`))];

function resourceList(groupVersion: string): Record<string, unknown> {
  return {
    kind: 'APIResourceList',
    apiVersion: 'v1',
    groupVersion,
    resources: RESOURCES.filter((r) => apiVersionOf(r) === groupVersion).flatMap((r) => [
      {
        name: r.plural,
        singularName: r.singular,
        namespaced: r.namespaced,
        kind: r.kind,
        verbs: ['create', 'delete', 'get', 'list', 'patch', 'update', 'watch'],
        ...(r.shortNames ? { shortNames: r.shortNames } : {}),
      },
      ...(r.status
        ? [
            {
              name: `${r.plural}/status`,
              singularName: '',
              namespaced: r.namespaced,
              kind: r.kind,
              verbs: ['get', 'patch', 'update'],
            },
          ]
        : []),
    ]),
  };
}

interface Target {
  r: ResourceType;
  namespace?: string;
  name?: string;
  subresource?: 'status';
}

/** Map the path after /api/v1 or /apis/G/V to a resource, namespace, name and subresource. */
function parseTarget(group: string, version: string, segs: string[]): Target {
  const bad = (): never => {
    throw new ApiError('NotFound', `the server could not find the requested resource`);
  };
  const find = (plural: string | undefined): ResourceType =>
    (plural && resourceByPath(group, version, plural)) || bad();
  const sub = (s: string | undefined): 'status' | undefined => {
    if (s === undefined) return undefined;
    if (s === 'status') return 'status';
    return bad();
  };
  if (segs[0] === 'namespaces' && segs.length >= 3 && segs[2] !== 'status') {
    const r = find(segs[2]);
    if (!r.namespaced || segs.length > 5) bad();
    return { r, namespace: segs[1], name: segs[3], subresource: sub(segs[4]) };
  }
  const r = find(segs[0]);
  if (segs.length > 3) bad();
  if (r.namespaced && segs.length > 1) bad();
  return { r, name: segs[1], subresource: sub(segs[2]) };
}

export function buildApiServer(opts: ServerOptions): { app: FastifyInstance; cutWatches: () => void } {
  const { store } = opts;
  const app = Fastify({
    logger: opts.logger ?? false,
    ...(opts.tls ? { https: { cert: opts.tls.cert, key: opts.tls.key } } : {}),
    bodyLimit: 8 * 1024 * 1024,
    forceCloseConnections: true, // watch streams and keep-alive clients must not hold close() up
  }) as unknown as FastifyInstance;
  const watches = new Set<() => void>();
  const token = Buffer.from(opts.token);

  for (const ct of [
    'application/merge-patch+json',
    'application/strategic-merge-patch+json',
    'application/json-patch+json',
  ])
    app.addContentTypeParser(ct, { parseAs: 'string' }, (_req, body, done) => {
      try {
        done(null, JSON.parse(body as string));
      } catch {
        done(new ApiError('BadRequest', 'the request body is not valid JSON'), undefined);
      }
    });

  app.setErrorHandler((err: Error & { statusCode?: number }, _req, reply) => {
    let e: ApiError;
    if (err instanceof ApiError) e = err;
    else if (err.statusCode === 415) e = new ApiError('UnsupportedMediaType', err.message);
    else if (err.statusCode && err.statusCode < 500) e = new ApiError('BadRequest', err.message);
    else e = new ApiError('InternalError', `internal error: ${err.message}`);
    void reply.code(e.code).send(e.toStatus());
  });
  app.setNotFoundHandler((_req, reply) => {
    const e = new ApiError('NotFound', 'the server could not find the requested resource');
    void reply.code(404).send(e.toStatus());
  });

  const open = new Set(['/healthz', '/livez', '/readyz', '/version']);
  app.addHook('onRequest', async (req) => {
    const path = req.url.split('?')[0]!;
    if (open.has(path)) return;
    const h = req.headers.authorization ?? '';
    const given = Buffer.from(h.startsWith('Bearer ') ? h.slice(7) : '');
    if (given.length !== token.length || !timingSafeEqual(given, token))
      throw new ApiError('Unauthorized', 'Unauthorized');
  });

  for (const p of ['/healthz', '/livez', '/readyz']) app.get(p, async () => 'ok');
  app.get('/version', async () => ({
    major: '1',
    minor: '31',
    gitVersion: 'v1.31.0-bulkhead-lab',
    platform: 'linux/amd64',
  }));
  app.get('/api', async () => ({
    kind: 'APIVersions',
    versions: ['v1'],
    serverAddressByClientCIDRs: [{ clientCIDR: '0.0.0.0/0', serverAddress: opts.advertise ?? '' }],
  }));
  app.get('/api/v1', async () => resourceList('v1'));
  const groupOf = (gv: string): Record<string, unknown> => {
    const [g, v] = gv.split('/');
    return {
      name: g,
      versions: [{ groupVersion: gv, version: v }],
      preferredVersion: { groupVersion: gv, version: v },
    };
  };
  app.get('/apis', async () => ({ kind: 'APIGroupList', apiVersion: 'v1', groups: GROUP_VERSIONS.map(groupOf) }));
  for (const gv of GROUP_VERSIONS) {
    app.get(`/apis/${gv.split('/')[0]}`, async () => ({ kind: 'APIGroup', apiVersion: 'v1', ...groupOf(gv) }));
    app.get(`/apis/${gv}`, async () => resourceList(gv));
  }

  app.post('/lab/v1/compact', async () => {
    store.compact();
    return { compactedAt: String(store.resourceVersion) };
  });
  const cutWatches = (): void => {
    for (const end of [...watches]) end();
  };
  app.post('/lab/v1/cut-watches', async () => {
    const n = watches.size;
    cutWatches();
    return { cut: n };
  });

  const handle = async (
    req: FastifyRequest,
    reply: FastifyReply,
    group: string,
    version: string,
    rest: string,
  ): Promise<unknown> => {
    const t = parseTarget(group, version, rest.split('/').filter(Boolean));
    const q = req.query as Record<string, string | undefined>;
    const ns = t.namespace;
    const { r } = t;
    switch (req.method) {
      case 'GET': {
        if (t.name) return store.get(r, ns, t.name);
        const query = { namespace: ns, labelSelector: q.labelSelector, fieldSelector: q.fieldSelector };
        if (q.watch === 'true' || q.watch === '1') return watch(req, reply, r, query, q);
        const { items, resourceVersion } = store.list(r, query);
        return { kind: `${r.kind}List`, apiVersion: apiVersionOf(r), metadata: { resourceVersion }, items };
      }
      case 'POST':
        if (t.name) throw new ApiError('MethodNotAllowed', `POST is not supported on a single ${r.kind}`);
        void reply.code(201);
        return store.create(r, ns, req.body as KObject);
      case 'PUT':
        if (!t.name) throw new ApiError('MethodNotAllowed', `PUT needs a name`);
        return store.update(r, ns, t.name, req.body as KObject, t.subresource);
      case 'PATCH':
        if (!t.name) throw new ApiError('MethodNotAllowed', `PATCH needs a name`);
        return store.patch(r, ns, t.name, req.headers['content-type'] ?? '', req.body, t.subresource);
      case 'DELETE':
        if (!t.name) throw new ApiError('MethodNotAllowed', `deleting a collection is not supported by the lab`);
        return store.delete(r, ns, t.name);
      default:
        throw new ApiError('MethodNotAllowed', `${req.method} is not supported`);
    }
  };

  const watch = (
    req: FastifyRequest,
    reply: FastifyReply,
    r: ResourceType,
    query: { namespace?: string; labelSelector?: string; fieldSelector?: string },
    q: Record<string, string | undefined>,
  ): void => {
    reply.hijack();
    const res = reply.raw;
    res.writeHead(200, { 'content-type': 'application/json', 'cache-control': 'no-cache, private' });
    res.flushHeaders(); // clients wait for the headers before reading events
    const line = (type: string, object: unknown): void => {
      res.write(JSON.stringify({ type, object }) + '\n');
    };
    let handle: { stop(): void } | undefined;
    let timer: NodeJS.Timeout | undefined;
    let bookmarks: NodeJS.Timeout | undefined;
    let ended = false;
    const end = (): void => {
      if (ended) return;
      ended = true;
      handle?.stop();
      if (timer) clearTimeout(timer);
      if (bookmarks) clearInterval(bookmarks);
      watches.delete(end);
      res.end();
    };
    try {
      handle = store.watch(r, query, q.resourceVersion ?? '', (type, obj) => line(type, obj));
    } catch (err) {
      const e = err instanceof ApiError ? err : new ApiError('InternalError', (err as Error).message);
      line('ERROR', e.toStatus());
      end();
      return;
    }
    watches.add(end);
    req.raw.on('close', end);
    const timeout = Number(q.timeoutSeconds ?? 0);
    if (timeout > 0) timer = setTimeout(end, timeout * 1000);
    if (q.allowWatchBookmarks === 'true')
      bookmarks = setInterval(
        () =>
          line('BOOKMARK', {
            kind: r.kind,
            apiVersion: apiVersionOf(r),
            metadata: { resourceVersion: String(store.resourceVersion) },
          }),
        opts.bookmarkMs ?? 30_000,
      );
  };

  app.route({
    method: ['GET', 'POST', 'PUT', 'PATCH', 'DELETE'],
    url: '/api/v1/*',
    handler: (req, reply) => handle(req, reply, '', 'v1', (req.params as { '*': string })['*']),
  });
  app.route({
    method: ['GET', 'POST', 'PUT', 'PATCH', 'DELETE'],
    url: '/apis/:group/:version/*',
    handler: (req, reply) => {
      const p = req.params as { group: string; version: string; '*': string };
      return handle(req, reply, p.group, p.version, p['*']);
    },
  });
  app.addHook('preClose', async () => cutWatches());
  return { app, cutWatches };
}
