import { connect } from 'node:net';
import {
  chmodSync,
  copyFileSync,
  cpSync,
  existsSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  renameSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { basename, dirname, join } from 'node:path';
import type { ControllerConfig } from '../../shared/config/controller.js';
import { openDb, type Db } from '../db/open.js';
import { loadMigrations, schemaVersion } from '../db/migrate.js';
import { parsed, type CommandSpec } from './args.js';
import { controllerConfig, dbPath } from './context.js';

/**
 * `homestack backup DIR` / `homestack restore DIR`: a directory-format archive holding
 * manifest.json (format, schema version, Homestack version, time), homestack.db (an
 * online, consistent copy made with SQLite's backup API while the controller runs),
 * fernet-keys/ (so tokens issued before still validate), pki/ (the cloud's CA, so the
 * certificates it issued stay trusted) and etc/*.toml (the configs).
 */
export interface BackupManifest {
  format: 'homestack-backup-1';
  schema_version: number;
  homestack_version: string;
  created_at: string;
  files: string[];
}

/**
 * The version in the project's package.json, found by walking up from this module:
 * it sits two levels up from the TypeScript source and three from dist/.
 */
export function homestackVersion(): string {
  for (let url = new URL('./', import.meta.url); url.pathname !== '/'; url = new URL('../', url)) {
    try {
      const pkg = JSON.parse(readFileSync(new URL('package.json', url), 'utf8')) as { name?: string; version: string };
      if (pkg.name === 'homestack') return pkg.version;
    } catch {
      // not here: keep walking up
    }
  }
  throw new Error('cannot find the homestack package.json');
}

function keysDir(config: ControllerConfig): string {
  return join(config.data_dir, 'fernet-keys');
}

/** The cloud's CA and the API certificate (controller/pki): without them every host certificate would have to be re-issued. */
function pkiDir(config: ControllerConfig): string {
  return join(config.data_dir, 'pki');
}

/** Copies the regular files of a pki directory (never the half-made `.new-*`/`.issue-*` ones): 0700, keys 0600. */
function copyPki(from: string, to: string): string[] {
  mkdirSync(to, { recursive: true, mode: 0o700 });
  chmodSync(to, 0o700);
  const names = readdirSync(from, { withFileTypes: true })
    .filter((e) => e.isFile() && !e.name.startsWith('.'))
    .map((e) => e.name);
  for (const n of names) {
    copyFileSync(join(from, n), join(to, n));
    chmodSync(join(to, n), n.endsWith('.key') ? 0o600 : 0o644);
  }
  return names;
}

/** Writes the archive into `dest` (which must not exist yet). */
export async function createBackup(o: {
  db: Db;
  config: ControllerConfig;
  dest: string;
  configFiles: string[];
}): Promise<BackupManifest> {
  if (existsSync(o.dest)) throw new Error(`${o.dest} exists; choose a new name`);
  const tmp = `${o.dest}.partial`;
  rmSync(tmp, { recursive: true, force: true });
  mkdirSync(join(tmp, 'etc'), { recursive: true, mode: 0o700 });
  try {
    await o.db.backup(join(tmp, 'homestack.db'));
    chmodSync(join(tmp, 'homestack.db'), 0o600); // credential hashes, secrets of the cloud
    const files = ['homestack.db'];
    if (existsSync(keysDir(o.config))) {
      cpSync(keysDir(o.config), join(tmp, 'fernet-keys'), { recursive: true });
      files.push(...readdirSync(join(tmp, 'fernet-keys')).map((f) => `fernet-keys/${f}`));
    }
    if (existsSync(pkiDir(o.config))) files.push(...copyPki(pkiDir(o.config), join(tmp, 'pki')).map((f) => `pki/${f}`));
    for (const f of o.configFiles) {
      if (!existsSync(f)) continue;
      copyFileSync(f, join(tmp, 'etc', basename(f)));
      files.push(`etc/${basename(f)}`);
    }
    const copy = openDb(join(tmp, 'homestack.db'));
    const manifest: BackupManifest = {
      format: 'homestack-backup-1',
      schema_version: schemaVersion(copy),
      homestack_version: homestackVersion(),
      created_at: new Date().toISOString(),
      files,
    };
    copy.close();
    writeFileSync(join(tmp, 'manifest.json'), `${JSON.stringify(manifest, null, 2)}\n`, { mode: 0o600 });
    renameSync(tmp, o.dest);
    return manifest;
  } catch (e) {
    rmSync(tmp, { recursive: true, force: true });
    throw e;
  }
}

/** True when something accepts TCP connections on host:port. */
export function portAnswers(host: string, port: number, timeoutMs = 1000): Promise<boolean> {
  return new Promise((resolve) => {
    const s = connect({ host: host === '0.0.0.0' || host === '::' ? '127.0.0.1' : host, port });
    const done = (v: boolean) => {
      s.destroy();
      resolve(v);
    };
    s.setTimeout(timeoutMs, () => done(false));
    s.once('connect', () => done(true));
    s.once('error', () => done(false));
  });
}

/**
 * Restores an archive onto a stopped controller: refuses when the controller's port
 * answers, when the archive is not one, or when its schema is newer than this code.
 * Replaces the database, the token keys and the CA; config files go to `configDir` when given.
 */
export async function restoreBackup(o: {
  config: ControllerConfig;
  src: string;
  configDir?: string;
  codeSchemaVersion?: number;
}): Promise<BackupManifest> {
  const mf = join(o.src, 'manifest.json');
  if (!existsSync(mf)) throw new Error(`${o.src} is not a Homestack backup (no manifest.json)`);
  const m = JSON.parse(readFileSync(mf, 'utf8')) as BackupManifest;
  if (m.format !== 'homestack-backup-1') throw new Error(`${o.src}: unknown backup format ${JSON.stringify(m.format)}`);
  const code = o.codeSchemaVersion ?? Math.max(0, ...loadMigrations().map((x) => x.version));
  if (m.schema_version > code) {
    throw new Error(
      `the backup's schema is version ${m.schema_version} (Homestack ${m.homestack_version}) but this code knows up to ${code}: upgrade Homestack before restoring it`,
    );
  }
  if (await portAnswers(o.config.listen.host, o.config.listen.port)) {
    throw new Error(
      `something answers on ${o.config.listen.host}:${o.config.listen.port}: stop the controller (systemctl stop homestack-controller) before restoring`,
    );
  }
  const target = dbPath(o.config);
  mkdirSync(dirname(target), { recursive: true, mode: 0o700 });
  for (const suffix of ['-wal', '-shm']) rmSync(`${target}${suffix}`, { force: true });
  copyFileSync(join(o.src, 'homestack.db'), `${target}.restoring`);
  renameSync(`${target}.restoring`, target);
  if (existsSync(join(o.src, 'fernet-keys'))) {
    rmSync(keysDir(o.config), { recursive: true, force: true });
    cpSync(join(o.src, 'fernet-keys'), keysDir(o.config), { recursive: true });
  }
  if (existsSync(join(o.src, 'pki'))) {
    rmSync(pkiDir(o.config), { recursive: true, force: true });
    copyPki(join(o.src, 'pki'), pkiDir(o.config));
  }
  if (o.configDir && existsSync(join(o.src, 'etc'))) {
    mkdirSync(o.configDir, { recursive: true });
    for (const f of readdirSync(join(o.src, 'etc'))) copyFileSync(join(o.src, 'etc', f), join(o.configDir, f));
  }
  return m;
}

function configFilesNear(file: string): string[] {
  const dir = dirname(file);
  return existsSync(dir)
    ? readdirSync(dir)
        .filter((f) => f.endsWith('.toml'))
        .map((f) => join(dir, f))
    : [];
}

export const BACKUP: CommandSpec = {
  words: 'backup',
  args: 'DIR',
  help: 'online copy of the database, token keys and configs',
};
export const RESTORE: CommandSpec = {
  words: 'restore',
  args: 'DIR',
  options: { 'with-configs': { type: 'boolean' } },
  help: 'onto a stopped controller (refuses a newer schema)',
};

export async function backupCommand(_sub: string | undefined, argv: readonly string[]): Promise<number> {
  const a = parsed(BACKUP, argv);
  if (typeof a === 'number') return a;
  const target = a.positionals[0]!;
  const { file, config } = controllerConfig(argv);
  const db = openDb(dbPath(config), config.database.busy_timeout_ms);
  try {
    const m = await createBackup({ db, config, dest: target, configFiles: configFilesNear(file) });
    process.stdout.write(
      `backup written to ${target}: schema ${m.schema_version}, Homestack ${m.homestack_version}, ${m.files.length} files\n`,
    );
    return 0;
  } finally {
    db.close();
  }
}

export async function restoreCommand(_sub: string | undefined, argv: readonly string[]): Promise<number> {
  const a = parsed(RESTORE, argv);
  if (typeof a === 'number') return a;
  const src = a.positionals[0]!;
  const { file, config } = controllerConfig(argv);
  try {
    const m = await restoreBackup({ config, src, configDir: a.values['with-configs'] === true ? dirname(file) : undefined });
    process.stdout.write(`restored the backup of ${m.created_at} (schema ${m.schema_version}); start the controller\n`);
    return 0;
  } catch (e) {
    process.stderr.write(`homestack restore: ${(e as Error).message}\n`);
    return 1;
  }
}
