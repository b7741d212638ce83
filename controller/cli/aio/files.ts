import { randomBytes } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { hostname, networkInterfaces } from 'node:os';
import { dirname } from 'node:path';

/** Where the all-in-one keeps things. */
export const AIO = {
  etc: '/etc/homestack',
  controllerToml: '/etc/homestack/controller.toml',
  agentToml: '/etc/homestack/agent.toml',
  agentKey: '/etc/homestack/agent.key',
  adminPassword: '/etc/homestack/admin-password',
  openrc: '/etc/homestack/admin-openrc.sh',
  demoPassword: '/etc/homestack/demo-password',
  demoOpenrc: '/etc/homestack/demo-openrc.sh',
  /** The cloud's CA certificate for clients (OS_CACERT, clouds.yaml `cacert`); a copy of <data_dir>/pki/ca.pem. */
  caCert: '/etc/homestack/ca.pem',
  /** Where Debian's update-ca-certificates picks the CA up for the host's own clients (curl, Python, Node's --use-openssl-ca). */
  systemCaCert: '/usr/local/share/ca-certificates/homestack-ca.crt',
  cloudsYaml: '/etc/openstack/clouds.yaml',
  dataDir: '/var/lib/homestack',
  agentDataDir: '/var/lib/homestack-agent',
  logDir: '/var/log/homestack',
  runDir: '/run/homestack',
  state: '/var/lib/homestack/aio-state.json',
  port: 8000,
  agentPort: 8001,
} as const;

/** The address clients and other hosts use: the first non-internal IPv4, else loopback. */
export function primaryIp(): string {
  for (const list of Object.values(networkInterfaces())) {
    for (const a of list ?? []) if (a.family === 'IPv4' && !a.internal) return a.address;
  }
  return '127.0.0.1';
}

export const localHostName = (): string => hostname().split('.')[0]!;

/** Writes `text` to `file` unless it exists (state is reused on a re-run). Returns whether it wrote. */
export function writeOnce(file: string, text: string, mode = 0o644): boolean {
  if (existsSync(file)) return false;
  mkdirSync(dirname(file), { recursive: true });
  writeFileSync(file, text, { mode });
  chmodSync(file, mode);
  return true;
}

/** Writes (replacing) a private file with mode 0600. */
export function writePrivate(file: string, text: string): void {
  mkdirSync(dirname(file), { recursive: true });
  writeFileSync(file, text, { mode: 0o600 });
  chmodSync(file, 0o600);
}

export function controllerToml(ip: string): string {
  return [
    '# Homestack controller (written by `homestack aio up`; edit freely, it is not overwritten).',
    `data_dir = "${AIO.dataDir}"`,
    `public_url = "https://${ip}:${AIO.port}"`,
    '',
    '[listen]',
    'host = "0.0.0.0"',
    `port = ${AIO.port}`,
    '',
    "# HTTPS only, with a certificate from the cloud's CA (<data_dir>/pki); cert_file/key_file to bring your own.",
    '[tls]',
    'enabled = true',
    '',
    '[agents]',
    'heartbeat_s = 10',
    'down_after_missed = 3',
    '',
  ].join('\n');
}

export function agentToml(ip: string): string {
  return [
    '# Homestack agent of this host (written by `homestack aio up`; not overwritten).',
    `host = "${localHostName()}"`,
    'roles = ["compute", "network", "volume"]',
    `data_dir = "${AIO.agentDataDir}"`,
    `controller_url = "https://127.0.0.1:${AIO.port}"`,
    `credential_file = "${AIO.agentKey}"`,
    "# the controller must chain to the cloud's CA: tls/ca.pem beside credential_file (written at enrolment)",
    'heartbeat_s = 10',
    '',
    '[listen]',
    'host = "127.0.0.1"',
    `port = ${AIO.agentPort}`,
    '',
    '[network]',
    `tunnel_ip = "${ip}"`,
    '# the host is the gateway of the external network `public` (controller/networks/bootstrap.ts), on br-ex',
    'external_bridge_cidr = "198.51.100.1/24"',
    '',
  ].join('\n');
}

/** A password kept in `file` (0600): generated once, reused afterwards. */
export function ensurePassword(file: string): { password: string; created: boolean } {
  if (existsSync(file)) return { password: readFileSync(file, 'utf8').trim(), created: false };
  const password = randomBytes(18).toString('base64url');
  writePrivate(file, `${password}\n`);
  return { password, created: true };
}

/** The admin password: generated once (0600), reused afterwards. */
export const ensureAdminPassword = (): { password: string; created: boolean } => ensurePassword(AIO.adminPassword);

const shq = (s: string) => `'${s.replace(/'/g, `'\\''`)}'`;

/** Who an openrc or a clouds.yaml entry signs in as. */
export interface CloudUser {
  username: string;
  password: string;
  project: string;
}

export function openrc(
  publicUrl: string,
  password: string,
  region = 'RegionOne',
  who: Omit<CloudUser, 'password'> = ADMIN,
  cacert?: string,
): string {
  return [
    `# Homestack credentials of ${who.username} in project ${who.project} (source this file).`,
    `export OS_AUTH_URL=${shq(`${publicUrl}/identity/v3`)}`,
    'export OS_IDENTITY_API_VERSION=3',
    `export OS_USERNAME=${shq(who.username)}`,
    `export OS_PASSWORD=${shq(password)}`,
    `export OS_PROJECT_NAME=${shq(who.project)}`,
    'export OS_USER_DOMAIN_NAME=Default',
    'export OS_PROJECT_DOMAIN_NAME=Default',
    `export OS_REGION_NAME=${region}`,
    'export OS_INTERFACE=public',
    // The cloud's CA for an https:// cloud: the openstack client then verifies it with no --insecure.
    ...(cacert && publicUrl.startsWith('https:') ? [`export OS_CACERT=${shq(cacert)}`] : []),
    '',
  ].join('\n');
}

const ADMIN = { username: 'admin', project: 'admin' };

/** clouds.yaml: `homestack` (admin) and, when given, more clouds by name (`homestack-demo`); `cacert` for an https:// cloud. */
export function cloudsYaml(
  publicUrl: string,
  password: string,
  region = 'RegionOne',
  more: Record<string, CloudUser> = {},
  cacert?: string,
): string {
  const q = (s: string) => JSON.stringify(s);
  const entry = (name: string, u: CloudUser) => [
    `  ${name}:`,
    '    auth:',
    `      auth_url: ${q(`${publicUrl}/identity/v3`)}`,
    `      username: ${q(u.username)}`,
    `      password: ${q(u.password)}`,
    `      project_name: ${q(u.project)}`,
    '      user_domain_name: Default',
    '      project_domain_name: Default',
    `    region_name: ${region}`,
    '    interface: public',
    '    identity_api_version: 3',
    ...(cacert && publicUrl.startsWith('https:') ? [`    cacert: ${q(cacert)}`] : []),
  ];
  return [
    'clouds:',
    ...entry('homestack', { ...ADMIN, password }),
    ...Object.entries(more).flatMap(([name, u]) => entry(name, u)),
    '',
  ].join('\n');
}
