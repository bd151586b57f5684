// SPDX-License-Identifier: Apache-2.0
// Copyright The Bulkhead Authors

/**
 * @module
 * The wire contract every part imports (`@bulkhead/pce/api`): object
 * schemas and types, compiled node policy, the one flow evaluator, errors.
 * Pure: nothing here does I/O.
 */
export * from './errors.js';
export * from './policy-objects.js';
export * from './inventory-objects.js';
export * from './node-policy.js';
export * from './evaluate.js';
export * from './ip.js';
export * from './agent.js';
export * from './kubelink.js';
export * from './traffic.js';
export * from './traffic-views.js';
export * from './console-policy.js';
