/** Reported at registration and in /v1/health (bump with package.json). */
export const AGENT_VERSION = '0.1.0';
