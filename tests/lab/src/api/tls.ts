// SPDX-License-Identifier: Apache-2.0
// Copyright The Bulkhead Authors

/**
 * @module
 * TLS for the lab API server: a private CA and a server certificate naming
 * the API server's underlay address, `localhost` and loopback, made once
 * per lab in `api/` (keys 0600), with the `openssl` program (ECDSA P-256).
 * The CA key is deleted once the server certificate is signed: nothing
 * else is ever issued from it.
 */
import { randomBytes } from 'node:crypto';
import { existsSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { run } from '../sh.js';

export interface Tls {
  ca: string;
  cert: string;
  key: string;
}

export async function ensureTls(dir: string, ips: string[]): Promise<Tls> {
  const f = {
    ca: join(dir, 'ca.pem'),
    caKey: join(dir, 'ca-key.pem'),
    cert: join(dir, 'server.pem'),
    key: join(dir, 'server-key.pem'),
    csr: join(dir, 'server.csr'),
    ext: join(dir, 'server.ext'),
  };
  if (!(existsSync(f.ca) && existsSync(f.cert) && existsSync(f.key))) {
    const ec = ['-algorithm', 'EC', '-pkeyopt', 'ec_paramgen_curve:P-256'];
    await run(['openssl', 'genpkey', ...ec, '-out', f.caKey]);
    await run([
      'openssl',
      'req',
      '-x509',
      '-new',
      '-key',
      f.caKey,
      '-subj',
      '/CN=bulkhead-lab-ca',
      '-days',
      '3650',
      '-out',
      f.ca,
      '-addext',
      'basicConstraints=critical,CA:TRUE,pathlen:0',
      '-addext',
      'keyUsage=critical,keyCertSign,cRLSign',
    ]);
    await run(['openssl', 'genpkey', ...ec, '-out', f.key]);
    await run(['openssl', 'req', '-new', '-key', f.key, '-subj', '/CN=bulkhead-lab-apiserver', '-out', f.csr]);
    const san = ['DNS:localhost', 'DNS:kubernetes', ...['127.0.0.1', ...ips].map((ip) => `IP:${ip}`)].join(',');
    writeFileSync(
      f.ext,
      `basicConstraints=critical,CA:FALSE\nkeyUsage=critical,digitalSignature,keyEncipherment\nextendedKeyUsage=serverAuth\nsubjectAltName=${san}\n`,
    );
    await run([
      'openssl',
      'x509',
      '-req',
      '-in',
      f.csr,
      '-CA',
      f.ca,
      '-CAkey',
      f.caKey,
      '-set_serial',
      `0x${randomBytes(15).toString('hex')}`,
      '-days',
      '3650',
      '-extfile',
      f.ext,
      '-out',
      f.cert,
    ]);
    for (const p of [f.caKey, f.csr, f.ext]) rmSync(p, { force: true });
  }
  return { ca: readFileSync(f.ca, 'utf8'), cert: readFileSync(f.cert, 'utf8'), key: readFileSync(f.key, 'utf8') };
}
