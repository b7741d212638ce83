import { CloudError, ServiceUnavailable } from '../../shared/errors/index.js';

/**
 * The agent answered with its error document `{"error":{"code","message","retryable"}}`
 * (or with a reply that breaks the contract: code `BadAgentReply`). `agentStatus` is
 * the agent's HTTP status. As a CloudError it is a 500 whose message is hidden: a
 * service that wants to show something maps `code` to its own error first.
 */
export class AgentError extends CloudError {
  constructor(
    readonly agentCode: string,
    message: string,
    readonly retryable: boolean,
    readonly agentStatus: number,
  ) {
    super(500, message, agentCode, false);
    this.name = 'AgentError';
  }
}

/**
 * The agent could not be reached: connection refused or timed out, the connection
 * dropped before a reply, or the controller does not hold the host's credential yet
 * (it learns it from the host's next heartbeat). A 503 on a synchronous call; the
 * dispatcher retries it with backoff. `maybeExecuted` is true when the request may
 * have reached the agent (reply timeout, dropped connection): safe to retry only with
 * the same op id.
 */
export class AgentUnavailable extends ServiceUnavailable {
  constructor(
    readonly hostName: string,
    readonly reason: string,
    readonly maybeExecuted = false,
  ) {
    super(`The agent of host ${hostName} is unavailable: ${reason}`, 'AgentUnavailable');
    this.name = 'AgentUnavailable';
  }
}

/** Outcome of one operation, as stored and as handed to completion handlers. */
export type OpOutcome = { ok: true; reply: unknown } | { ok: false; error: { code: string; message: string; status: number } };

/** Turns an error document from an agent into its parts (tolerates junk). */
export function parseAgentErrorBody(status: number, text: string): { code: string; message: string; retryable: boolean } {
  try {
    const j = JSON.parse(text) as { error?: { code?: unknown; message?: unknown; retryable?: unknown } };
    if (j?.error && typeof j.error.code === 'string') {
      return {
        code: j.error.code,
        message: typeof j.error.message === 'string' ? j.error.message : j.error.code,
        retryable: typeof j.error.retryable === 'boolean' ? j.error.retryable : status >= 500,
      };
    }
  } catch {
    /* not JSON */
  }
  return { code: `Http${status}`, message: text.slice(0, 300) || `HTTP ${status}`, retryable: status >= 500 };
}
