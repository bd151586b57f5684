-- SPDX-License-Identifier: Apache-2.0
DROP TABLE flow_count;
