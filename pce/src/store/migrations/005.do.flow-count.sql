-- SPDX-License-Identifier: Apache-2.0
-- Bulkhead PCE schema 005: how many rows `flows` holds, kept by flow ingest in the transaction that
-- changes them (a new row +1, a row folded into another -1, rows pruned -n), so the retention's size
-- bound (settings/traffic max_stored_flows) is checked without counting the table. One row, id 1.
CREATE TABLE flow_count (id INTEGER PRIMARY KEY, n BIGINT NOT NULL);
INSERT INTO flow_count (id, n) SELECT 1, count(*) FROM flows;
