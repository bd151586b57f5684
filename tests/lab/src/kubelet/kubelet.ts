// SPDX-License-Identifier: Apache-2.0
// Copyright The Bulkhead Authors

/**
 * @module
 * The lab kubelet: one per node, in the lab daemon. It registers the Node
 * object, then keeps the node's containerd equal to the pods bound to it:
 * starts a sandbox (with the pod's labels plus the `io.kubernetes.pod.*`
 * labels and the pod's annotations, as the real kubelet passes them) and its
 * containers through CRI, writes back podIP, phase, conditions and
 * container statuses, restarts exited containers (restartPolicy), and stops
 * and removes the sandboxes of pods that are gone.
 *
 * Level-based: each sync compares the whole desired set with what CRI lists,
 * so a missed event is repaired by the next sync (on change, and every 2 s).
 * Not emulated: probes, volumes, resources, init containers, image pulls
 * (every `busybox` image is the lab's image).
 */
import { mkdirSync } from 'node:fs';
import { release } from 'node:os';
import { join } from 'node:path';
import {
  CriClient,
  sandboxDetails,
  type Container,
  type ContainerStatus,
  type PodSandboxConfig,
  type SandboxDetails,
} from '../cri/client.js';
import { ApiError } from '../api/errors.js';
import { res, type KObject } from '../api/resources.js';
import type { Store } from '../api/store.js';
import { resolveImage } from '../node/image.js';
import type { NodePlan } from '../plan.js';

const POD = res('pods');
const NODE = res('nodes');
const UID_LABEL = 'io.kubernetes.pod.uid';
const RESYNC_MS = 2000;
const CONCURRENCY = 4;

type Spec = Record<string, unknown>;
interface ContainerSpec {
  name: string;
  image: string;
  command?: string[];
  args?: string[];
  workingDir?: string;
  env?: { name: string; value?: string }[];
}

export interface KubeletOptions {
  store: Store;
  node: NodePlan;
  socket: string;
  dir: string;
  machineId: string;
  cgroupParent: string;
  dnsServer?: string;
  log?: (msg: string, fields?: Record<string, unknown>) => void;
}

const now = (): string => new Date().toISOString().replace(/\.\d{3}Z$/, 'Z');

export class Kubelet {
  readonly cri: CriClient;
  #timer?: NodeJS.Timeout;
  #unsubscribe?: () => void;
  #syncing?: Promise<void>;
  #again = false;
  #stopped = false;
  /** uid → earliest next start attempt (ms) after a failure, with the backoff used. */
  readonly #backoff = new Map<string, { at: number; ms: number }>();
  #runtimeVersion = 'containerd://unknown';
  /** A sandbox's IP and netns never change: asked once (verbose status is the costly call). */
  readonly #details = new Map<string, SandboxDetails>();
  /** Container status by id, refreshed when the listed state differs. */
  readonly #containers = new Map<string, ContainerStatus>();

  constructor(readonly opts: KubeletOptions) {
    this.cri = new CriClient(opts.socket);
  }

  get nodeName(): string {
    return this.opts.node.name;
  }

  async start(): Promise<void> {
    const v = await this.cri.version();
    this.#runtimeVersion = `${v.runtimeName}://${v.runtimeVersion}`;
    this.#register();
    this.#unsubscribe = this.opts.store.subscribe((e) => {
      if (e.resource !== POD) return;
      const bound = (o?: KObject): boolean => (o?.spec as Spec | undefined)?.nodeName === this.nodeName;
      if (bound(e.object) || bound(e.old)) this.kick();
    });
    this.#timer = setInterval(() => this.kick(), RESYNC_MS);
    this.kick();
  }

  /** Stop syncing; sandboxes stay (lab down removes them through CRI). */
  async stop(): Promise<void> {
    this.#stopped = true;
    this.#unsubscribe?.();
    if (this.#timer) clearInterval(this.#timer);
    await this.#syncing?.catch(() => undefined);
    this.cri.close();
  }

  #register(): void {
    const { node } = this.opts;
    const want: KObject = {
      metadata: {
        name: node.name,
        labels: {
          'kubernetes.io/hostname': node.name,
          'kubernetes.io/os': 'linux',
          'kubernetes.io/arch': 'amd64',
          'bulkhead.io/lab-node': String(node.index),
        },
        annotations: { 'bulkhead.io/cri-socket': `unix://${this.opts.socket}` },
      },
      spec: { podCIDR: node.podCIDR, podCIDRs: [node.podCIDR] },
    };
    const status = {
      addresses: [
        { type: 'InternalIP', address: node.ip },
        { type: 'Hostname', address: node.name },
      ],
      nodeInfo: {
        machineID: this.opts.machineId,
        systemUUID: this.opts.machineId,
        bootID: this.opts.machineId,
        kernelVersion: release(),
        osImage: 'Bulkhead lab node (Debian)',
        containerRuntimeVersion: this.#runtimeVersion,
        kubeletVersion: 'v1.31.0-bulkhead-lab',
        kubeProxyVersion: '',
        operatingSystem: 'linux',
        architecture: 'amd64',
      },
      capacity: { cpu: '2', memory: '4Gi', pods: '110' },
      allocatable: { cpu: '2', memory: '4Gi', pods: '110' },
      conditions: [
        {
          type: 'Ready',
          status: 'True',
          reason: 'KubeletReady',
          message: 'lab kubelet is posting ready status',
          lastHeartbeatTime: now(),
          lastTransitionTime: now(),
        },
      ],
      daemonEndpoints: { kubeletEndpoint: { Port: 0 } },
    };
    const { store } = this.opts;
    let cur = store.tryGet(NODE, undefined, node.name);
    if (!cur) cur = store.create(NODE, undefined, want);
    else
      cur = store.update(NODE, undefined, node.name, {
        ...cur,
        metadata: { ...cur.metadata, ...want.metadata },
        spec: want.spec,
      });
    store.update(NODE, undefined, node.name, { ...cur, status }, 'status');
  }

  kick(): void {
    if (this.#stopped) return;
    if (this.#syncing) {
      this.#again = true;
      return;
    }
    this.#syncing = this.#sync()
      .catch((err: Error) => this.opts.log?.('sync failed', { node: this.nodeName, error: err.message }))
      .finally(() => {
        this.#syncing = undefined;
        if (this.#again) {
          this.#again = false;
          this.kick();
        }
      });
  }

  /** Wait for the current sync (tests). */
  async settled(): Promise<void> {
    while (this.#syncing) await this.#syncing;
  }

  async #sync(): Promise<void> {
    const pods = this.opts.store.list(POD, { fieldSelector: `spec.nodeName=${this.nodeName}` }).items;
    const byUid = new Map(pods.map((p) => [p.metadata.uid!, p]));
    const boxes = await this.cri.listPodSandbox();
    const ready = new Map<string, string>();
    const work: (() => Promise<void>)[] = [];
    for (const b of boxes) {
      const uid = b.labels[UID_LABEL] ?? b.metadata.uid;
      if (!byUid.has(uid) || b.state !== 'SANDBOX_READY' || ready.has(uid)) {
        work.push(() => this.#removeSandbox(b.id));
      } else ready.set(uid, b.id);
    }
    for (const p of pods) {
      const uid = p.metadata.uid!;
      const id = ready.get(uid);
      if (id) work.push(() => this.#check(p, id));
      else {
        const bo = this.#backoff.get(uid);
        if (!bo || bo.at <= Date.now()) work.push(() => this.#startPod(p));
      }
    }
    for (const uid of this.#backoff.keys()) if (!byUid.has(uid)) this.#backoff.delete(uid);
    const live = new Set(boxes.map((b) => b.id));
    for (const id of this.#details.keys()) if (!live.has(id)) this.#details.delete(id);
    if (this.#containers.size > 4 * Math.max(1, boxes.length) + 16) this.#containers.clear(); // bounded: refetched on demand
    let i = 0;
    await Promise.all(
      Array.from({ length: Math.min(CONCURRENCY, work.length) }, async () => {
        while (i < work.length && !this.#stopped) await work[i++]!();
      }),
    );
  }

  async #status(c: Container): Promise<ContainerStatus> {
    const cached = this.#containers.get(c.id);
    if (cached && cached.state === c.state) return cached;
    const st = await this.cri.containerStatus(c.id);
    this.#containers.set(c.id, st);
    return st;
  }

  async #removeSandbox(id: string): Promise<void> {
    this.#details.delete(id);
    await this.cri.stopPodSandbox(id).catch(() => undefined);
    await this.cri.removePodSandbox(id);
  }

  #sandboxConfig(p: KObject): PodSandboxConfig {
    const spec = p.spec as Spec;
    const m = p.metadata;
    const hostNetwork = spec.hostNetwork === true;
    const logDirectory = join(this.opts.dir, 'pods', `${m.namespace}_${m.name}_${m.uid}`);
    mkdirSync(logDirectory, { recursive: true });
    return {
      metadata: { name: m.name, uid: m.uid!, namespace: m.namespace!, attempt: 0 },
      hostname: hostNetwork ? '' : ((spec.hostname as string | undefined) ?? m.name),
      logDirectory,
      dnsConfig: this.opts.dnsServer
        ? {
            servers: [this.opts.dnsServer],
            searches: [`${m.namespace}.svc.cluster.local`, 'svc.cluster.local', 'cluster.local'],
            options: ['ndots:5'],
          }
        : undefined,
      labels: {
        ...(m.labels ?? {}),
        'io.kubernetes.pod.name': m.name,
        'io.kubernetes.pod.namespace': m.namespace!,
        [UID_LABEL]: m.uid!,
      },
      annotations: { ...(m.annotations ?? {}) },
      linux: {
        cgroupParent: this.opts.cgroupParent,
        securityContext: { namespaceOptions: { network: hostNetwork ? 'NODE' : 'POD', pid: 'CONTAINER', ipc: 'POD' } },
      },
    };
  }

  async #startContainer(
    p: KObject,
    sandboxId: string,
    cfg: PodSandboxConfig,
    c: ContainerSpec,
    attempt: number,
  ): Promise<void> {
    const image = resolveImage(c.image);
    if (!image) throw new ApiError('Invalid', `image "${c.image}" is not available in the lab (only busybox[:tag] is)`);
    const id = await this.cri.createContainer(
      sandboxId,
      {
        metadata: { name: c.name, attempt },
        image: { image, userSpecifiedImage: c.image },
        command: c.command ?? [],
        args: c.args ?? [],
        workingDir: c.workingDir ?? '',
        envs: (c.env ?? []).map((e) => ({ key: e.name, value: e.value ?? '' })),
        labels: {
          'io.kubernetes.container.name': c.name,
          'io.kubernetes.pod.name': p.metadata.name,
          'io.kubernetes.pod.namespace': p.metadata.namespace!,
          [UID_LABEL]: p.metadata.uid!,
        },
        annotations: { 'io.kubernetes.container.restartCount': String(attempt) },
        logPath: `${c.name}/${attempt}.log`,
      },
      cfg,
    );
    await this.cri.startContainer(id);
  }

  async #startPod(p: KObject): Promise<void> {
    const uid = p.metadata.uid!;
    const containers = ((p.spec as Spec).containers as ContainerSpec[] | undefined) ?? [];
    let sandboxId: string | undefined;
    try {
      const cfg = this.#sandboxConfig(p);
      sandboxId = await this.cri.runPodSandbox(cfg);
      for (const c of containers) await this.#startContainer(p, sandboxId, cfg, c, 0);
      this.#backoff.delete(uid);
      await this.#writeStatus(p, sandboxId);
    } catch (err) {
      const prev = this.#backoff.get(uid)?.ms ?? 500;
      const ms = Math.min(prev * 2, 30_000);
      this.#backoff.set(uid, { at: Date.now() + ms, ms });
      if (sandboxId) await this.#removeSandbox(sandboxId).catch(() => undefined);
      this.opts.log?.('pod start failed', {
        pod: `${p.metadata.namespace}/${p.metadata.name}`,
        node: this.nodeName,
        error: (err as Error).message,
      });
      this.#patchStatus(p, {
        phase: 'Pending',
        conditions: [
          { type: 'PodScheduled', status: 'True', lastTransitionTime: now() },
          {
            type: 'Ready',
            status: 'False',
            reason: 'ContainersNotReady',
            message: (err as Error).message,
            lastTransitionTime: now(),
          },
        ],
      });
    }
  }

  /** Restart exited containers (restartPolicy) and keep the status current. */
  async #check(p: KObject, sandboxId: string): Promise<void> {
    const spec = p.spec as Spec;
    const policy = (spec.restartPolicy as string | undefined) ?? 'Always';
    const list = await this.cri.listContainers({ podSandboxId: sandboxId });
    const containers = (spec.containers as ContainerSpec[] | undefined) ?? [];
    let changed = false;
    for (const c of containers) {
      const mine = list
        .filter((x) => x.metadata.name === c.name)
        .sort((a, b) => b.metadata.attempt - a.metadata.attempt);
      const latest = mine[0];
      if (latest && latest.state !== 'CONTAINER_EXITED') continue;
      if (latest) {
        const st = await this.#status(latest);
        if (policy === 'Never' || (policy === 'OnFailure' && st.exitCode === 0)) continue;
      }
      const cfg = this.#sandboxConfig(p);
      for (const old of mine) {
        this.#containers.delete(old.id);
        await this.cri.removeContainer(old.id).catch(() => undefined);
      }
      await this.#startContainer(p, sandboxId, cfg, c, (latest?.metadata.attempt ?? -1) + 1).catch((err: Error) =>
        this.opts.log?.('container restart failed', {
          pod: `${p.metadata.namespace}/${p.metadata.name}`,
          error: err.message,
        }),
      );
      changed = true;
    }
    if (changed) this.opts.log?.('restarted containers', { pod: `${p.metadata.namespace}/${p.metadata.name}` });
    await this.#writeStatus(p, sandboxId); // a no-op write when nothing changed
  }

  async #writeStatus(p: KObject, sandboxId: string): Promise<void> {
    let d = this.#details.get(sandboxId);
    if (!d) {
      d = await sandboxDetails(this.cri, sandboxId);
      this.#details.set(sandboxId, d);
    }
    const list = await this.cri.listContainers({ podSandboxId: sandboxId });
    const containers = ((p.spec as Spec).containers as ContainerSpec[] | undefined) ?? [];
    const statuses = await Promise.all(
      containers.map(async (c) => {
        const mine = list
          .filter((x) => x.metadata.name === c.name)
          .sort((a, b) => b.metadata.attempt - a.metadata.attempt);
        const latest = mine[0];
        const s = latest ? await this.#status(latest) : undefined;
        const iso = (ns: number): string => new Date(Math.floor(ns / 1e6)).toISOString().replace(/\.\d{3}Z$/, 'Z');
        const state =
          s?.state === 'CONTAINER_RUNNING'
            ? { running: { startedAt: iso(s.startedAt) } }
            : s?.state === 'CONTAINER_EXITED'
              ? {
                  terminated: {
                    exitCode: s.exitCode,
                    reason: s.reason || 'Completed',
                    startedAt: iso(s.startedAt),
                    finishedAt: iso(s.finishedAt),
                    containerID: `containerd://${s.id}`,
                  },
                }
              : { waiting: { reason: 'ContainerCreating' } };
        return {
          name: c.name,
          image: c.image,
          imageID: 'docker.io/library/busybox:latest',
          containerID: latest ? `containerd://${latest.id}` : undefined,
          ready: s?.state === 'CONTAINER_RUNNING',
          started: s?.state === 'CONTAINER_RUNNING',
          restartCount: latest?.metadata.attempt ?? 0,
          state,
        };
      }),
    );
    const allReady = statuses.every((s) => s.ready);
    const hostNetwork = (p.spec as Spec).hostNetwork === true;
    const ip = hostNetwork ? this.opts.node.ip : d.ip;
    const prev = (p.status ?? {}) as Spec;
    const cond = (type: string, ok: boolean): Record<string, unknown> => {
      const old = (
        (prev.conditions as { type: string; status: string; lastTransitionTime?: string }[] | undefined) ?? []
      ).find((c) => c.type === type);
      const status = ok ? 'True' : 'False';
      return {
        type,
        status,
        lastProbeTime: null,
        lastTransitionTime: old?.status === status ? old.lastTransitionTime : now(),
      };
    };
    const status = {
      phase: 'Running',
      conditions: [
        cond('PodReadyToStartContainers', true),
        cond('Initialized', true),
        cond('Ready', allReady),
        cond('ContainersReady', allReady),
        cond('PodScheduled', true),
      ],
      hostIP: this.opts.node.ip,
      hostIPs: [{ ip: this.opts.node.ip }],
      podIP: ip,
      podIPs: [{ ip }],
      startTime: (prev.startTime as string | undefined) ?? now(),
      containerStatuses: statuses,
      qosClass: 'BestEffort',
    };
    this.#patchStatus(p, status);
  }

  #patchStatus(p: KObject, status: Record<string, unknown>): void {
    const { store } = this.opts;
    const cur = store.tryGet(POD, p.metadata.namespace, p.metadata.name);
    if (!cur || cur.metadata.uid !== p.metadata.uid) return; // deleted (or replaced) meanwhile
    try {
      store.update(
        POD,
        p.metadata.namespace,
        p.metadata.name,
        { ...cur, status: { ...(cur.status ?? {}), ...status } },
        'status',
      );
    } catch (err) {
      if (!(err instanceof ApiError)) throw err;
    }
  }
}
