/**
 * Fields never written to logs: tokens, passwords, secrets. Used by the controller's
 * and the agents' pino loggers.
 */
export const REDACT_PATHS = [
  'req.headers["x-auth-token"]',
  'req.headers["x-subject-token"]',
  'req.headers.authorization',
  'req.headers.cookie',
  'req.headers["x-homestack-agent-key"]',
  'res.headers["x-subject-token"]',
  'res.headers["set-cookie"]',
  '*.password',
  '*.secret',
  '*.token',
  '*.auth_password',
  '*.chap_password',
];

export function loggerOptions(level: string, name: string) {
  return {
    level,
    name,
    redact: { paths: REDACT_PATHS, censor: '***' },
    base: { service: name },
    timestamp: () => `,"time":"${new Date().toISOString()}"`,
  };
}
