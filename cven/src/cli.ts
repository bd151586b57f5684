// SPDX-License-Identifier: Apache-2.0
// Copyright The Bulkhead Authors

/**
 * @module
 * The `bulkhead cven ...` subcommands. None yet: this part is planned
 * (see the open issues); the dispatcher mounts what this module exports.
 */
import type { Command } from 'commander';

/** Subcommands this part adds to `bulkhead`. */
export const commands: Command[] = [];
