// SPDX-License-Identifier: Apache-2.0
// Copyright The Bulkhead Authors

/**
 * @module
 * The kubeconfig `lab up` leaves in `LAB/kubeconfig`: one cluster (the lab
 * API server, its CA inline), one user (the bearer token), one context.
 * Pure.
 */

export function renderKubeconfig(lab: string, server: string, caPem: string, token: string): string {
  const ca = Buffer.from(caPem).toString('base64');
  return `apiVersion: v1
kind: Config
clusters:
  - name: bulkhead-lab-${lab}
    cluster:
      server: ${server}
      certificate-authority-data: ${ca}
users:
  - name: bulkhead-lab-${lab}
    user:
      token: ${token}
contexts:
  - name: bulkhead-lab-${lab}
    context:
      cluster: bulkhead-lab-${lab}
      user: bulkhead-lab-${lab}
current-context: bulkhead-lab-${lab}
`;
}
