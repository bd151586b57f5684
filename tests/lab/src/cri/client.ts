// SPDX-License-Identifier: Apache-2.0
// Copyright The Bulkhead Authors

/**
 * @module
 * A CRI (runtime.v1) client over a node's containerd socket: grpc-js with
 * the hand-written subset in `cven/proto/runtime-v1.proto` (the C-VEN's, shared). Field names
 * are proto-loader's camelCase; enums are their names; int64 are numbers.
 * Also `sandboxDetails`, which reads containerd's verbose sandbox info for
 * the pod's IP, network namespace path and pause pid.
 */
import { fileURLToPath } from 'node:url';
import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';

const PROTO = fileURLToPath(new URL('../../../../cven/proto/runtime-v1.proto', import.meta.url));

export type Labels = Record<string, string>;

export interface PodSandboxMetadata {
  name: string;
  uid: string;
  namespace: string;
  attempt?: number;
}

export interface PodSandboxConfig {
  metadata: PodSandboxMetadata;
  hostname?: string;
  logDirectory?: string;
  dnsConfig?: { servers?: string[]; searches?: string[]; options?: string[] };
  portMappings?: { protocol?: 'TCP' | 'UDP' | 'SCTP'; containerPort: number; hostPort?: number; hostIp?: string }[];
  labels?: Labels;
  annotations?: Labels;
  linux?: {
    cgroupParent?: string;
    securityContext?: { namespaceOptions?: { network?: 'POD' | 'NODE'; pid?: string; ipc?: string } };
    sysctls?: Labels;
  };
}

export interface ContainerConfig {
  metadata: { name: string; attempt?: number };
  image: { image: string; userSpecifiedImage?: string };
  command?: string[];
  args?: string[];
  workingDir?: string;
  envs?: { key: string; value: string }[];
  labels?: Labels;
  annotations?: Labels;
  logPath?: string;
}

export type SandboxState = 'SANDBOX_READY' | 'SANDBOX_NOTREADY';
export type ContainerState = 'CONTAINER_CREATED' | 'CONTAINER_RUNNING' | 'CONTAINER_EXITED' | 'CONTAINER_UNKNOWN';

export interface PodSandbox {
  id: string;
  metadata: PodSandboxMetadata;
  state: SandboxState;
  createdAt: number;
  labels: Labels;
  annotations: Labels;
}

export interface PodSandboxStatusResponse {
  status: PodSandbox & { network?: { ip: string; additionalIps: { ip: string }[] } };
  info: Record<string, string>;
}

export interface Container {
  id: string;
  podSandboxId: string;
  metadata: { name: string; attempt: number };
  state: ContainerState;
  createdAt: number;
  labels: Labels;
  annotations: Labels;
}

export interface ContainerStatus {
  id: string;
  metadata: { name: string; attempt: number };
  state: ContainerState;
  createdAt: number;
  startedAt: number;
  finishedAt: number;
  exitCode: number;
  reason: string;
  message: string;
}

export interface RuntimeStatus {
  status: { conditions: { type: string; status: boolean; reason: string; message: string }[] };
}

type Unary = (
  req: unknown,
  meta: grpc.Metadata,
  opts: grpc.CallOptions,
  cb: (e: grpc.ServiceError | null, r: unknown) => void,
) => void;

let pkgCache: grpc.GrpcObject | undefined;
function runtimePackage(): grpc.GrpcObject {
  if (!pkgCache) {
    const def = protoLoader.loadSync(PROTO, {
      keepCase: false,
      longs: Number,
      enums: String,
      defaults: true,
      oneofs: true,
    });
    pkgCache = grpc.loadPackageDefinition(def);
  }
  return pkgCache;
}

/** One node's CRI endpoint. `socket` is an absolute path. Close it when done. */
export class CriClient {
  readonly #runtime: grpc.Client;
  readonly #image: grpc.Client;
  readonly target: string;

  constructor(
    socket: string,
    readonly timeoutMs = 30_000,
  ) {
    if (!socket.startsWith('/')) throw new Error(`CRI socket must be an absolute path: ${socket}`);
    this.target = `unix://${socket}`;
    const v1 = (runtimePackage().runtime as grpc.GrpcObject).v1 as grpc.GrpcObject;
    const Runtime = v1.RuntimeService as grpc.ServiceClientConstructor;
    const Image = v1.ImageService as grpc.ServiceClientConstructor;
    this.#runtime = new Runtime(this.target, grpc.credentials.createInsecure());
    this.#image = new Image(this.target, grpc.credentials.createInsecure(), {
      channelOverride: this.#runtime.getChannel(),
    });
  }

  #call<T>(client: grpc.Client, method: string, req: unknown, timeoutMs = this.timeoutMs): Promise<T> {
    const fn = (client as unknown as Record<string, Unary>)[method];
    if (!fn) throw new Error(`CRI method ${method} not in the vendored proto`);
    return new Promise((resolve, reject) => {
      fn.call(client, req, new grpc.Metadata(), { deadline: Date.now() + timeoutMs }, (err, res) => {
        if (err)
          reject(
            Object.assign(new Error(`CRI ${method} on ${this.target}: ${err.details || err.message}`), {
              code: err.code,
              cause: err,
            }),
          );
        else resolve(res as T);
      });
    });
  }

  version(): Promise<{ runtimeName: string; runtimeVersion: string; runtimeApiVersion: string }> {
    return this.#call(this.#runtime, 'Version', { version: 'v1' });
  }

  status(): Promise<RuntimeStatus> {
    return this.#call(this.#runtime, 'Status', {});
  }

  async runPodSandbox(config: PodSandboxConfig): Promise<string> {
    const r = await this.#call<{ podSandboxId: string }>(this.#runtime, 'RunPodSandbox', { config }, 120_000);
    return r.podSandboxId;
  }

  async stopPodSandbox(id: string): Promise<void> {
    await this.#call(this.#runtime, 'StopPodSandbox', { podSandboxId: id }, 120_000);
  }

  async removePodSandbox(id: string): Promise<void> {
    await this.#call(this.#runtime, 'RemovePodSandbox', { podSandboxId: id }, 120_000);
  }

  podSandboxStatus(id: string, verbose = false): Promise<PodSandboxStatusResponse> {
    return this.#call(this.#runtime, 'PodSandboxStatus', { podSandboxId: id, verbose });
  }

  async listPodSandbox(filter: { state?: SandboxState; labelSelector?: Labels } = {}): Promise<PodSandbox[]> {
    const f: Record<string, unknown> = {};
    if (filter.state) f.state = { state: filter.state };
    if (filter.labelSelector) f.labelSelector = filter.labelSelector;
    const r = await this.#call<{ items: PodSandbox[] }>(this.#runtime, 'ListPodSandbox', { filter: f });
    return r.items;
  }

  async createContainer(
    podSandboxId: string,
    config: ContainerConfig,
    sandboxConfig: PodSandboxConfig,
  ): Promise<string> {
    const r = await this.#call<{ containerId: string }>(
      this.#runtime,
      'CreateContainer',
      { podSandboxId, config, sandboxConfig },
      120_000,
    );
    return r.containerId;
  }

  async startContainer(id: string): Promise<void> {
    await this.#call(this.#runtime, 'StartContainer', { containerId: id }, 120_000);
  }

  async stopContainer(id: string, timeoutSec = 0): Promise<void> {
    await this.#call(this.#runtime, 'StopContainer', { containerId: id, timeout: timeoutSec }, 120_000);
  }

  async removeContainer(id: string): Promise<void> {
    await this.#call(this.#runtime, 'RemoveContainer', { containerId: id }, 120_000);
  }

  async listContainers(filter: { podSandboxId?: string; state?: ContainerState } = {}): Promise<Container[]> {
    const f: Record<string, unknown> = {};
    if (filter.podSandboxId) f.podSandboxId = filter.podSandboxId;
    if (filter.state) f.state = { state: filter.state };
    const r = await this.#call<{ containers: Container[] }>(this.#runtime, 'ListContainers', { filter: f });
    return r.containers;
  }

  async containerStatus(id: string): Promise<ContainerStatus> {
    const r = await this.#call<{ status: ContainerStatus }>(this.#runtime, 'ContainerStatus', { containerId: id });
    return r.status;
  }

  async execSync(
    containerId: string,
    cmd: string[],
    timeoutSec = 10,
  ): Promise<{ stdout: Buffer; stderr: Buffer; exitCode: number }> {
    return this.#call(this.#runtime, 'ExecSync', { containerId, cmd, timeout: timeoutSec }, (timeoutSec + 5) * 1000);
  }

  async listImages(): Promise<{ id: string; repoTags: string[]; size: number }[]> {
    const r = await this.#call<{ images: { id: string; repoTags: string[]; size: number }[] }>(
      this.#image,
      'ListImages',
      {},
    );
    return r.images;
  }

  close(): void {
    this.#image.close();
    this.#runtime.close();
  }
}

/** What the lab needs to know about a running sandbox, from CRI's verbose status. */
export interface SandboxDetails {
  id: string;
  ip: string;
  netnsPath: string;
  pid: number;
  labels: Labels;
  annotations: Labels;
  metadata: PodSandboxMetadata;
  state: SandboxState;
}

/**
 * Read a sandbox's IP and network namespace path. containerd's verbose info
 * carries `info` (JSON) with `pid` and `runtimeSpec.linux.namespaces`; the
 * network entry's path is the netns bind mount under the node's state dir.
 */
export async function sandboxDetails(cri: CriClient, id: string): Promise<SandboxDetails> {
  const r = await cri.podSandboxStatus(id, true);
  let pid = 0;
  let netnsPath = '';
  const raw = r.info?.info;
  if (raw) {
    const info = JSON.parse(raw) as {
      pid?: number;
      runtimeSpec?: { linux?: { namespaces?: { type: string; path?: string }[] } };
    };
    pid = info.pid ?? 0;
    netnsPath = info.runtimeSpec?.linux?.namespaces?.find((n) => n.type === 'network')?.path ?? '';
  }
  if (!netnsPath && pid > 0) netnsPath = `/proc/${pid}/ns/net`;
  return {
    id,
    ip: r.status.network?.ip ?? '',
    netnsPath,
    pid,
    labels: r.status.labels ?? {},
    annotations: r.status.annotations ?? {},
    metadata: r.status.metadata,
    state: r.status.state,
  };
}
