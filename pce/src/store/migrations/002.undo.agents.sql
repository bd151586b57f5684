-- SPDX-License-Identifier: Apache-2.0
DROP TABLE pods;
DROP TABLE agents;
