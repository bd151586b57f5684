// SPDX-License-Identifier: Apache-2.0
// Copyright The Bulkhead Authors

/**
 * @module
 * The agent's Prometheus metrics (prom-client), one registry per agent,
 * served as text at /metrics. Names: `bulkhead_cven_*`, units in the name.
 */
import { Counter, Gauge, Histogram, Registry } from 'prom-client';

const LATENCY_BUCKETS = [0.05, 0.1, 0.2, 0.3, 0.5, 0.75, 1, 1.5, 2, 3, 5, 10];

export class AgentMetrics {
  readonly registry = new Registry();
  readonly applies = new Counter({
    name: 'bulkhead_cven_policy_applies_total',
    help: 'Converges that wrote or removed at least one table',
    registers: [this.registry],
  });
  readonly applyErrors = new Counter({
    name: 'bulkhead_cven_apply_errors_total',
    help: 'Tables nft refused (retried)',
    registers: [this.registry],
  });
  readonly applySeconds = new Histogram({
    name: 'bulkhead_cven_apply_seconds',
    help: 'Time to apply the node policy across its tables',
    buckets: [0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2, 5],
    registers: [this.registry],
  });
  readonly tampering = new Counter({
    name: 'bulkhead_cven_tampering_total',
    help: 'Tables found changed or deleted by someone else (restored)',
    registers: [this.registry],
  });
  readonly policyReceived = new Counter({
    name: 'bulkhead_cven_policy_received_total',
    help: 'New policy versions received, by channel',
    labelNames: ['via'],
    registers: [this.registry],
  });
  readonly pods = new Gauge({
    name: 'bulkhead_cven_pods',
    help: 'Pod sandboxes on the node',
    registers: [this.registry],
  });
  readonly rules = new Gauge({
    name: 'bulkhead_cven_firewall_rules',
    help: 'Rules across the tables the agent holds',
    registers: [this.registry],
  });
  readonly podFirstTableSeconds = new Histogram({
    name: 'bulkhead_cven_pod_first_table_seconds',
    help: 'From sandbox start to its first table (fail-closed or real)',
    buckets: LATENCY_BUCKETS,
    registers: [this.registry],
  });
  readonly podEnforcedSeconds = new Histogram({
    name: 'bulkhead_cven_pod_enforced_seconds',
    help: "From sandbox start to its own policy's table applied",
    buckets: LATENCY_BUCKETS,
    registers: [this.registry],
  });
}
