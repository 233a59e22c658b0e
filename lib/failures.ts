// Permanent vs transient failures, and what each does to the message. The worker consults
// classifyFailure(); nothing else decides whether a job is retried.
export type FailureKind = 'permanent' | 'transient';

export interface Failure {
  kind: FailureKind;
  code: string;
  message: string;
}

/** A job that can never succeed: record `failed`, do not retry. */
export class PermanentFailure extends Error {
  constructor(
    readonly code: string,
    message: string,
  ) {
    super(message);
    this.name = 'PermanentFailure';
  }
}

/** A job that may succeed on a later delivery: report it in batchItemFailures. */
export class TransientFailure extends Error {
  constructor(
    readonly code: string,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = 'TransientFailure';
  }
}

// Chromium's network errors that mean "this name or page cannot be reached, and will not be on
// a retry". Everything unknown is transient: a retry is cheap, a lost job is not.
const PERMANENT_NET_ERRORS: Record<string, string> = {
  ERR_NAME_NOT_RESOLVED: 'dns_not_found',
  ERR_NAME_RESOLUTION_FAILED: 'dns_not_found',
  ERR_INVALID_URL: 'invalid_url',
  ERR_UNSAFE_PORT: 'url_refused',
  ERR_BLOCKED_BY_CLIENT: 'url_refused',
  ERR_DISALLOWED_URL_SCHEME: 'url_refused',
};

const TRANSIENT_NAMES: Record<string, string> = {
  TimeoutError: 'render_timeout',
  ProtocolError: 'browser_error',
  TargetCloseError: 'browser_crashed',
  ThrottlingException: 'aws_throttled',
  SlowDown: 'aws_throttled',
  ServiceUnavailable: 'aws_unavailable',
  InternalError: 'aws_unavailable',
};

export function classifyFailure(error: unknown): Failure {
  if (error instanceof PermanentFailure) return { kind: 'permanent', code: error.code, message: error.message };
  if (error instanceof TransientFailure) return { kind: 'transient', code: error.code, message: error.message };
  const err = error instanceof Error ? error : new Error(String(error));
  const net = /net::(ERR_[A-Z_]+)/.exec(err.message)?.[1];
  if (net && PERMANENT_NET_ERRORS[net]) {
    return { kind: 'permanent', code: PERMANENT_NET_ERRORS[net]!, message: describeNetError(net, err.message) };
  }
  if (/detached|Target closed|Session closed|Connection closed|browser has disconnected/i.test(err.message)) {
    return { kind: 'transient', code: 'browser_crashed', message: err.message };
  }
  const code = TRANSIENT_NAMES[err.name] ?? (net ? 'page_unreachable' : 'internal_error');
  return { kind: 'transient', code, message: err.message };
}

function describeNetError(net: string, raw: string): string {
  if (net.startsWith('ERR_NAME')) return `the page's host name does not exist (${net})`;
  if (net === 'ERR_BLOCKED_BY_CLIENT' || net === 'ERR_DISALLOWED_URL_SCHEME' || net === 'ERR_UNSAFE_PORT') {
    return `the page's address is refused by the egress policy (${net})`;
  }
  return raw;
}
