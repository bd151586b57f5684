// SPDX-License-Identifier: Apache-2.0
// Copyright The Bulkhead Authors

/**
 * @module
 * The C-VEN's main loop: pair (or reuse saved credentials), re-apply the
 * saved policy before reaching the PCE, then keep four things true at once:
 * - the PCE knows this node's pods (CRI polled every POD_POLL_MS; level-based reports);
 * - the agent holds the node's latest policy (pushed over SSE; polled while the push channel is down);
 * - the kernel holds the tables that policy and those pods call for (enforcer.ts);
 * - nobody changed them (tamper check every TAMPER_CHECK_MS; restored and reported).
 * Status goes to the PCE in heartbeats; /healthz, /readyz and /metrics are served locally.
 *
 * Owns: ordering and retries. Never a gap: the last applied policy stays in
 * the kernel when the agent stops, and a stopped PCE changes nothing here.
 */
import { lookup } from 'node:dns/promises';
import { readFileSync } from 'node:fs';
import { isIP } from 'node:net';
import { networkInterfaces } from 'node:os';
import {
  BulkheadError,
  type AgentActivateResponse,
  type AgentInterface,
  type AgentPolicy,
  type AgentPodsResult,
  type AgentStatusReport,
  type ImplicitRule,
  type PodReport,
  type SyncState,
} from '@bulkhead/pce/api';
import { Backoff, Waker } from './backoff.js';
import { CriReader, type NodePod } from './cri/client.js';
import type { Logger } from './log.js';
import { AgentMetrics } from './metrics.js';
import { DRAIN_MS, FlowCollector } from './flows/collector.js';
import { Enforcer } from './nft/enforcer.js';
import type { NftRunner } from './nft/runner.js';
import { StateDir, type SavedCredentials } from './pairing/state.js';
import { PceClient } from './pce/client.js';
import { desiredTables, implicitNodeRules, type NodeImplicit } from './policy/desired.js';
import type { CvenSettings } from './settings.js';

export const AGENT_VERSION = '0.1.0';
/** How often the runtime is asked for pods: a pod is known within this (plus one report). */
export const POD_POLL_MS = 50;
export const TAMPER_CHECK_MS = 1000;
export const HEARTBEAT_MS = 5000;
/** Polling interval while the push channel is down (and a slow safety poll while it is up). */
export const POLICY_POLL_MS = 2000;

/** Kubernetes labels the runtime adds to every sandbox; not the pod's own. */
const RUNTIME_LABEL = /^io\.kubernetes\./;

export function nodeInterfaces(): AgentInterface[] {
  const out: AgentInterface[] = [];
  for (const [name, addrs] of Object.entries(networkInterfaces()))
    for (const a of addrs ?? []) {
      if (a.internal || a.address.startsWith('fe80:')) continue;
      const bits = a.cidr ? Number(a.cidr.split('/')[1]) : null;
      out.push({ name: name.slice(0, 64), address: a.address, cidr_block: bits });
    }
  return out.sort((x, y) => (x.name + x.address < y.name + y.address ? -1 : 1));
}

export function resolvers(resolvConf: string): string[] {
  try {
    return readFileSync(resolvConf, 'utf8')
      .split('\n')
      .map((l) => /^\s*nameserver\s+(\S+)/.exec(l)?.[1])
      .filter((a): a is string => !!a && isIP(a) !== 0);
  } catch {
    return [];
  }
}

function podReport(p: NodePod): PodReport {
  const labels = Object.fromEntries(Object.entries(p.labels).filter(([k]) => !RUNTIME_LABEL.test(k)));
  const r: PodReport = {
    uid: p.uid,
    namespace: p.namespace,
    name: p.name,
    labels,
    annotations: p.annotations,
    host_network: p.hostNetwork,
    started_at: new Date(p.createdAtMs).toISOString(),
  };
  if (p.ip) r.ip = p.ip;
  if (p.netnsPath) r.netns_path = p.netnsPath;
  return r;
}

export interface AgentOptions {
  settings: CvenSettings;
  log: Logger;
  nft: NftRunner;
  metrics?: AgentMetrics;
}

export class Agent {
  readonly settings: CvenSettings;
  readonly log: Logger;
  readonly metrics: AgentMetrics;
  readonly state: StateDir;
  readonly cri: CriReader;
  readonly pce: PceClient;
  readonly enforcer: Enforcer;
  readonly flows: FlowCollector;

  #creds: SavedCredentials | null = null;
  #stopped = false;
  #pods: NodePod[] = [];
  #podsSignature = '';
  #reportedSignature = '';
  #policy: AgentPolicy | null = null;
  /** The version the PCE last gave us in this run (null: not reached yet). */
  #pceVersion: string | null = null;
  #pceReachable = false;
  #streamUp = false;
  #stream: { close: () => void } | null = null;
  #appliedVersion: string | null = null;
  #applyErrors: { token: string; message: string }[] = [];
  #implicit: NodeImplicit = { pce: { addresses: [], port: 443 }, dns: [] };
  /** Pods whose real table is applied (uid → true), for the enforcement latency. */
  #enforced = new Map<string, 'pending' | 'enforced'>();
  /** Pods already there when this process first listed the runtime: no enforcement latency for them. */
  #preexisting: Set<string> | null = null;
  #pendingEvents: {
    event_type: 'agent.tampering' | 'agent.firewall_error';
    severity: 'warning' | 'err';
    info: Record<string, unknown>;
  }[] = [];
  #converging: Promise<void> | null = null;
  #convergeAgain = false;
  #wakers = {
    pods: new Waker(),
    policy: new Waker(),
    poll: new Waker(),
    heartbeat: new Waker(),
    tamper: new Waker(),
    flows: new Waker(),
  };
  #loops: Promise<void>[] = [];

  constructor(opts: AgentOptions) {
    this.settings = opts.settings;
    this.log = opts.log;
    this.metrics = opts.metrics ?? new AgentMetrics();
    this.state = new StateDir(this.settings['state-dir']);
    this.cri = new CriReader(this.settings['cri-socket']);
    this.pce = new PceClient(this.settings.pce, this.settings.ca);
    this.enforcer = new Enforcer(opts.nft);
    this.flows = new FlowCollector(this.log, this.settings['state-dir']);
  }

  get ready(): boolean {
    if (this.#appliedVersion === null || this.#applyErrors.length) return false;
    return this.#pceReachable ? this.#appliedVersion === this.#pceVersion : true;
  }

  get syncState(): SyncState {
    if (this.#applyErrors.length) return 'error';
    if (this.#appliedVersion === null) return 'syncing';
    if (!this.#pceReachable) return 'offline_applied';
    return this.#appliedVersion === this.#pceVersion ? 'applied' : 'syncing';
  }

  get appliedVersion(): string | null {
    return this.#appliedVersion;
  }

  get workloadHref(): string | null {
    return this.#creds?.workload_href ?? null;
  }

  /** Start everything; resolves once the saved policy (if any) is re-applied and the loops run. */
  async start(): Promise<void> {
    await this.#resolveImplicit();
    this.#creds = this.#usableSavedCredentials();
    if (this.#creds) this.pce.credentials = this.#creds;
    // Never a gap: what was enforced before the restart is enforced again before the PCE is asked anything.
    const saved = this.state.loadPolicy();
    if (saved && this.#creds) {
      this.#policy = saved;
      try {
        this.#pods = await this.cri.listPods();
        this.#podsSignature = this.#signature(this.#pods);
        this.#preexisting = new Set(this.#pods.map((p) => p.uid));
      } catch (err) {
        this.log.warn('runtime not answering yet; re-applying the saved policy to the node only', {
          error: (err as Error).message,
        });
      }
      await this.#converge();
      this.log.info('re-applied the saved policy', { version: saved.version, policy_version: saved.policy_version });
    }
    if (!this.#creds) await this.#pairUntilDone();
    this.#loops = [
      this.#podLoop(),
      this.#policyStreamLoop(),
      this.#policyPollLoop(),
      this.#heartbeatLoop(),
      this.#tamperLoop(),
    ];
    if (await this.flows.open()) this.#loops.push(this.#flowLoop());
  }

  async stop(): Promise<void> {
    this.#stopped = true;
    this.#stream?.close();
    for (const w of Object.values(this.#wakers)) w.wake();
    await Promise.allSettled(this.#loops);
    await this.#converging;
    this.flows.close();
    this.cri.close();
    this.pce.close();
  }

  /** Every DRAIN_MS: follow the enforcing pods with the probe, drain, decide, spool, upload. */
  async #flowLoop(): Promise<void> {
    while (!this.#stopped) {
      await this.#wakers.flows.sleep(DRAIN_MS);
      if (this.#stopped) break;
      try {
        const pods = this.enforcer.tables.flatMap((t) => {
          const pod = this.#pods.find((p) => p.uid === t.key);
          return t.workload && t.netnsPath && pod ? [{ uid: pod.uid, netnsPath: t.netnsPath, ip: pod.ip }] : [];
        });
        await this.flows.sync(pods);
        const nodeIps = nodeInterfaces().map((i) => i.address);
        this.flows.collect(this.#policy, this.#creds?.agent_id ?? 'agent', nodeIps);
        if (this.#creds) await this.flows.upload(this.pce);
      } catch (err) {
        this.log.warn('flow collection failed; retrying', { error: (err as Error).message });
      }
    }
  }

  async #resolveImplicit(): Promise<void> {
    const url = this.pce.base;
    const host = url.hostname.replace(/^\[|\]$/g, '');
    const port = Number(url.port || 443);
    let addresses: string[] = [];
    if (isIP(host)) addresses = [host];
    else
      try {
        addresses = (await lookup(host, { all: true })).map((a) => a.address);
      } catch (err) {
        this.log.warn('could not resolve the PCE host for the implicit rule', { host, error: (err as Error).message });
      }
    this.#implicit = { pce: { addresses, port }, dns: resolvers(this.settings['resolv-conf']) };
  }

  #usableSavedCredentials(): SavedCredentials | null {
    const c = this.state.loadCredentials();
    if (!c) return null;
    if (c.pce !== this.settings.pce || c.cluster_id !== this.settings['cluster-id']) {
      this.log.warn('saved credentials are for another PCE or cluster; pairing again', { saved_pce: c.pce });
      return null;
    }
    return c;
  }

  async #pairUntilDone(): Promise<void> {
    const code = this.settings['activation-code'];
    if (!code)
      throw new BulkheadError(
        'BH_ERR_CONFIG',
        '--activation-code (or BULKHEAD_ACTIVATION_CODE) is needed to pair: the state dir holds no credentials',
      );
    let machineId: string;
    try {
      machineId = readFileSync(this.settings['machine-id-file'], 'utf8').trim();
    } catch (err) {
      throw new BulkheadError(
        'BH_ERR_CONFIG',
        `--machine-id-file: cannot read ${this.settings['machine-id-file']}: ${(err as Error).message}`,
      );
    }
    if (!machineId)
      throw new BulkheadError('BH_ERR_CONFIG', `--machine-id-file: ${this.settings['machine-id-file']} is empty`);
    const backoff = new Backoff(500, 10_000);
    while (!this.#stopped) {
      try {
        const r = await this.pce.request<AgentActivateResponse>('POST', '/api/v2/orgs/1/agents/activate', {
          activation_code: code,
          machine_id: machineId,
          hostname: this.settings['node-name'],
          interfaces: nodeInterfaces(),
          container_cluster_id: this.settings['cluster-id'],
          agent_version: AGENT_VERSION,
        });
        const a = r.body;
        this.#creds = {
          agent_id: a.agent_id,
          agent_href: a.agent_href,
          workload_href: a.workload_href,
          auth_username: a.auth_username,
          secret: a.secret,
          pce: this.settings.pce,
          cluster_id: this.settings['cluster-id'],
        };
        this.state.saveCredentials(this.#creds);
        this.pce.credentials = this.#creds;
        this.#pceReachable = true;
        this.log.info('paired', { agent: a.agent_href, workload: a.workload_href });
        return;
      } catch (err) {
        const e = err as BulkheadError;
        if (e.retry === 'terminal')
          throw new BulkheadError('BH_ERR_AGENT_PAIRING', `pairing refused: ${e.message}`, { cause: err });
        const delay = backoff.next();
        this.log.warn('PCE not reachable for pairing; retrying', { error: e.message, retry_in_ms: delay });
        await this.#wakers.policy.sleep(delay);
      }
    }
  }

  #signature(pods: NodePod[]): string {
    return JSON.stringify(pods.map((p) => [p.uid, p.ip, p.netnsPath, p.hostNetwork, p.labels, p.annotations]));
  }

  // --- pods ---------------------------------------------------------------

  async #podLoop(): Promise<void> {
    const backoff = new Backoff(200, 5000);
    while (!this.#stopped) {
      let delay = POD_POLL_MS;
      try {
        const pods = await this.cri.listPods();
        backoff.reset();
        this.#preexisting ??= new Set(pods.map((p) => p.uid));
        const sig = this.#signature(pods);
        if (sig !== this.#podsSignature) {
          this.#pods = pods;
          this.#podsSignature = sig;
          this.metrics.pods.set(pods.length);
          this.#kickConverge(); // pending tables for new pods of full-mode namespaces, right away
        }
        if (this.#podsSignature !== this.#reportedSignature) await this.#reportPods();
      } catch (err) {
        delay = backoff.next();
        this.log.warn('pod discovery failed', { error: (err as Error).message, retry_in_ms: delay });
      }
      await this.#wakers.pods.sleep(delay);
    }
  }

  async #reportPods(): Promise<void> {
    const sig = this.#podsSignature;
    try {
      const r = await this.pce.request<AgentPodsResult>('PUT', this.pce.agentPath('/pods'), {
        pods: this.#pods.map(podReport),
      });
      this.#reportedSignature = sig;
      this.#pceReachable = true;
      this.log.debug('pods reported', { pods: r.body.pods.length });
    } catch (err) {
      this.#pceReachable = false;
      this.log.debug('pod report failed; retrying', { error: (err as Error).message });
    }
  }

  // --- policy -------------------------------------------------------------

  #onPolicy(p: AgentPolicy, via: 'push' | 'poll'): void {
    this.#pceReachable = true;
    this.#pceVersion = p.version;
    if (this.#policy?.version === p.version) {
      if (this.#appliedVersion !== p.version) this.#kickConverge();
      return;
    }
    this.log.info('policy received', {
      version: p.version,
      policy_version: p.policy_version,
      via,
      workloads: p.policy.workloads.length,
    });
    this.#policy = p;
    this.metrics.policyReceived.inc({ via });
    try {
      this.state.savePolicy(p);
    } catch (err) {
      this.log.error('could not save the policy to the state dir', { error: (err as Error).message });
    }
    this.#kickConverge();
  }

  async #policyStreamLoop(): Promise<void> {
    const backoff = new Backoff(200, 10_000);
    while (!this.#stopped) {
      try {
        const s = this.pce.policyStream((p) => {
          this.#streamUp = true;
          backoff.reset();
          this.#onPolicy(p, 'push');
        });
        this.#stream = s;
        await s.done;
      } catch (err) {
        if (!this.#stopped) this.log.debug('policy stream down', { error: (err as Error).message });
      }
      if (this.#streamUp) this.log.warn('policy push channel lost; polling until it is back');
      this.#streamUp = false;
      this.#stream = null;
      if (!this.#stopped) await this.#wakers.policy.sleep(backoff.next());
    }
  }

  async #policyPollLoop(): Promise<void> {
    const backoff = new Backoff(POLICY_POLL_MS, 10_000);
    while (!this.#stopped) {
      let delay = this.#streamUp ? 30_000 : POLICY_POLL_MS;
      try {
        const r = await this.pce.request<AgentPolicy>(
          'GET',
          this.pce.agentPath('/policy'),
          undefined,
          this.#policy ? { 'if-none-match': `"${this.#policy.version}"` } : {},
        );
        backoff.reset();
        if (r.status === 304 && this.#policy) this.#onPolicy(this.#policy, 'poll');
        else this.#onPolicy(r.body, 'poll');
      } catch (err) {
        const wasReachable = this.#pceReachable;
        this.#pceReachable = false;
        delay = backoff.next();
        if (wasReachable)
          this.log.warn('PCE unreachable; enforcing the last applied policy', { error: (err as Error).message });
      }
      await this.#wakers.poll.sleep(delay);
    }
  }

  // --- enforcement --------------------------------------------------------

  #kickConverge(): void {
    if (this.#converging) {
      this.#convergeAgain = true;
      return;
    }
    this.#converging = (async () => {
      do {
        this.#convergeAgain = false;
        await this.#converge();
      } while (this.#convergeAgain && !this.#stopped);
      this.#converging = null;
    })();
  }

  async #converge(): Promise<void> {
    const p = this.#policy;
    if (!p) return;
    const started = performance.now();
    const pods = this.#pods;
    const targets = desiredTables({
      policy: p.policy,
      pods,
      nodeName: this.settings['node-name'],
      implicit: this.#implicit,
      namespaceModes: p.namespaces ?? {},
    });
    const others = [
      { key: 'node', netnsPath: null, label: this.settings['node-name'] },
      ...pods
        .filter((x) => !x.hostNetwork && x.netnsPath)
        .map((x) => ({ key: x.uid, netnsPath: x.netnsPath, label: `${x.namespace}/${x.name}` })),
    ];
    const r = await this.enforcer.converge(targets, others);
    const ms = performance.now() - started;
    this.#applyErrors = r.errors.map((e) => ({ token: 'firewall_apply_failed', message: `${e.label}: ${e.message}` }));
    for (const e of r.errors) this.log.error('applying a table failed; retrying', { table: e.label, error: e.message });
    if (r.errors.length) {
      this.metrics.applyErrors.inc(r.errors.length);
      setTimeout(() => this.#kickConverge(), 1000).unref();
    } else this.#appliedVersion = p.version;
    if (r.written.length || r.removed.length) {
      this.metrics.applies.inc();
      this.metrics.applySeconds.observe(ms / 1000);
      this.log.info('policy applied', {
        version: p.version,
        tables_written: r.written.length,
        tables_removed: r.removed.length,
        rules: this.enforcer.ruleCount,
        ms: Math.round(ms),
      });
    }
    this.metrics.rules.set(this.enforcer.ruleCount);
    const now = Date.now();
    const byUid = new Map(pods.map((x) => [x.uid, x]));
    for (const t of r.written) {
      const pod = byUid.get(t.key);
      if (!pod || this.#preexisting?.has(pod.uid) !== false) continue;
      const state = t.workload === null ? 'pending' : 'enforced';
      const prev = this.#enforced.get(pod.uid);
      if (prev === 'enforced' || prev === state) continue;
      this.#enforced.set(pod.uid, state);
      const sinceStart = (now - pod.createdAtMs) / 1000;
      (state === 'pending' ? this.metrics.podFirstTableSeconds : this.metrics.podEnforcedSeconds).observe(sinceStart);
      if (prev === undefined) this.metrics.podFirstTableSeconds.observe(sinceStart);
      this.log.info(state === 'pending' ? 'pod held fail-closed until its policy arrives' : 'pod enforced', {
        pod: t.label,
        ms_since_sandbox_start: Math.round(sinceStart * 1000),
      });
    }
    for (const uid of this.#enforced.keys()) if (!byUid.has(uid)) this.#enforced.delete(uid);
    this.#wakers.heartbeat.wake();
  }

  // --- status and tampering ----------------------------------------------

  async #heartbeatLoop(): Promise<void> {
    while (!this.#stopped) {
      const report: AgentStatusReport = {
        applied_version: this.#appliedVersion,
        sync_state: this.syncState,
        errors: this.#applyErrors.slice(0, 100),
        interfaces: nodeInterfaces(),
        agent_version: AGENT_VERSION,
        firewall_rule_count: this.enforcer.ruleCount,
        implicit_rules: this.#implicitReport(),
      };
      try {
        await this.pce.request('PUT', this.pce.agentPath('/status'), report);
        this.#pceReachable = true;
        while (this.#pendingEvents.length) {
          await this.pce.request('POST', this.pce.agentPath('/events'), this.#pendingEvents[0]);
          this.#pendingEvents.shift();
        }
      } catch (err) {
        this.#pceReachable = false;
        this.log.debug('heartbeat failed', { error: (err as Error).message });
      }
      await this.#wakers.heartbeat.sleep(HEARTBEAT_MS);
      // Coalesce a burst of wake-ups (several applies in a row) into one report.
      if (!this.#stopped) await new Promise((r) => setTimeout(r, 50));
    }
  }

  /** The node table's implicit rules as the PCE lists them (render.ts writes the same, plus these). */
  #implicitReport(): ImplicitRule[] {
    const fixed: ImplicitRule[] = [
      { direction: 'both', description: 'implicit: replies and related traffic (established, related)' },
      { direction: 'both', description: 'implicit: loopback' },
      { direction: 'both', description: 'implicit: IPv6 neighbour discovery', proto: 58 },
    ];
    return [
      ...fixed,
      ...implicitNodeRules(this.#implicit).map((r) => ({
        direction: 'outbound' as const,
        description: r.comment,
        ...(r.peer && 'addresses' in r.peer ? { addresses: r.peer.addresses } : {}),
        ...(r.service ? { proto: r.service.proto, ...(r.service.port ? { port: r.service.port } : {}) } : {}),
      })),
    ];
  }

  async #tamperLoop(): Promise<void> {
    while (!this.#stopped) {
      await this.#wakers.tamper.sleep(TAMPER_CHECK_MS);
      if (this.#stopped || this.#converging) continue;
      const findings = await this.enforcer.checkTamper();
      for (const f of findings) {
        this.metrics.tampering.inc();
        this.log.warn('table tampered with; restored', {
          table: f.label,
          netns: f.netnsPath,
          what: f.what,
          restored: f.restored,
          error: f.error,
        });
        if (this.#pendingEvents.length < 100)
          this.#pendingEvents.push({
            event_type: 'agent.tampering',
            severity: f.restored ? 'warning' : 'err',
            info: {
              table: 'inet bulkhead',
              target: f.label,
              netns: f.netnsPath ?? 'node',
              change: f.what,
              restored: f.restored,
            },
          });
      }
      if (findings.length) this.#wakers.heartbeat.wake();
    }
  }
}
