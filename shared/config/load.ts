import { readFileSync, statSync } from 'node:fs';
import { parse as parseToml } from 'smol-toml';
import type { TSchema, Static } from 'typebox';
import { Value } from 'typebox/value';

/** A configuration problem, printed by the daemon as one line before it exits. */
export class ConfigError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ConfigError';
  }
}

interface SchemaError {
  keyword: string;
  instancePath: string;
  params: Record<string, unknown>;
  message: string;
}

function keyOf(path: string): string {
  return path.replace(/^\//, '').split('/').join('.');
}

/** Turns the first schema error into one line naming the key and what was expected. */
export function describeError(e: SchemaError, schemaAt: (key: string) => TSchema | undefined): string {
  const where = keyOf(e.instancePath);
  if (e.keyword === 'additionalProperties') {
    const extra = (e.params.additionalProperties as string[])[0];
    const full = where ? `${where}.${extra}` : extra;
    return `unknown key '${full}'`;
  }
  if (e.keyword === 'required') {
    const req = (e.params.requiredProperties as string[])[0];
    return `missing key '${where ? `${where}.${req}` : req}'`;
  }
  const s = schemaAt(where) as
    | { description?: string; type?: string; enum?: unknown[]; anyOf?: Array<{ const?: unknown }> }
    | undefined;
  let expected = s?.type ?? e.keyword;
  if (s?.anyOf?.every((x) => x.const !== undefined))
    expected = `one of ${s.anyOf.map((x) => JSON.stringify(x.const)).join(', ')}`;
  if (e.keyword === 'minimum' || e.keyword === 'maximum' || e.keyword === 'pattern' || e.keyword === 'minLength') {
    expected = `${expected} (${e.message})`;
  }
  return `key '${where}': expected ${expected}${s?.description ? ` — ${s.description}` : ''}`;
}

function schemaAtPath(schema: TSchema, key: string): TSchema | undefined {
  let s: TSchema | undefined = schema;
  for (const part of key.split('.').filter(Boolean)) {
    const node = s as { properties?: Record<string, TSchema>; items?: TSchema } | undefined;
    s = /^\d+$/.test(part) && node?.items ? node.items : node?.properties?.[part];
  }
  return s;
}

/**
 * Reads a TOML file (absent → defaults only), fills defaults, and checks it against
 * the schema. Throws ConfigError with one line naming the bad key and what was expected.
 * `dirKeys` lists keys (dotted) whose value must be an existing directory.
 */
export function loadConfig<S extends TSchema>(
  schema: S,
  file: string | undefined,
  opts: { required?: boolean; dirKeys?: string[] } = {},
): Static<S> {
  let raw: unknown = {};
  if (file) {
    let text: string | undefined;
    try {
      text = readFileSync(file, 'utf8');
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'ENOENT' || opts.required) {
        throw new ConfigError(`${file}: cannot read: ${(e as Error).message}`);
      }
    }
    if (text !== undefined) {
      try {
        raw = parseToml(text);
      } catch (e) {
        throw new ConfigError(`${file}: not valid TOML: ${(e as Error).message.split('\n')[0]}`);
      }
    }
  }
  const withDefaults = Value.Default(schema, Value.Clone(raw)) as unknown;
  const errors = [...Value.Errors(schema, withDefaults)] as unknown as SchemaError[];
  // Report the most specific error: prefer unknown keys and type errors over the
  // generic "schema is false" that accompanies them.
  const useful = errors.filter((e) => e.keyword !== 'boolean');
  if (useful.length) {
    const first = useful.sort((a, b) => b.instancePath.length - a.instancePath.length)[0]!;
    throw new ConfigError(`${file ?? '(defaults)'}: ${describeError(first, (k) => schemaAtPath(schema, k))}`);
  }
  for (const key of opts.dirKeys ?? []) {
    const v = key.split('.').reduce<unknown>((o, k) => (o as Record<string, unknown> | undefined)?.[k], withDefaults);
    if (typeof v !== 'string' || !v) continue;
    let ok = false;
    try {
      ok = statSync(v).isDirectory();
    } catch {
      ok = false;
    }
    if (!ok) throw new ConfigError(`${file ?? '(defaults)'}: key '${key}': directory '${v}' does not exist`);
  }
  return withDefaults as Static<S>;
}

/** The config path from `--config PATH`, then the env variable, then the default. */
export function configPath(argv: readonly string[], envVar: string, fallback: string): string {
  const i = argv.indexOf('--config');
  if (i >= 0 && argv[i + 1]) return argv[i + 1]!;
  const eq = argv.find((a) => a.startsWith('--config='));
  if (eq) return eq.slice('--config='.length);
  return process.env[envVar] || fallback;
}
