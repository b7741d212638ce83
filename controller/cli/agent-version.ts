/**
 * How an agent's version relates to the controller's, for `homestack host list`.
 * Supported: the same minor version, or one minor behind (agents are upgraded host by
 * host after the controller). Older than that, or newer than the controller, is flagged.
 */
export function agentVersionNote(controller: string, agent: string): string {
  const p = (v: string) => /^(\d+)\.(\d+)\.(\d+)/.exec(v)?.slice(1).map(Number);
  const c = p(controller);
  const a = p(agent);
  if (!a || !c) return agent ? `${agent} (unknown format)` : '(not reported)';
  if (a[0] !== c[0]) return `${agent} (major differs from controller ${controller}: unsupported)`;
  const behind = c[1]! - a[1]!;
  if (behind === 0) return agent;
  if (behind === 1) return `${agent} (one minor behind: supported, upgrade soon)`;
  if (behind < 0) return `${agent} (newer than controller ${controller}: upgrade the controller first)`;
  return `${agent} (${behind} minors behind: unsupported, upgrade this agent)`;
}
