import { describe, expect, it } from 'vitest';
import { AIO_COMMANDS, DAEMONS_START } from './aio/index.js';
import { parseCommand, usageText, UsageError } from './args.js';
import { BACKUP, RESTORE } from './backup.js';
import { DOCTOR } from './doctor.js';
import { DOMAIN_COMMANDS } from './domain-commands.js';
import { HOST_COMMANDS } from './hosts.js';
import { BOOTSTRAP, KEYS_ROTATE } from './identity-commands.js';
import { OPS_COMMANDS } from './ops.js';

describe('CLI definitions (util.parseArgs)', () => {
  it('the usage text names every host command, from the same definitions the parser uses', () => {
    const text = usageText(Object.values(HOST_COMMANDS));
    for (const line of [
      'homestack host add [USER@]ADDRESS [--roles compute,network,volume]',
      'homestack host list [--json]',
      'homestack host remove NAME [--force]',
      'homestack host disable NAME [--reason TEXT]',
      'homestack host enable NAME',
      'homestack host drain NAME [--parallel N] [--timeout S]',
      'homestack host enrol-local',
      'homestack host enrol --name N --url U --secret-file F',
    ])
      expect(text).toContain(line);
    const all = usageText([
      ...Object.values(AIO_COMMANDS),
      DAEMONS_START,
      BOOTSTRAP,
      KEYS_ROTATE,
      ...Object.values(HOST_COMMANDS),
      ...Object.values(OPS_COMMANDS),
      BACKUP,
      RESTORE,
      DOCTOR,
    ]);
    expect(all.match(/^ {2}homestack /gm)).toHaveLength(20);
  });

  it('three command words (domain ldap set): all skipped; every LDAP key is an option; strays refused', () => {
    const spec = DOMAIN_COMMANDS.set!;
    expect(
      parseCommand(spec, ['domain', 'ldap', 'set', 'corp', '--url', 'ldap://d.example', '--use-tls', 'true', '--create']),
    ).toEqual({ positionals: ['corp'], values: { url: 'ldap://d.example', 'use-tls': 'true', create: true } });
    expect(parseCommand(spec, ['set', 'corp', '--user-id-attribute', 'uid']).positionals).toEqual(['corp']);
    expect(() => parseCommand(spec, ['domain', 'ldap', 'set'])).toThrow(UsageError);
    expect(() => parseCommand(spec, ['domain', 'ldap', 'set', 'corp', 'extra'])).toThrow(/unexpected argument 'extra'/);
    expect(() => parseCommand(spec, ['domain', 'ldap', 'set', 'corp', '--password', 'x'])).toThrow(UsageError);
    expect(usageText(Object.values(DOMAIN_COMMANDS))).toContain('homestack domain ldap show DOMAIN [--json]');
  });

  it('parses with or without the command words, refuses unknown options, missing values and stray arguments', () => {
    const spec = HOST_COMMANDS.disable!;
    expect(parseCommand(spec, ['host', 'disable', 'h1', '--reason', 'maintenance', '--config', '/c.toml'])).toEqual({
      positionals: ['h1'],
      values: { reason: 'maintenance', config: '/c.toml' },
    });
    expect(parseCommand(spec, ['disable', 'h1', '--reason=x']).values.reason).toBe('x');
    // A host may be called like a command word.
    expect(parseCommand(HOST_COMMANDS.remove!, ['remove', 'host']).positionals).toEqual(['host']);
    expect(() => parseCommand(spec, ['disable', 'h1', '--bogus'])).toThrow(UsageError);
    expect(() => parseCommand(spec, ['disable', 'h1', '--reason'])).toThrow(/argument missing/);
    expect(() => parseCommand(spec, ['disable'])).toThrow(/missing NAME/);
    expect(() => parseCommand(spec, ['disable', 'h1', 'h2'])).toThrow(/unexpected argument 'h2'/);
    expect(parseCommand(OPS_COMMANDS.echo!, ['ops', 'echo', 'h1', 'hello', '--delay-ms', '5']).positionals).toEqual([
      'h1',
      'hello',
    ]);
  });
});
