-- SPDX-License-Identifier: Apache-2.0
-- Bulkhead PCE schema 003: the Kubernetes objects Kubelink reports, per cluster.
-- kube_objects: one row per (cluster, kind, key): nodes and namespaces by name, pods and services by uid.
-- Written by the cluster's Kubelink (level-based: each write is the object's whole state; a full list
-- replaces the kind); read to derive the cluster's nodes, profiles, pod metadata and virtual services.
CREATE TABLE kube_objects (cluster_id TEXT NOT NULL, kind TEXT NOT NULL, obj_key TEXT NOT NULL, namespace TEXT, body TEXT NOT NULL, updated_at TEXT NOT NULL, PRIMARY KEY (cluster_id, kind, obj_key));
CREATE INDEX kube_objects_namespace ON kube_objects (cluster_id, kind, namespace);
