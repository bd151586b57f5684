// SPDX-License-Identifier: Apache-2.0
// Copyright The Bulkhead Authors

/**
 * @module
 * Pod discovery through the container runtime (CRI runtime.v1 over the
 * node's containerd socket): the read-only calls the C-VEN makes, and the
 * decoding of containerd's verbose sandbox status into what the agent
 * needs (pod IP, network namespace path, host-network flag).
 *
 * Owns: how a sandbox becomes a `NodePod`. Must not: create, stop or change
 * anything in the runtime. Proto: cven/proto/runtime-v1.proto (a subset of
 * cri-api's, loaded by path; the lab loads the same file).
 */
import { fileURLToPath } from 'node:url';
import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';
import { BulkheadError } from '@bulkhead/pce/api';

const PROTO = fileURLToPath(new URL('../../proto/runtime-v1.proto', import.meta.url));

/** One pod sandbox on this node, as the agent tracks it. */
export interface NodePod {
  sandboxId: string;
  uid: string;
  namespace: string;
  name: string;
  /** Empty while the sandbox has no address (or for host network). */
  ip: string;
  /** A path `nsenter --net=` accepts; empty for host network. */
  netnsPath: string;
  hostNetwork: boolean;
  labels: Record<string, string>;
  annotations: Record<string, string>;
  /** Sandbox creation time, ms since the epoch. */
  createdAtMs: number;
}

interface Sandbox {
  id: string;
  metadata: { name: string; uid: string; namespace: string };
  state: 'SANDBOX_READY' | 'SANDBOX_NOTREADY';
  createdAt: number;
  labels: Record<string, string>;
  annotations: Record<string, string>;
}

interface SandboxStatus {
  status: Sandbox & { network?: { ip: string } };
  info: Record<string, string>;
}

type Unary = (
  req: unknown,
  meta: grpc.Metadata,
  opts: grpc.CallOptions,
  cb: (e: grpc.ServiceError | null, r: unknown) => void,
) => void;

let runtimeService: grpc.ServiceClientConstructor | undefined;
function serviceConstructor(): grpc.ServiceClientConstructor {
  if (!runtimeService) {
    const def = protoLoader.loadSync(PROTO, { keepCase: false, longs: Number, enums: String, defaults: true });
    const pkg = grpc.loadPackageDefinition(def);
    runtimeService = ((pkg.runtime as grpc.GrpcObject).v1 as grpc.GrpcObject)
      .RuntimeService as grpc.ServiceClientConstructor;
  }
  return runtimeService;
}

/** Read-only CRI client for one runtime endpoint (`unix:///abs/path.sock`). */
export class CriReader {
  readonly #client: grpc.Client;
  /** Verbose status per sandbox id: it never changes for a sandbox's life. */
  readonly #details = new Map<string, Pick<NodePod, 'ip' | 'netnsPath' | 'hostNetwork'>>();

  constructor(
    readonly endpoint: string,
    readonly timeoutMs = 5000,
  ) {
    if (!/^unix:\/\/\//.test(endpoint))
      throw new BulkheadError(
        'BH_ERR_CONFIG',
        `--cri-socket: "${endpoint}" must look like unix:///run/containerd/containerd.sock`,
      );
    // A restarted runtime is found again within 2 s (grpc's default backoff grows to 120 s).
    this.#client = new (serviceConstructor())(endpoint, grpc.credentials.createInsecure(), {
      'grpc.initial_reconnect_backoff_ms': 100,
      'grpc.max_reconnect_backoff_ms': 2000,
    });
  }

  #call<T>(method: string, req: unknown): Promise<T> {
    const fn = (this.#client as unknown as Record<string, Unary>)[method]!;
    return new Promise((resolve, reject) => {
      fn.call(this.#client, req, new grpc.Metadata(), { deadline: Date.now() + this.timeoutMs }, (err, res) => {
        if (err)
          reject(
            new BulkheadError('BH_ERR_CRI', `CRI ${method} on ${this.endpoint}: ${err.details || err.message}`, {
              cause: err,
            }),
          );
        else resolve(res as T);
      });
    });
  }

  /** The runtime's name and version (`containerd 1.6.20`). */
  async version(): Promise<string> {
    const v = await this.#call<{ runtimeName: string; runtimeVersion: string }>('Version', { version: 'v1' });
    return `${v.runtimeName} ${v.runtimeVersion}`;
  }

  /**
   * Every ready pod sandbox on the node.
   * @throws BulkheadError BH_ERR_CRI (transient): the runtime did not answer.
   */
  async listPods(): Promise<NodePod[]> {
    const r = await this.#call<{ items: Sandbox[] }>('ListPodSandbox', {
      filter: { state: { state: 'SANDBOX_READY' } },
    });
    const live = new Set(r.items.map((s) => s.id));
    for (const id of this.#details.keys()) if (!live.has(id)) this.#details.delete(id);
    const pods: NodePod[] = [];
    for (const s of r.items) {
      let d = this.#details.get(s.id);
      if (!d) {
        try {
          d = decodeSandboxStatus(
            await this.#call<SandboxStatus>('PodSandboxStatus', { podSandboxId: s.id, verbose: true }),
          );
        } catch {
          continue; // removed between the list and the status: gone
        }
        // Keep only complete answers: an address may come a moment after the sandbox.
        if (d.hostNetwork || (d.ip && d.netnsPath)) this.#details.set(s.id, d);
      }
      pods.push({
        sandboxId: s.id,
        uid: s.metadata.uid,
        namespace: s.metadata.namespace,
        name: s.metadata.name,
        ...d,
        labels: s.labels ?? {},
        annotations: s.annotations ?? {},
        createdAtMs: Math.floor(Number(s.createdAt) / 1e6),
      });
    }
    return pods.sort((a, b) => (a.uid < b.uid ? -1 : a.uid > b.uid ? 1 : 0));
  }

  close(): void {
    this.#client.close();
  }
}

/**
 * containerd's verbose `info` is JSON with `pid`, the sandbox `config` and
 * the OCI `runtimeSpec`; the network namespace entry's path is the netns
 * bind mount. A sandbox without its own network namespace (or whose config
 * says NODE, 2) is on the host network.
 */
export function decodeSandboxStatus(r: SandboxStatus): Pick<NodePod, 'ip' | 'netnsPath' | 'hostNetwork'> {
  let netnsPath = '';
  let hostNetwork = false;
  const raw = r.info?.info;
  if (raw) {
    const info = JSON.parse(raw) as {
      pid?: number;
      config?: { linux?: { security_context?: { namespace_options?: { network?: number } } } };
      runtimeSpec?: { linux?: { namespaces?: { type: string; path?: string }[] } };
    };
    const netns = info.runtimeSpec?.linux?.namespaces?.find((n) => n.type === 'network');
    hostNetwork =
      info.config?.linux?.security_context?.namespace_options?.network === 2 || (!!info.runtimeSpec && !netns);
    netnsPath = hostNetwork ? '' : (netns?.path ?? (info.pid ? `/proc/${info.pid}/ns/net` : ''));
  }
  return { ip: hostNetwork ? '' : (r.status.network?.ip ?? ''), netnsPath, hostNetwork };
}
