// SPDX-License-Identifier: Apache-2.0
// Copyright The Bulkhead Authors

/**
 * @module
 * The lab's control plane, in the API server's process, acting on the store
 * directly: server-side defaults (service cluster IPs, namespace labels,
 * pod status), the scheduler (spread: the node with the fewest pods), the
 * Deployment and ReplicaSet controllers (pods carry ReplicaSet owner
 * references, ReplicaSets carry Deployment ones), and the EndpointSlice
 * controller. Level-based: any change schedules one pass over everything,
 * which is cheap at lab sizes and repairs any missed event.
 */
import { createHash, randomInt } from 'node:crypto';
import type { Store, StoreEvent } from '../api/store.js';
import { res, type KObject, type ResourceType } from '../api/resources.js';
import { matchLabelSelector, type LabelSelector } from '../api/selectors.js';
import { ApiError } from '../api/errors.js';
import { intToIp, ipToInt } from '../plan.js';

const SAFE = 'bcdfghjklmnpqrstvwxz2456789';
export const randomSuffix = (n = 5): string => Array.from({ length: n }, () => SAFE[randomInt(SAFE.length)]).join('');
const hashOf = (v: unknown, n = 10): string =>
  [...createHash('sha256').update(JSON.stringify(v)).digest()]
    .slice(0, n)
    .map((b) => SAFE[b % SAFE.length])
    .join('');

const POD = res('pods');
const SVC = res('services');
const NS = res('namespaces');
const NODE = res('nodes');
const SLICE = res('endpointslices');
const DEPLOY = res('deployments');
const RS = res('replicasets');

type Spec = Record<string, unknown>;

/** Server-side defaults applied on create (what the real API server and admission fill in). */
export function makeDefaulter(
  serviceCIDR: string,
  store: () => Store | undefined,
): (r: ResourceType, o: KObject) => void {
  const [base, len] = serviceCIDR.split('/');
  const first = ipToInt(base!) + 1;
  const size = 2 ** (32 - Number(len)) - 2;
  return (r, o) => {
    if (r === NS) {
      o.metadata.labels = { ...o.metadata.labels, 'kubernetes.io/metadata.name': o.metadata.name };
      o.spec = { finalizers: ['kubernetes'], ...o.spec };
      o.status = { phase: 'Active' };
    } else if (r === POD) {
      const spec = (o.spec ??= {}) as Spec;
      spec.restartPolicy ??= 'Always';
      spec.dnsPolicy ??= 'ClusterFirst';
      spec.schedulerName ??= 'default-scheduler';
      spec.terminationGracePeriodSeconds ??= 30;
      for (const c of (spec.containers as Spec[] | undefined) ?? []) {
        c.imagePullPolicy ??= 'IfNotPresent';
        for (const p of (c.ports as Spec[] | undefined) ?? []) p.protocol ??= 'TCP';
      }
      o.status = { phase: 'Pending', qosClass: 'BestEffort' };
    } else if (r === SVC) {
      const spec = (o.spec ??= {}) as Spec;
      spec.type ??= 'ClusterIP';
      spec.sessionAffinity ??= 'None';
      for (const p of (spec.ports as Spec[] | undefined) ?? []) {
        p.protocol ??= 'TCP';
        p.targetPort ??= p.port;
      }
      if (spec.clusterIP === undefined || spec.clusterIP === '') {
        const used = new Set((store()?.list(SVC).items ?? []).map((s) => (s.spec as Spec).clusterIP));
        for (let i = 0; i < size; i++) {
          const ip = intToIp(first + ((i + randomInt(size)) % size));
          if (!used.has(ip)) {
            spec.clusterIP = ip;
            break;
          }
        }
        if (!spec.clusterIP) throw new ApiError('InternalError', `no free cluster IP in ${serviceCIDR}`);
      }
      spec.clusterIPs ??= spec.clusterIP === 'None' ? ['None'] : [spec.clusterIP];
      spec.ipFamilies ??= ['IPv4'];
      o.status = { loadBalancer: {} };
    } else if (r === DEPLOY || r === RS) {
      const spec = (o.spec ??= {}) as Spec;
      spec.replicas ??= 1;
      o.status = {};
    }
  };
}

/** Try a write; conflicts and vanished objects are left for the next pass. */
function quietly(fn: () => void): void {
  try {
    fn();
  } catch (err) {
    if (err instanceof ApiError && (err.code === 409 || err.code === 404)) return;
    throw err;
  }
}

export class Controllers {
  #pending?: NodeJS.Timeout;
  #unsubscribe?: () => void;
  #running = false;
  onServicesChanged?: (hosts: Map<string, string[]>) => void;

  constructor(readonly store: Store) {}

  start(): void {
    this.#unsubscribe = this.store.subscribe((e: StoreEvent) => {
      if (e.resource === SLICE) return; // our own output
      this.kick();
    });
    this.kick();
  }

  stop(): void {
    this.#unsubscribe?.();
    if (this.#pending) clearTimeout(this.#pending);
  }

  kick(): void {
    if (this.#pending) return;
    this.#pending = setTimeout(() => {
      this.#pending = undefined;
      this.reconcile();
    }, 10);
  }

  reconcile(): void {
    if (this.#running) return this.kick();
    this.#running = true;
    try {
      this.#deployments();
      this.#replicaSets();
      this.#schedule();
      this.#endpointSlices();
    } catch (err) {
      process.stderr.write(`controllers: ${(err as Error).stack}\n`);
    } finally {
      this.#running = false;
    }
  }

  #schedule(): void {
    const nodes = this.store
      .list(NODE)
      .items.filter((n) => !(n.spec as Spec | undefined)?.unschedulable)
      .map((n) => n.metadata.name);
    if (nodes.length === 0) return;
    const pods = this.store.list(POD).items;
    const load = new Map(nodes.map((n) => [n, 0]));
    for (const p of pods) {
      const n = (p.spec as Spec).nodeName as string | undefined;
      if (n && load.has(n)) load.set(n, load.get(n)! + 1);
    }
    for (const p of pods) {
      const spec = p.spec as Spec;
      if (spec.nodeName) continue;
      const pick = [...load.entries()].sort((a, b) => a[1] - b[1] || a[0].localeCompare(b[0]))[0]![0];
      load.set(pick, load.get(pick)! + 1);
      quietly(() => {
        this.store.update(POD, p.metadata.namespace, p.metadata.name, { ...p, spec: { ...spec, nodeName: pick } });
        const cur = this.store.get(POD, p.metadata.namespace, p.metadata.name);
        const conditions = [{ type: 'PodScheduled', status: 'True', lastTransitionTime: new Date().toISOString() }];
        this.store.update(
          POD,
          p.metadata.namespace,
          p.metadata.name,
          { ...cur, status: { ...cur.status, conditions } },
          'status',
        );
      });
    }
  }

  #deployments(): void {
    for (const d of this.store.list(DEPLOY).items) {
      const spec = d.spec as Spec;
      const template = (spec.template ?? {}) as KObject;
      const hash = hashOf(template);
      const name = `${d.metadata.name}-${hash}`.slice(0, 253);
      const ns = d.metadata.namespace;
      const owned = this.store
        .list(RS, { namespace: ns })
        .items.filter((rs) => rs.metadata.ownerReferences?.some((o) => o.uid === d.metadata.uid));
      for (const old of owned)
        if (old.metadata.name !== name) quietly(() => this.store.delete(RS, ns, old.metadata.name));
      const selector = (spec.selector ?? {}) as LabelSelector;
      const labels = { ...(template.metadata?.labels ?? {}), 'pod-template-hash': hash };
      const want: KObject = {
        metadata: {
          name,
          namespace: ns,
          labels,
          annotations: { 'deployment.kubernetes.io/revision': '1' },
          ownerReferences: [
            {
              apiVersion: 'apps/v1',
              kind: 'Deployment',
              name: d.metadata.name,
              uid: d.metadata.uid!,
              controller: true,
              blockOwnerDeletion: true,
            },
          ],
        },
        spec: {
          replicas: spec.replicas ?? 1,
          selector: { ...selector, matchLabels: { ...(selector.matchLabels ?? {}), 'pod-template-hash': hash } },
          template: { ...template, metadata: { ...(template.metadata ?? {}), labels } },
        },
      };
      const cur = owned.find((o) => o.metadata.name === name);
      quietly(() => {
        if (!cur) this.store.create(RS, ns, want);
        else if ((cur.spec as Spec).replicas !== spec.replicas)
          this.store.update(RS, ns, name, { ...cur, spec: { ...cur.spec, replicas: spec.replicas } });
      });
      const rs = this.store.tryGet(RS, ns, name);
      const st = (rs?.status ?? {}) as Spec;
      const status = {
        observedGeneration: d.metadata.generation,
        replicas: st.replicas ?? 0,
        updatedReplicas: st.replicas ?? 0,
        readyReplicas: st.readyReplicas ?? 0,
        availableReplicas: st.availableReplicas ?? 0,
        conditions: [
          {
            type: 'Available',
            status: Number(st.availableReplicas ?? 0) >= Number(spec.replicas) ? 'True' : 'False',
            reason: 'MinimumReplicasAvailable',
          },
        ],
      };
      quietly(() => this.store.update(DEPLOY, ns, d.metadata.name, { ...d, status }, 'status'));
    }
  }

  #replicaSets(): void {
    const pods = this.store.list(POD).items;
    for (const rs of this.store.list(RS).items) {
      const spec = rs.spec as Spec;
      const ns = rs.metadata.namespace;
      const owned = pods.filter((p) => p.metadata.ownerReferences?.some((o) => o.uid === rs.metadata.uid));
      const want = Number(spec.replicas ?? 1);
      const template = (spec.template ?? {}) as KObject;
      for (let i = owned.length; i < want; i++) {
        quietly(() =>
          owned.push(
            this.store.create(POD, ns, {
              metadata: {
                name: `${rs.metadata.name}-${randomSuffix()}`,
                namespace: ns,
                labels: template.metadata?.labels ?? {},
                annotations: template.metadata?.annotations,
                ownerReferences: [
                  {
                    apiVersion: 'apps/v1',
                    kind: 'ReplicaSet',
                    name: rs.metadata.name,
                    uid: rs.metadata.uid!,
                    controller: true,
                    blockOwnerDeletion: true,
                  },
                ],
              },
              spec: structuredClone(template.spec ?? {}),
            }),
          ),
        );
      }
      if (owned.length > want)
        for (const p of owned.slice(want).reverse()) quietly(() => this.store.delete(POD, ns, p.metadata.name));
      const live = owned.slice(0, want);
      const ready = live.filter((p) => isReady(p)).length;
      const status = {
        replicas: live.length,
        readyReplicas: ready,
        availableReplicas: ready,
        fullyLabeledReplicas: live.length,
        observedGeneration: rs.metadata.generation,
      };
      quietly(() => this.store.update(RS, ns, rs.metadata.name, { ...rs, status }, 'status'));
    }
  }

  #endpointSlices(): void {
    const pods = this.store.list(POD).items;
    const hosts = new Map<string, string[]>();
    const services = this.store.list(SVC).items;
    for (const svc of services) {
      const spec = svc.spec as Spec;
      const ns = svc.metadata.namespace!;
      const sel = spec.selector as Record<string, string> | undefined;
      if (!sel || Object.keys(sel).length === 0) continue;
      const members = pods.filter(
        (p) =>
          p.metadata.namespace === ns &&
          matchLabelSelector({ matchLabels: sel }, p.metadata.labels) &&
          (p.status as Spec | undefined)?.podIP,
      );
      const ports = ((spec.ports as Spec[] | undefined) ?? []).map((sp) => {
        let port = sp.targetPort ?? sp.port;
        if (typeof port === 'string') {
          for (const p of members)
            for (const c of ((p.spec as Spec).containers as Spec[] | undefined) ?? [])
              for (const cp of (c.ports as Spec[] | undefined) ?? []) if (cp.name === port) port = cp.containerPort;
        }
        return {
          name: (sp.name as string | undefined) ?? '',
          port: typeof port === 'number' ? port : Number(port) || 0,
          protocol: sp.protocol ?? 'TCP',
        };
      });
      const endpoints = members.map((p) => {
        const ready = isReady(p);
        return {
          addresses: [(p.status as Spec).podIP as string],
          conditions: { ready, serving: ready, terminating: false },
          nodeName: (p.spec as Spec).nodeName,
          targetRef: { kind: 'Pod', namespace: ns, name: p.metadata.name, uid: p.metadata.uid },
        };
      });
      hosts.set(
        `${svc.metadata.name}.${ns}.svc.cluster.local`,
        endpoints.filter((e) => e.conditions.ready).map((e) => e.addresses[0]!),
      );
      const name = `${svc.metadata.name}-${hashOf(svc.metadata.uid, 5)}`;
      const want: KObject = {
        metadata: {
          name,
          namespace: ns,
          labels: {
            'kubernetes.io/service-name': svc.metadata.name,
            'endpointslice.kubernetes.io/managed-by': 'endpointslice-controller.k8s.io',
          },
          ownerReferences: [
            {
              apiVersion: 'v1',
              kind: 'Service',
              name: svc.metadata.name,
              uid: svc.metadata.uid!,
              controller: true,
              blockOwnerDeletion: true,
            },
          ],
        },
        addressType: 'IPv4',
        endpoints,
        ports,
      };
      const cur = this.store.tryGet(SLICE, ns, name);
      quietly(() => {
        if (!cur) this.store.create(SLICE, ns, want);
        else
          this.store.update(SLICE, ns, name, { ...want, metadata: { ...cur.metadata, labels: want.metadata.labels } });
      });
    }
    this.onServicesChanged?.(hosts);
  }
}

export function isReady(p: KObject): boolean {
  const conds = ((p.status as Spec | undefined)?.conditions as { type: string; status: string }[] | undefined) ?? [];
  return conds.some((c) => c.type === 'Ready' && c.status === 'True');
}
