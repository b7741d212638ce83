import { BadRequest, CloudError, Conflict, NotFound } from '../../shared/errors/index.js';

/**
 * Compute-agent errors. Codes are the `error.code` of the agent's reply (see
 * shared/agent/compute.ts). 5xx ones are `safe`: their message names the failing step
 * and the tool's message, and the controller copies it into the server's fault.
 */

export class InstanceNotFound extends NotFound {
  constructor(uuid: string) {
    super(`Instance ${uuid} could not be found on this host.`, 'InstanceNotFound');
  }
}
export class InstanceExists extends Conflict {
  constructor(uuid: string) {
    super(`Instance ${uuid} already exists on this host.`, 'InstanceExists');
  }
}
export class InvalidState extends Conflict {
  constructor(message: string) {
    super(message, 'InvalidState');
  }
}
export class BadSpec extends BadRequest {
  constructor(message: string) {
    super(message, 'BadSpec');
  }
}

/** A step of a hypervisor operation failed; `retryable` tells the dispatcher it may try again. */
export class HypervisorFault extends CloudError {
  constructor(
    code: string,
    message: string,
    readonly retryable = false,
    override readonly cause?: unknown,
  ) {
    super(500, message, code, true);
  }
}

/** Wraps an error from a named step (keeps CloudErrors as they are). */
export function stepFailed(code: string, step: string, e: unknown): CloudError {
  if (e instanceof CloudError) return e;
  const msg = e instanceof Error ? e.message : String(e);
  return new HypervisorFault(code, `${step}: ${msg}`, false, e);
}
