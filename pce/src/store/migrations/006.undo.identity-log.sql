-- SPDX-License-Identifier: Apache-2.0
DROP TABLE identity_log;
