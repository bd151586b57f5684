// SPDX-License-Identifier: Apache-2.0
// Copyright The Bulkhead Authors

/**
 * @module
 * The subcommands the C-VEN part adds to `bulkhead`: `cven run`, `cven
 * unpair` and `probe` (watch one interface's flows). The dispatcher
 * (bin/bulkhead.js) mounts what this module exports; exit codes are its:
 * 0 done, 1 failed, 2 bad usage.
 */
import type { Command } from 'commander';
import { cvenCommand } from './command.js';
import { probeCommand } from './probe/command.js';

/** Subcommands this part adds to `bulkhead`. */
export const commands: Command[] = [cvenCommand(), probeCommand()];
