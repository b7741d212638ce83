/**
 * CloudError: the one error type that crosses layers. `status` is the HTTP status,
 * `code` a stable machine name (for Neutron it is the error `type`), and `safe`
 * says whether the message may be shown to the caller (never for 5xx).
 */
export class CloudError extends Error {
  readonly status: number;
  readonly code: string;
  readonly safe: boolean;
  /** Extra headers to send with the error response (e.g. Retry-After). */
  headers?: Record<string, string>;
  constructor(status: number, message: string, code?: string, safe = status < 500) {
    super(message);
    this.status = status;
    this.code = code ?? new.target.name;
    this.safe = safe;
    this.name = new.target.name;
  }
}

export class BadRequest extends CloudError {
  constructor(message: string, code?: string) {
    super(400, message, code);
  }
}
export class Unauthorized extends CloudError {
  constructor(message = 'The request you have made requires authentication.', code?: string) {
    super(401, message, code);
  }
}
export class Forbidden extends CloudError {
  constructor(message = 'You are not authorized to perform the requested action.', code?: string) {
    super(403, message, code);
  }
}
export class NotFound extends CloudError {
  constructor(message: string, code?: string) {
    super(404, message, code);
  }
}
export class MethodNotAllowed extends CloudError {
  constructor(message = 'The method is not allowed for this resource.', code?: string) {
    super(405, message, code);
  }
}
export class Conflict extends CloudError {
  constructor(message: string, code?: string) {
    super(409, message, code);
  }
}
/** 413 by default (Nova/Cinder/Glance "over limit"); pass 429 for rate limits. */
export class OverLimit extends CloudError {
  constructor(message: string, code?: string, status: 413 | 429 = 413) {
    super(status, message, code);
  }
}
export class UnsupportedMediaType extends CloudError {
  constructor(message: string, code?: string) {
    super(415, message, code);
  }
}
export class NotImplemented extends CloudError {
  constructor(message = 'The requested function is not implemented.', code?: string) {
    super(501, message, code, true);
  }
}
export class ServiceUnavailable extends CloudError {
  constructor(message = 'The service is unavailable.', code?: string) {
    super(503, message, code, true);
  }
}

export function isCloudError(e: unknown): e is CloudError {
  return e instanceof CloudError;
}
