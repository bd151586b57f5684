-- SPDX-License-Identifier: Apache-2.0
DROP TABLE traffic_queries;
DROP TABLE flow_batches;
DROP TABLE flows;
