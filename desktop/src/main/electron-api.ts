// SPDX-License-Identifier: Apache-2.0
// Copyright The Bulkhead Authors

/**
 * @module
 * The few Electron APIs the main process uses, typed here so the desktop
 * package compiles and its logic is tested where Electron is not installed
 * (it is an optional dependency: its binary cannot be downloaded on every
 * machine). `main.ts` loads the real module and hands it over as this shape.
 */

/** Electron's `safeStorage`: encryption with the OS keychain. */
export interface SecretBox {
  isEncryptionAvailable(): boolean;
  encryptString(plain: string): Buffer;
  decryptString(encrypted: Buffer): string;
}

/** What an IPC handler learns of its caller (`IpcMainInvokeEvent`). */
export interface IpcCaller {
  senderFrame: { url: string } | null;
}
