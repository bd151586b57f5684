// SPDX-License-Identifier: Apache-2.0
// Copyright The Bulkhead Authors

/**
 * @module
 * The chart tests' `helm template`: builds tests/chart/render (Go
 * text/template + sprig from Debian's packages; no helm binary exists here)
 * once per process, runs it over chart/bulkhead with value files, and parses
 * what it renders into objects.
 *
 * Owns: building and calling the renderer, the kubernetes-models class of
 * each kind the chart renders, and reading back a container's environment.
 * Must not: emulate Helm itself (render/main.go does, and says what it leaves out).
 */
import { execFile, execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { fileURLToPath } from 'node:url';
import { parseAllDocuments, stringify } from 'yaml';
import { ClusterRole } from 'kubernetes-models/rbac.authorization.k8s.io/v1/ClusterRole';
import { ClusterRoleBinding } from 'kubernetes-models/rbac.authorization.k8s.io/v1/ClusterRoleBinding';
import { DaemonSet } from 'kubernetes-models/apps/v1/DaemonSet';
import { Deployment } from 'kubernetes-models/apps/v1/Deployment';
import { ConfigMap } from 'kubernetes-models/v1/ConfigMap';
import { Pod } from 'kubernetes-models/v1/Pod';
import { Secret } from 'kubernetes-models/v1/Secret';
import { ServiceAccount } from 'kubernetes-models/v1/ServiceAccount';

const run = promisify(execFile);

export const REPO = fileURLToPath(new URL('../../', import.meta.url));
export const CHART = join(REPO, 'chart', 'bulkhead');
export const VALUES = join(REPO, 'tests', 'chart', 'values');
const RENDER_SRC = join(REPO, 'tests', 'chart', 'render');

/** Rendered YAML, read by tests field by field: loosely typed on purpose (the schemas check it). */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type Loose = any;

/** A Kubernetes object as rendered. */
export type K8sObject = {
  apiVersion: string;
  kind: string;
  metadata: { name: string; [k: string]: Loose };
  [k: string]: Loose;
};

export interface Rendered {
  /** Every object, in template order. */
  objects: K8sObject[];
  /** Objects by template path inside the chart (`templates/cven/daemonset.yaml`). */
  byTemplate: Map<string, K8sObject[]>;
  notes: string;
}

/** The kinds the chart renders and their kubernetes-models classes (a kind not here fails the test). */
export const MODELS: Record<string, { validate(obj: unknown): void }> = {
  'apps/v1/DaemonSet': { validate: (o) => new DaemonSet(o as never).validate() },
  'apps/v1/Deployment': { validate: (o) => new Deployment(o as never).validate() },
  'v1/ServiceAccount': { validate: (o) => new ServiceAccount(o as never).validate() },
  'v1/Secret': { validate: (o) => new Secret(o as never).validate() },
  'v1/ConfigMap': { validate: (o) => new ConfigMap(o as never).validate() },
  'v1/Pod': { validate: (o) => new Pod(o as never).validate() },
  'rbac.authorization.k8s.io/v1/ClusterRole': { validate: (o) => new ClusterRole(o as never).validate() },
  'rbac.authorization.k8s.io/v1/ClusterRoleBinding': {
    validate: (o) => new ClusterRoleBinding(o as never).validate(),
  },
};

let binary: string | undefined;

/**
 * Build the renderer (Go in GOPATH mode against Debian's /usr/share/gocode:
 * offline, no module download). Cached by the source's hash.
 */
export function buildRenderer(): string {
  if (binary) return binary;
  const src = readFileSync(join(RENDER_SRC, 'main.go'));
  const hash = createHash('sha256').update(src).digest('hex').slice(0, 12);
  const dir = join(tmpdir(), 'bh-chart-render');
  const out = join(dir, `render-${hash}`);
  if (!existsSync(out)) {
    mkdirSync(dir, { recursive: true });
    const tmp = `${out}.${process.pid}`;
    execFileSync('go', ['build', '-o', tmp, '.'], {
      cwd: RENDER_SRC,
      env: {
        ...process.env,
        GO111MODULE: 'off',
        GOPATH: '/usr/share/gocode',
        GOFLAGS: '',
        GOCACHE: join(dir, 'gocache'),
      },
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    renameSync(tmp, out); // atomic: a concurrent test never runs a half-written binary
  }
  binary = out;
  return out;
}

/** Write values (an object) to a temporary file for `-f`. */
export function valuesFile(values: unknown): string {
  const dir = mkdtempSync(join(tmpdir(), 'bh-chart-values-'));
  const file = join(dir, 'values.yaml');
  writeFileSync(file, stringify(values));
  return file;
}

/** Remove the temporary value files' directories. */
export function removeValuesFile(file: string): void {
  rmSync(join(file, '..'), { recursive: true, force: true });
}

/** The outcome of one render: the objects, or Helm's error text. */
export type Outcome = { ok: true; rendered: Rendered } | { ok: false; error: string };

/** Render the chart with value files (later ones win), as `helm template -f a -f b` would. */
export async function render(files: string[], opts: { namespace?: string; name?: string } = {}): Promise<Outcome> {
  const args = ['-chart', CHART, ...files.flatMap((f) => ['-f', f])];
  if (opts.namespace) args.push('-namespace', opts.namespace);
  if (opts.name) args.push('-name', opts.name);
  try {
    const { stdout } = await run(buildRenderer(), args, { maxBuffer: 16 << 20 });
    return { ok: true, rendered: parseRendered(stdout) };
  } catch (err) {
    const e = err as { stderr?: string; code?: number };
    if (e.code !== 1 || !e.stderr) throw err;
    return { ok: false, error: e.stderr };
  }
}

/** Render and insist on success. */
export async function renderOk(files: string[], opts: { namespace?: string; name?: string } = {}): Promise<Rendered> {
  const r = await render(files, opts);
  if (!r.ok) throw new Error(`the chart did not render:\n${r.error}`);
  return r.rendered;
}

function parseRendered(stdout: string): Rendered {
  const out = JSON.parse(stdout) as { manifests: { name: string; content: string }[] | null; notes: string };
  const objects: K8sObject[] = [];
  const byTemplate = new Map<string, K8sObject[]>();
  for (const m of out.manifests ?? []) {
    const docs = parseAllDocuments(m.content);
    const list: K8sObject[] = [];
    for (const d of docs) {
      if (d.errors.length) throw new Error(`${m.name}: not YAML: ${d.errors[0]!.message}`);
      const obj = d.toJS() as K8sObject | null;
      if (obj !== null) list.push(obj);
    }
    byTemplate.set(m.name.replace(/^bulkhead\//, ''), list);
    objects.push(...list);
  }
  return { objects, byTemplate, notes: out.notes };
}

/** The one object of a kind (and name suffix), or a failure naming what was there. */
export function one(r: Rendered, kind: string, nameEndsWith = ''): K8sObject {
  const hits = r.objects.filter((o) => o.kind === kind && o.metadata.name.endsWith(nameEndsWith));
  if (hits.length !== 1)
    throw new Error(
      `want one ${kind}${nameEndsWith ? ` *${nameEndsWith}` : ''}, got ${hits.length} (${r.objects.map((o) => `${o.kind}/${o.metadata.name}`).join(', ')})`,
    );
  return hits[0]!;
}

/** A workload's first container. */
export function containerOf(workload: K8sObject): Loose {
  return workload.spec.template.spec.containers[0];
}

/** env of a container as name → entry (value or valueFrom). */
export function envOf(container: {
  env?: { name: string; value?: string; valueFrom?: unknown }[];
}): Map<string, { value?: string; valueFrom?: unknown }> {
  const m = new Map<string, { value?: string; valueFrom?: unknown }>();
  for (const e of container.env ?? []) {
    if (m.has(e.name)) throw new Error(`env ${e.name} is set twice`);
    m.set(e.name, e);
  }
  return m;
}
