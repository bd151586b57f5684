// SPDX-License-Identifier: Apache-2.0
// Copyright The Bulkhead Authors

/**
 * @module
 * Cumulative flow counts: drained records (each the counts since that
 * flow's previous drain) summed per flow since the table was created.
 *
 * Owns: the flow identity (veth, direction, 5-tuple) and how records merge.
 * Pure: no I/O, no clock. Bounded by the caller (`maxFlows`; the oldest by
 * last packet go first), so a long-running reader cannot grow without limit.
 */
import type { Direction, FlowRecord } from './abi.js';

/** A flow's counts since the table first saw it. */
export interface FlowTotals {
  ifindex: number;
  direction: Direction;
  proto: number;
  saddr: string;
  sport: number;
  daddr: string;
  dport: number;
  packets: number;
  bytes: number;
  firstSeenNs: bigint;
  lastSeenNs: bigint;
  tcpFlags: number;
}

/** The identity of a flow: one string per (veth, direction, 5-tuple). */
export function flowId(
  f: Pick<FlowRecord, 'ifindex' | 'direction' | 'proto' | 'saddr' | 'sport' | 'daddr' | 'dport'>,
): string {
  return `${f.ifindex}|${f.direction}|${f.proto}|${f.saddr}|${f.sport}|${f.daddr}|${f.dport}`;
}

export class FlowTable {
  readonly #flows = new Map<string, FlowTotals>();
  readonly #maxFlows: number;

  constructor(maxFlows = 1_000_000) {
    this.#maxFlows = maxFlows;
  }

  /** Add drained records; returns the totals of each flow they touched (once per flow). */
  add(records: readonly FlowRecord[]): FlowTotals[] {
    const touched = new Map<string, FlowTotals>();
    for (const r of records) {
      const id = flowId(r);
      let t = this.#flows.get(id);
      if (!t) {
        t = {
          ifindex: r.ifindex,
          direction: r.direction,
          proto: r.proto,
          saddr: r.saddr,
          sport: r.sport,
          daddr: r.daddr,
          dport: r.dport,
          packets: 0,
          bytes: 0,
          firstSeenNs: r.firstSeenNs,
          lastSeenNs: r.lastSeenNs,
          tcpFlags: 0,
        };
        this.#flows.set(id, t);
      } else {
        // Map order is insertion order: re-insert so the oldest-touched flow stays first.
        this.#flows.delete(id);
        this.#flows.set(id, t);
      }
      t.packets += r.packets;
      t.bytes += r.bytes;
      t.tcpFlags |= r.tcpFlags;
      if (r.firstSeenNs < t.firstSeenNs) t.firstSeenNs = r.firstSeenNs;
      if (r.lastSeenNs > t.lastSeenNs) t.lastSeenNs = r.lastSeenNs;
      touched.set(id, t);
    }
    while (this.#flows.size > this.#maxFlows) {
      const oldest = this.#flows.keys().next();
      if (oldest.done) break;
      this.#flows.delete(oldest.value);
    }
    return [...touched.values()];
  }

  /** The totals of one flow, if seen. */
  get(id: string): FlowTotals | undefined {
    return this.#flows.get(id);
  }

  /** Every flow, oldest-touched first. */
  all(): FlowTotals[] {
    return [...this.#flows.values()];
  }

  get size(): number {
    return this.#flows.size;
  }
}
