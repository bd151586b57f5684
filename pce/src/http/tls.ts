// SPDX-License-Identifier: Apache-2.0
// Copyright The Bulkhead Authors

/**
 * @module
 * The PCE's private CA and server certificate.
 *
 * Owns: `DIR/tls/` — `ca.pem` (public; clients trust it), `ca-key.pem`,
 * `server.pem`, `server-key.pem` (keys 0600). The CA is made once; the
 * server certificate names `localhost`, loopback and every listen address,
 * and is reissued from the same CA when those names change.
 * ECDSA P-256 (fast to make, widely supported).
 */
// @peculiar/x509 resolves its services through tsyringe, which needs the Reflect metadata polyfill.
import 'reflect-metadata';
import { webcrypto, type webcrypto as WebCrypto } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { hostname, networkInterfaces } from 'node:os';
import { join } from 'node:path';
import { isIP } from 'node:net';
import * as x509 from '@peculiar/x509';

x509.cryptoProvider.set(webcrypto as unknown as Parameters<typeof x509.cryptoProvider.set>[0]);

const ALG = { name: 'ECDSA', namedCurve: 'P-256', hash: 'SHA-256' } as const;
const DAY_MS = 86_400_000;

export interface TlsMaterial {
  cert: string;
  key: string;
  ca: string;
  caFile: string;
}

function pem(label: string, der: ArrayBuffer): string {
  const b64 = Buffer.from(der)
    .toString('base64')
    .replace(/(.{64})/g, '$1\n');
  return `-----BEGIN ${label}-----\n${b64.trimEnd()}\n-----END ${label}-----\n`;
}

function unpem(text: string): ArrayBuffer {
  const b64 = text.replace(/-----[^-]+-----/g, '').replace(/\s+/g, '');
  const buf = Buffer.from(b64, 'base64');
  return buf.buffer.slice(buf.byteOffset, buf.byteOffset + buf.byteLength);
}

const serial = (): string => {
  const b = webcrypto.getRandomValues(new Uint8Array(16));
  b[0] = (b[0] ?? 0) & 0x7f; // positive
  return Buffer.from(b).toString('hex');
};

/** The names the server certificate must carry for these listen hosts. */
export function certificateNames(listenHosts: string[]): string[] {
  const names = new Set<string>(['localhost', '127.0.0.1', '::1']);
  for (const h of listenHosts) {
    if (h === '0.0.0.0' || h === '::') {
      names.add(hostname());
      for (const addrs of Object.values(networkInterfaces()))
        for (const a of addrs ?? []) names.add(a.address.split('%')[0] ?? a.address);
    } else names.add(h);
  }
  return [...names].sort();
}

/**
 * Make or load the CA and server certificate under `dataDir/tls`.
 * Reissues the server certificate when `names` differ from the current one's.
 */
export async function ensureTls(dataDir: string, names: string[]): Promise<TlsMaterial> {
  const dir = join(dataDir, 'tls');
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const caFile = join(dir, 'ca.pem');
  const caKeyFile = join(dir, 'ca-key.pem');
  const certFile = join(dir, 'server.pem');
  const keyFile = join(dir, 'server-key.pem');
  const namesFile = join(dir, 'server-names.json');

  let caCert: x509.X509Certificate;
  let caKey: WebCrypto.CryptoKey;
  if (existsSync(caFile) && existsSync(caKeyFile)) {
    caCert = new x509.X509Certificate(readFileSync(caFile, 'utf8'));
    caKey = await webcrypto.subtle.importKey('pkcs8', unpem(readFileSync(caKeyFile, 'utf8')), ALG, true, ['sign']);
  } else {
    const keys = await webcrypto.subtle.generateKey(ALG, true, ['sign', 'verify']);
    caCert = await x509.X509CertificateGenerator.createSelfSigned({
      serialNumber: serial(),
      name: 'CN=Bulkhead PCE CA',
      notBefore: new Date(Date.now() - DAY_MS),
      notAfter: new Date(Date.now() + 3650 * DAY_MS),
      signingAlgorithm: ALG,
      keys,
      extensions: [
        new x509.BasicConstraintsExtension(true, 0, true),
        new x509.KeyUsagesExtension(x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign, true),
        await x509.SubjectKeyIdentifierExtension.create(keys.publicKey),
      ],
    });
    caKey = keys.privateKey;
    writeFileSync(caKeyFile, pem('PRIVATE KEY', await webcrypto.subtle.exportKey('pkcs8', caKey)), { mode: 0o600 });
    writeFileSync(caFile, caCert.toString('pem') + '\n', { mode: 0o644 });
  }

  const current = existsSync(namesFile) ? (JSON.parse(readFileSync(namesFile, 'utf8')) as string[]) : [];
  const fresh = existsSync(certFile) && existsSync(keyFile) && JSON.stringify(current) === JSON.stringify(names);
  if (!fresh) {
    const keys = await webcrypto.subtle.generateKey(ALG, true, ['sign', 'verify']);
    const cert = await x509.X509CertificateGenerator.create({
      serialNumber: serial(),
      subject: 'CN=localhost',
      issuer: caCert.subject,
      notBefore: new Date(Date.now() - DAY_MS),
      notAfter: new Date(Date.now() + 825 * DAY_MS),
      signingAlgorithm: ALG,
      publicKey: keys.publicKey,
      signingKey: caKey,
      extensions: [
        new x509.BasicConstraintsExtension(false, undefined, true),
        new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature | x509.KeyUsageFlags.keyEncipherment, true),
        new x509.ExtendedKeyUsageExtension([x509.ExtendedKeyUsage.serverAuth]),
        new x509.SubjectAlternativeNameExtension(
          names.map((n) => (isIP(n) ? { type: 'ip' as const, value: n } : { type: 'dns' as const, value: n })),
        ),
        await x509.AuthorityKeyIdentifierExtension.create(caCert),
      ],
    });
    writeFileSync(keyFile, pem('PRIVATE KEY', await webcrypto.subtle.exportKey('pkcs8', keys.privateKey)), {
      mode: 0o600,
    });
    writeFileSync(certFile, cert.toString('pem') + '\n');
    writeFileSync(namesFile, JSON.stringify(names));
  }
  return {
    cert: readFileSync(certFile, 'utf8'),
    key: readFileSync(keyFile, 'utf8'),
    ca: readFileSync(caFile, 'utf8'),
    caFile,
  };
}
