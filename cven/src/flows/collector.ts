// SPDX-License-Identifier: Apache-2.0
// Copyright The Bulkhead Authors

/**
 * @module
 * The node's flow collection: the probe (bpf/, through probe/ffi.ts)
 * attached to every enforcing pod's host-side veth, drained every
 * DRAIN_MS into aggregates (aggregate.ts) decided by the one evaluator over
 * the policy the agent enforces, filtered by each local workload's
 * visibility level (`WorkloadPolicy.visibility_level`), spooled (spool.ts)
 * and uploaded in batches the PCE acknowledges once durable.
 *
 * Owns: which veths the probe is attached to (attached when a pod starts
 * enforcing, detached when it stops or goes), and reporting what the probe
 * lost (flows the LRU evicted before a drain, packets it had no entry for,
 * drop records the ring had no room for) as the batches' `lost`, never
 * silently.
 */
import { execFile } from 'node:child_process';
import { statSync } from 'node:fs';
import { promisify } from 'node:util';
import { decideFlow, type AgentPolicy, type WorkloadPolicy } from '@bulkhead/pce/api';
import type { Logger } from '../log.js';
import type { PceClient } from '../pce/client.js';
import type { ProbeCounters } from '../probe/abi.js';
import type { Probe } from '../probe/ffi.js';
import { aggregate } from './aggregate.js';
import { FlowSpool } from './spool.js';

const run = promisify(execFile);
export const DRAIN_MS = 2000;

/**
 * What the probe could not record, as one count for `FlowBatch.lost`: flows
 * the LRU evicted before a drain, packets no entry could hold, and drop
 * records the ring had no room for. Never decreases while the probe is open.
 */
export function probeLoss(c: ProbeCounters): number {
  return c.flowsEvicted + c.flowsFull + c.ringFull;
}

export interface CollectorPod {
  uid: string;
  netnsPath: string;
  ip: string;
}

export class FlowCollector {
  #probe: Probe | null = null;
  #mono: (() => bigint) | null = null;
  /** Pod uid → host-side ifindex the probe is attached to. */
  readonly #attached = new Map<string, { ifindex: number; ino: number; ip: string }>();
  readonly spool: FlowSpool;
  #sending = false;
  /** The probe's loss counters (probeLoss) already added to `spool.lost`. */
  #probeLossSeen = 0;

  constructor(
    private readonly log: Logger,
    stateDir: string,
  ) {
    this.spool = new FlowSpool(stateDir);
  }

  /** Load the probe; false (logged once) when it cannot run here (not built, no BPF). */
  async open(): Promise<boolean> {
    try {
      const ffi = await import('../probe/ffi.js');
      this.#probe = ffi.Probe.open();
      this.#mono = ffi.monotonicNs;
      return true;
    } catch (err) {
      this.log.warn('flow probe unavailable: enforcing without flow reports', { error: (err as Error).message });
      return false;
    }
  }

  /** Attach to the veths of `pods` (the enforcing ones), detach from the rest. */
  async sync(pods: CollectorPod[]): Promise<void> {
    if (!this.#probe) return;
    const want = new Map(pods.map((p) => [p.uid, p]));
    for (const [uid, a] of this.#attached)
      if (!want.has(uid)) {
        try {
          this.#probe.detach(a.ifindex);
        } catch {
          // the veth went with its pod
        }
        this.#attached.delete(uid);
      }
    for (const p of pods) {
      if (this.#attached.has(p.uid)) continue;
      try {
        const { stdout } = await run('nsenter', [`--net=${p.netnsPath}`, 'ip', '-j', 'link', 'show', 'eth0']);
        const ifindex = (JSON.parse(stdout) as { link_index?: number }[])[0]?.link_index;
        if (!ifindex) continue;
        this.#probe.attach(ifindex);
        this.#attached.set(p.uid, { ifindex, ino: statSync(p.netnsPath).ino, ip: p.ip });
      } catch (err) {
        this.log.debug('could not attach the probe to a pod', { pod: p.uid, error: (err as Error).message });
      }
    }
  }

  /** Drain the probe, aggregate, decide and spool one batch. */
  collect(policy: AgentPolicy | null, agentId: string, nodeIps: string[]): number {
    if (!this.#probe || !this.#mono || !policy) return 0;
    const flows = this.#probe.drainFlows();
    const drops = this.#probe.drainDrops();
    const loss = probeLoss(this.#probe.readCounters());
    if (loss > this.#probeLossSeen) {
      this.log.warn('the flow probe lost records; reported as lost', { lost: loss - this.#probeLossSeen });
      this.spool.lost += loss - this.#probeLossSeen;
      this.#probeLossSeen = loss;
    }
    if (!flows.length && !drops.length) return 0;
    const byIp = new Map<string, WorkloadPolicy>();
    for (const w of policy.policy.workloads) for (const a of w.addresses) byIp.set(a, w);
    const nowMono = this.#mono();
    const nowWall = Date.now();
    const out = aggregate({
      flows,
      drops,
      localIps: new Set([...[...this.#attached.values()].map((a) => a.ip), ...nodeIps]),
      localNetns: new Set([...this.#attached.values()].map((a) => a.ino)),
      probedIps: new Set([...this.#attached.values()].map((a) => a.ip)),
      wallOf: (ns) => nowWall - Number((nowMono - ns) / 1_000_000n),
      visibilityOf: (ip) => byIp.get(ip)?.visibility_level,
      decide: (src, dst, port, proto) => {
        const c = byIp.get(src);
        const p = byIp.get(dst);
        if (!c && !p) return null;
        const r = decideFlow({
          consumer: {
            peer: { ip: src, ...(c ? { href: c.href } : {}) },
            mode: c?.enforcement_mode ?? 'unmanaged',
            ...(c ? { policy: c } : {}),
          },
          provider: {
            peer: { ip: dst, ...(p ? { href: p.href } : {}) },
            mode: p?.enforcement_mode ?? 'unmanaged',
            ...(p ? { policy: p } : {}),
          },
          sets: policy.policy.sets,
          service:
            proto === 1 || proto === 58 ? { proto, icmp_type: port >> 8, icmp_code: port & 0xff } : { proto, port },
        });
        return { decision: r.decision, ...(r.rules[0] ? { rule: r.rules[0] } : {}) };
      },
    });
    this.log.debug('flows collected', {
      records: flows.length,
      drops: drops.length,
      aggregates: out.length,
      attached: this.#attached.size,
    });
    if (out.length) this.spool.add(agentId, out);
    return out.length;
  }

  /** Send spooled batches oldest first; stops at the first failure (the PCE is away). */
  async upload(pce: PceClient): Promise<void> {
    if (this.#sending) return;
    this.#sending = true;
    try {
      for (const id of this.spool.pending()) {
        const batch = this.spool.read(id);
        if (!batch) continue;
        if (this.spool.lost) batch.lost = this.spool.lost;
        try {
          await pce.request('POST', pce.agentPath('/flows'), batch);
        } catch (err) {
          if ((err as { code?: string }).code !== 'BH_ERR_API_VALIDATION') throw err;
          // Refused for good: retrying cannot help, and it must not hold up the batches behind it.
          this.log.error('the PCE refused a flow batch; dropped and counted as lost', {
            batch: id,
            error: (err as Error).message,
          });
          this.spool.lost += batch.flows.length;
          this.spool.ack(id);
          continue;
        }
        this.spool.ack(id);
        if (batch.lost) this.spool.lost -= batch.lost;
      }
    } catch (err) {
      this.log.debug('flow upload failed; batches stay spooled', {
        error: (err as Error).message,
        pending: this.spool.pending().length,
      });
    } finally {
      this.#sending = false;
    }
  }

  close(): void {
    try {
      this.#probe?.close();
    } catch {
      // closing is best effort at exit
    }
    this.#probe = null;
  }
}
