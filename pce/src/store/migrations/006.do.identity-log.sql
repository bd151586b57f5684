-- SPDX-License-Identifier: Apache-2.0
-- Bulkhead PCE schema 006: identity_log, who held each address from when, so flows are enriched with
-- the identities of their time even when they arrive late (a spooled batch after an outage or a
-- partition). Appended by the store (store/identities.ts) whenever a workload or container workload is
-- inserted, changed or deleted: one row per (address, workload) whose identity changed; `body` is the
-- flow's view of the workload (href, name, labels, namespace), NULL once the workload lost the address;
-- `kind` ranks holders of one address (0 container workload, 1 workload). Read by flow ingest; rows
-- superseded before the flow retention's cutoff are deleted by it.
CREATE TABLE identity_log (address TEXT NOT NULL, href TEXT NOT NULL, kind INTEGER NOT NULL, body TEXT, valid_from TEXT NOT NULL, seq BIGINT NOT NULL);
CREATE INDEX identity_log_address ON identity_log (address, valid_from);
CREATE INDEX identity_log_valid_from ON identity_log (valid_from);
