// SPDX-License-Identifier: Apache-2.0
// Copyright The Bulkhead Authors

/**
 * @module
 * Address parsing for validation: IPv4/IPv6 addresses and CIDRs.
 * Delegates to the wire contract's `ip` module (one parser in the code base).
 */
export { parseAddress } from '../api/ip.js';
