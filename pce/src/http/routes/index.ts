// SPDX-License-Identifier: Apache-2.0
// Copyright The Bulkhead Authors

/** @module Every route of the PCE's REST API, registered in one place. */
import type { FastifyInstance } from 'fastify';
import { adminRoutes } from './admin.js';
import { agentRoutes } from './agents.js';
import { clusterRoutes } from './clusters.js';
import { kubelinkRoutes } from './kubelink.js';
import { labelRoutes } from './labels.js';
import { policyObjectRoutes } from './policy-objects.js';
import { secPolicyRoutes } from './sec-policy.js';
import { trafficRoutes } from './traffic.js';
import { workloadRoutes } from './workloads.js';

export async function registerRoutes(app: FastifyInstance): Promise<void> {
  await app.register(adminRoutes);
  await app.register(labelRoutes);
  await app.register(policyObjectRoutes);
  await app.register(secPolicyRoutes);
  await app.register(workloadRoutes);
  await app.register(clusterRoutes);
  await app.register(agentRoutes);
  await app.register(kubelinkRoutes);
  await app.register(trafficRoutes);
}
