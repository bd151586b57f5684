// SPDX-License-Identifier: Apache-2.0
// Copyright The Bulkhead Authors

/**
 * @module
 * `lab apply -f` and `lab delete -f`: multi-document YAML (or JSON) to API
 * calls, in file order for apply and reverse order for delete. Apply
 * creates what is missing and replaces what exists (keeping its
 * resourceVersion), printing `kind/name created|configured|unchanged`.
 */
import { readFileSync } from 'node:fs';
import { parseAllDocuments } from 'yaml';
import type { LabApi } from './client.js';
import { apiVersionOf, resourceByKind, type KObject, type ResourceType } from './api/resources.js';

export function parseManifests(text: string, source = 'input'): KObject[] {
  const out: KObject[] = [];
  for (const doc of parseAllDocuments(text)) {
    if (doc.errors.length) throw new Error(`${source}: ${doc.errors[0]!.message}`);
    const v = doc.toJS() as unknown;
    if (v === null || v === undefined) continue;
    const items = (v as { kind?: string; items?: KObject[] }).kind?.endsWith('List')
      ? ((v as { items?: KObject[] }).items ?? [])
      : [v as KObject];
    for (const o of items) {
      if (!o || typeof o !== 'object' || !o.kind || !o.apiVersion || !o.metadata?.name)
        throw new Error(`${source}: every document needs apiVersion, kind and metadata.name`);
      out.push(o);
    }
  }
  return out;
}

function target(o: KObject): { r: ResourceType; path: string; item: string } {
  const r = resourceByKind(String(o.apiVersion), String(o.kind));
  if (!r)
    throw new Error(
      `${String(o.apiVersion)} ${String(o.kind)} "${o.metadata.name}": the lab API server does not serve this kind`,
    );
  const base = r.group ? `/apis/${apiVersionOf(r)}` : '/api/v1';
  const ns = o.metadata.namespace ?? 'default';
  const path = r.namespaced ? `${base}/namespaces/${ns}/${r.plural}` : `${base}/${r.plural}`;
  return { r, path, item: `${path}/${encodeURIComponent(o.metadata.name)}` };
}

const label = (r: ResourceType, o: KObject): string =>
  `${r.singular}${r.group ? '.' + r.group : ''}/${o.metadata.name}`;

async function ok<T>(p: Promise<{ status: number; body: T }>, what: string): Promise<{ status: number; body: T }> {
  const res = await p;
  if (res.status >= 400)
    throw new Error(`${what}: ${(res.body as { message?: string } | undefined)?.message ?? `HTTP ${res.status}`}`);
  return res;
}

export async function applyFile(api: LabApi, file: string, print: (line: string) => void): Promise<void> {
  for (const o of parseManifests(readFileSync(file, 'utf8'), file)) {
    const { r, path, item } = target(o);
    const cur = await api.call<KObject>('GET', item);
    if (cur.status === 404) {
      await ok(api.call('POST', path, o), label(r, o));
      print(`${label(r, o)} created`);
    } else if (cur.status < 400) {
      const body = { ...o, metadata: { ...o.metadata, resourceVersion: cur.body.metadata.resourceVersion } };
      const res = await ok(api.call<KObject>('PUT', item, body), label(r, o));
      print(
        `${label(r, o)} ${res.body.metadata.resourceVersion === cur.body.metadata.resourceVersion ? 'unchanged' : 'configured'}`,
      );
    } else await ok(Promise.resolve(cur), label(r, o));
  }
}

export async function deleteFile(api: LabApi, file: string, print: (line: string) => void): Promise<void> {
  for (const o of parseManifests(readFileSync(file, 'utf8'), file).reverse()) {
    const { r, item } = target(o);
    const res = await api.call('DELETE', item);
    if (res.status === 404) print(`${label(r, o)} not found`);
    else {
      await ok(Promise.resolve(res), label(r, o));
      print(`${label(r, o)} deleted`);
    }
  }
}
