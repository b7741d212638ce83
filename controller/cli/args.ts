import { parseArgs } from 'node:util';

/**
 * The CLI's command definitions and their parsing (node:util parseArgs, strict): each
 * command names its words, its positional arguments and its options once, and the
 * usage text is generated from the same definitions.
 */
export interface OptionSpec {
  type: 'string' | 'boolean';
  /** Placeholder of a string option's value in the usage text (FILE, N...). */
  value?: string;
}

export interface CommandSpec {
  /** The command words, e.g. 'host list'. */
  words: string;
  /** Positional arguments as shown in the usage text, e.g. 'NAME' or '[USER@]ADDRESS'. */
  args?: string;
  /** How many positional arguments it takes (default: as many as `args` names). */
  positionals?: { min: number; max: number };
  options?: Record<string, OptionSpec>;
  /** Options shown in the usage text in this form instead of one by one (alternatives). */
  optionsText?: string;
  help: string;
}

/** Accepted by every command. */
export const GLOBAL_OPTIONS: Record<string, OptionSpec> = {
  config: { type: 'string', value: 'FILE' },
  'agent-config': { type: 'string', value: 'FILE' },
  help: { type: 'boolean' },
};

export type Values = Record<string, string | boolean | undefined>;

/** A command line that does not fit its command: the message and the command's usage. */
export class UsageError extends Error {
  constructor(
    message: string,
    readonly spec: CommandSpec,
  ) {
    super(message);
  }
}

const countOf = (spec: CommandSpec) =>
  spec.positionals ??
  (() => {
    const names = (spec.args ?? '').split(/\s+/).filter(Boolean);
    return { min: names.filter((n) => !n.startsWith('[')).length, max: names.length };
  })();

/**
 * Parses `argv` for `spec`: the command words it starts with (all, or those after the
 * first when the caller dropped it) are skipped; what is left must be the command's
 * positionals and options. Throws UsageError.
 */
export function parseCommand(spec: CommandSpec, argv: readonly string[]): { positionals: string[]; values: Values } {
  let r: { positionals: string[]; values: Values };
  try {
    r = parseArgs({
      args: [...argv],
      options: { ...GLOBAL_OPTIONS, ...(spec.options ?? {}) },
      allowPositionals: true,
      strict: true,
    }) as { positionals: string[]; values: Values };
  } catch (e) {
    throw new UsageError((e as Error).message, spec);
  }
  const words = spec.words.split(' ');
  let pos = r.positionals;
  if (words.length > 2 && words.every((w, i) => pos[i] === w)) pos = pos.slice(words.length);
  else if (pos[0] === words[0] && words.length > 1 && pos[1] === words[1]) pos = pos.slice(2);
  else if (pos[0] === words.at(-1)) pos = pos.slice(1);
  else if (words.length === 1 && pos[0] === words[0]) pos = pos.slice(1);
  const n = countOf(spec);
  if (pos.length < n.min) throw new UsageError(`missing ${spec.args}`, spec);
  if (pos.length > n.max) throw new UsageError(`unexpected argument '${pos[n.max]}'`, spec);
  return { positionals: pos, values: r.values };
}

/** "homestack host remove NAME [--force]", options in definition order. */
export function usageLine(spec: CommandSpec): string {
  const opts =
    spec.optionsText ??
    Object.entries(spec.options ?? {})
      .map(([k, o]) => (o.type === 'boolean' ? `[--${k}]` : `[--${k} ${o.value ?? 'VALUE'}]`))
      .join(' ');
  return ['homestack', spec.words, spec.args, opts].filter(Boolean).join(' ');
}

/** The usage text of some commands: each line, then its help indented. */
export function usageText(specs: readonly CommandSpec[]): string {
  return specs.map((s) => `  ${usageLine(s)}\n      ${s.help}\n`).join('');
}

/** Writes "homestack WORDS: message" and the command's usage; returns the exit code 2. */
export function usageFailure(e: UsageError): number {
  process.stderr.write(`homestack ${e.spec.words}: ${e.message}\nusage: ${usageLine(e.spec)}\n`);
  return 2;
}

/** Parses for `spec`, or writes the usage error and returns its exit code (2). */
export function parsed(spec: CommandSpec, argv: readonly string[]): ReturnType<typeof parseCommand> | number {
  try {
    return parseCommand(spec, argv);
  } catch (e) {
    if (e instanceof UsageError) return usageFailure(e);
    throw e;
  }
}

/** The value of a string option. */
export const str = (v: Values, k: string): string | undefined => (typeof v[k] === 'string' ? (v[k] as string) : undefined);
