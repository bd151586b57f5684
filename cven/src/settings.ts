// SPDX-License-Identifier: Apache-2.0
// Copyright The Bulkhead Authors

/**
 * @module
 * The one list of the C-VEN's settings: each is a flag of `bulkhead cven
 * run` and an environment variable (`BULKHEAD_` + the flag in upper snake
 * case), documented once here; the command's help and the chart read it.
 * Precedence: flag, then environment, then default.
 */
import { BulkheadError } from '@bulkhead/pce/api';

export interface Setting {
  flag: string;
  /** `BULKHEAD_...` */
  env: string;
  description: string;
  required: boolean;
  default?: string;
  /** Never printed (help shows only that it is set). */
  secret?: boolean;
}

const setting = <F extends string>(
  flag: F,
  description: string,
  opts: Omit<Partial<Setting>, 'flag'> = {},
): Setting & { flag: F } => ({
  env: `BULKHEAD_${flag.replace(/-/g, '_').toUpperCase()}`,
  description,
  required: opts.default === undefined && opts.required !== false,
  ...opts,
  flag,
});

export const CVEN_SETTINGS = [
  setting('pce', "the PCE's URL, https://HOST:PORT"),
  setting('ca', "the PCE's CA certificate (PEM file)"),
  setting(
    'activation-code',
    'pairing key from a pairing profile (needed until paired; credentials are kept in the state dir)',
    {
      secret: true,
      required: false,
    },
  ),
  setting('cluster-id', "the container cluster's id (last segment of its href)"),
  setting('node-name', "this node's name (Kubernetes node name)"),
  setting('cri-socket', "the container runtime's CRI endpoint", { default: 'unix:///run/containerd/containerd.sock' }),
  setting('machine-id-file', "the node's machine id", { default: '/etc/machine-id' }),
  setting('state-dir', 'where credentials and the last applied policy are kept', { default: '/var/lib/bulkhead/cven' }),
  setting('health-listen', '/healthz, /readyz and /metrics listener, HOST:PORT', { default: '127.0.0.1:9102' }),
  setting('resolv-conf', 'resolver configuration whose nameservers the node may always reach (DNS)', {
    default: '/etc/resolv.conf',
  }),
  setting('log-level', 'error, warn, info or debug', { default: 'info' }),
] as const;

export type SettingFlag = (typeof CVEN_SETTINGS)[number]['flag'];
export type CvenSettings = Record<SettingFlag, string>;

const camel = (flag: string): string => flag.replace(/-([a-z])/g, (_, c: string) => c.toUpperCase());

/**
 * Resolve every setting from parsed flags (commander's camelCase keys) and
 * the environment.
 * @throws BulkheadError BH_ERR_CONFIG naming every missing setting and both ways to give it.
 */
export function resolveSettings(flags: Record<string, unknown>, env: NodeJS.ProcessEnv = process.env): CvenSettings {
  const out = {} as Record<string, string>;
  const missing: string[] = [];
  for (const s of CVEN_SETTINGS) {
    const v = flags[camel(s.flag)] ?? env[s.env] ?? s.default;
    if (typeof v === 'string' && v !== '') out[s.flag] = v;
    else if (s.required) missing.push(`--${s.flag} (or ${s.env})`);
  }
  if (missing.length) throw new BulkheadError('BH_ERR_CONFIG', `missing settings: ${missing.join(', ')}`);
  if (!['error', 'warn', 'info', 'debug'].includes(out['log-level']!))
    throw new BulkheadError(
      'BH_ERR_CONFIG',
      `--log-level: "${out['log-level']}" is not one of error, warn, info, debug`,
    );
  return out as CvenSettings;
}

/** `HOST:PORT` → parts. @throws BulkheadError BH_ERR_CONFIG */
export function parseHostPort(value: string, what: string): { host: string; port: number } {
  const m = /^\[?([^\]]+?)\]?:(\d{1,5})$/.exec(value);
  const port = m ? Number(m[2]) : NaN;
  if (!m || port < 1 || port > 65535)
    throw new BulkheadError('BH_ERR_CONFIG', `${what}: "${value}" is not HOST:PORT (e.g. 127.0.0.1:9102)`);
  return { host: m[1]!, port };
}
