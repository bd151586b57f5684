// SPDX-License-Identifier: Apache-2.0
// Copyright The Bulkhead Authors

/**
 * @module
 * The desktop app's saved connections: `connections.json` in the app's user
 * data directory (mode 0600), each API key secret encrypted with the OS
 * keychain (safeStorage) and never written in clear. Writes go to a
 * temporary file renamed over the old one, so a crash never loses the list.
 * Owns: the secrets; the renderer only ever sees `Connection`s.
 */
import { randomUUID } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { normalizeUrl, type Connection, type ConnectionInput } from '../common/connections.js';
import type { SecretBox } from './electron-api.js';

interface FileShape {
  version: 1;
  connections: Connection[];
  /** Connection id → base64 of the keychain-encrypted secret. */
  secrets: Record<string, string>;
}

export class ConnectionStore {
  readonly file: string;
  constructor(
    dir: string,
    private readonly box: SecretBox,
  ) {
    this.file = join(dir, 'connections.json');
  }

  #read(): FileShape {
    if (!existsSync(this.file)) return { version: 1, connections: [], secrets: {} };
    let v: FileShape;
    try {
      v = JSON.parse(readFileSync(this.file, 'utf8')) as FileShape;
    } catch (err) {
      throw new Error(`${this.file} is damaged (${(err as Error).message}); move it away to start afresh`);
    }
    if (v.version !== 1 || !Array.isArray(v.connections)) throw new Error(`${this.file}: unknown format`);
    return v;
  }
  #write(v: FileShape): void {
    mkdirSync(dirname(this.file), { recursive: true, mode: 0o700 });
    const tmp = `${this.file}.${process.pid}.tmp`;
    writeFileSync(tmp, JSON.stringify(v, null, 2) + '\n', { mode: 0o600 });
    renameSync(tmp, this.file);
  }

  list(): Connection[] {
    return this.#read().connections;
  }

  get(id: string): Connection {
    const c = this.#read().connections.find((x) => x.id === id);
    if (!c) throw new Error(`no saved connection ${id}: it was removed; connect again`);
    return c;
  }

  /** Add or update; an update without a secret keeps the stored one. */
  save(input: ConnectionInput): Connection {
    const v = this.#read();
    if (input.secret && !this.box.isEncryptionAvailable())
      throw new Error(
        'the OS keychain is not available, so the API key secret cannot be stored safely; unlock or set up the keychain (on Linux: a Secret Service such as GNOME Keyring) and try again',
      );
    const id = input.id ?? randomUUID();
    if (input.id && !v.connections.some((c) => c.id === input.id))
      throw new Error(`no saved connection ${input.id} to update`);
    if (!input.secret && !v.secrets[id]) throw new Error('secret: the API key secret is required');
    const c: Connection = {
      id,
      name: input.name.trim(),
      url: normalizeUrl(input.url),
      ca: input.ca.trim(),
      username: input.username.trim(),
    };
    v.connections = [...v.connections.filter((x) => x.id !== id), c].sort((a, b) => a.name.localeCompare(b.name));
    if (input.secret) v.secrets[id] = this.box.encryptString(input.secret).toString('base64');
    this.#write(v);
    return c;
  }

  remove(id: string): void {
    const v = this.#read();
    v.connections = v.connections.filter((c) => c.id !== id);
    delete v.secrets[id];
    this.#write(v);
  }

  /** The secret of a connection, decrypted (for the main process's request only). */
  secret(id: string): string {
    const enc = this.#read().secrets[id];
    if (!enc) throw new Error(`connection ${id} has no stored secret; edit it and enter the secret again`);
    return this.box.decryptString(Buffer.from(enc, 'base64'));
  }
}
