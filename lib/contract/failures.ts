// Permanent vs transient failures, and what each does to the message. One table (FAILURES) names
// every failure code the worker can record: FailureCode is its keys, and every failure carries one,
// so a code missing from the table does not compile. classifyFailure() maps any thrown value onto
// it, and lib/worker/settle.ts is the only place that turns the class into what happens to the message.
type FailureKind = 'permanent' | 'transient';
/** In the table: `raised` means the class that raised the failure decides (e.g. http_error: 4xx or 5xx). */
type TableKind = FailureKind | 'raised';

export interface Failure {
  kind: FailureKind;
  code: FailureCode;
  message: string;
}

/**
 * The one table. permanent: write `failed` with { code, message }, delete the message (never
 * retried). transient: report the message in batchItemFailures so SQS redelivers it; on the last
 * allowed receive the worker also writes `failed`, and after maxReceiveCount SQS moves the message
 * to the DLQ, from where lib/worker/redrive.ts brings it back a bounded number of times. The
 * page's own transient failures (render_timeout, page_crashed) have a smaller budget: the same one
 * twice in a row is final (lib/worker/settle.ts, PAGE_FAILURE_ATTEMPTS).
 */
export const FAILURES = {
  // permanent: the job can never succeed
  invalid_job: { kind: 'permanent', what: 'the message body is not a valid job (undecodable, unknown version)' },
  invalid_options: { kind: 'permanent', what: 'the screenshot options are invalid' },
  invalid_url: { kind: 'permanent', what: 'the URL cannot be parsed' },
  url_refused: { kind: 'permanent', what: 'the egress policy refuses the address or scheme' },
  dns_not_found: { kind: 'permanent', what: 'the host name does not exist' },
  page_too_large: { kind: 'permanent', what: 'the page or its image exceeds the limits' },
  compare_unavailable: { kind: 'permanent', what: 'compareTo names a screenshot that is unknown, expired, failed or not a PNG' },
  compare_too_large: { kind: 'permanent', what: 'the images compareTo would diff are larger than the diff limit' },
  invalid_selector: { kind: 'permanent', what: 'selector or waitForSelector is not a valid CSS selector' },
  selector_not_found: { kind: 'permanent', what: 'no visible element matches selector' },
  selector_timeout: { kind: 'permanent', what: 'no element matching waitForSelector became visible before the render deadline' },
  page_navigating: { kind: 'permanent', what: 'the page kept navigating away while it was being captured' },
  redrive_exhausted: { kind: 'permanent', what: 'the job kept failing after every retry and redrive' },
  script_error: { kind: 'permanent', what: 'a script of the request threw, rejected or did not finish before the render deadline' },
  quality_failed: {
    kind: 'permanent',
    what: 'a quality check named in qualityFail fired (the message names the checks and their numbers)',
  },
  // either: the raising class decides
  http_error: {
    kind: 'raised',
    what: "failOnHttpError: the page's own response was 400 or above; 4xx is permanent, 5xx transient (retried)",
  },
  // transient: a later delivery may succeed
  render_timeout: { kind: 'transient', what: 'the page did not render within the render deadline' },
  protocol_timeout: { kind: 'transient', what: 'the browser did not answer a DevTools call in time' },
  browser_crashed: { kind: 'transient', what: 'the browser or the page crashed or disconnected' },
  page_crashed: { kind: 'transient', what: 'the page crashed its renderer (e.g. out of memory); retried, then failed' },
  browser_error: { kind: 'transient', what: 'a DevTools protocol error' },
  page_unreachable: { kind: 'transient', what: 'a network error reaching the page' },
  dns_unavailable: { kind: 'transient', what: 'the DNS lookup failed for a reason other than a missing name' },
  aws_throttled: { kind: 'transient', what: 'S3 or SQS throttled the request' },
  aws_unavailable: { kind: 'transient', what: 'S3 or SQS answered 5xx or could not be reached' },
  not_enough_time: { kind: 'transient', what: 'not enough invocation time left to finish the job' },
  compare_not_ready: { kind: 'transient', what: 'the screenshot compareTo names is not done yet' },
  receipt_key_unavailable: {
    kind: 'transient',
    what: 'the receipt signing key could not be loaded (SSM parameter missing or unreadable, data directory not writable)',
  },
  internal_error: { kind: 'transient', what: 'an unexpected error (retried: a retry is cheap, a lost job is not)' },
} as const satisfies Record<string, { kind: TableKind; what: string }>;

export type FailureCode = keyof typeof FAILURES;

/**
 * The table decides, whichever class raised the code; only a `raised` code (http_error) takes the
 * kind of the class that raised it.
 */
const failureKind = (code: FailureCode, raisedAs: FailureKind): FailureKind => {
  const kind: TableKind = FAILURES[code].kind;
  return kind === 'raised' ? raisedAs : kind;
};

/** The codes the table lets a class raise: its own kind, or `raised` (the class decides). */
type CodesOf<K extends FailureKind> = { [C in FailureCode]: (typeof FAILURES)[C]['kind'] extends K | 'raised' ? C : never }[FailureCode];
/** Codes a PermanentFailure may carry: `new PermanentFailure('render_timeout', …)` does not compile. */
export type PermanentCode = CodesOf<'permanent'>;
/** Codes a TransientFailure may carry: `new TransientFailure('dns_not_found', …)` does not compile. */
export type TransientCode = CodesOf<'transient'>;

/** A job that can never succeed: record `failed`, do not retry. Only permanent codes (and http_error). */
export class PermanentFailure extends Error {
  constructor(
    readonly code: PermanentCode,
    message: string,
  ) {
    super(message);
    this.name = 'PermanentFailure';
  }
}

/** A job that may succeed on a later delivery: report it in batchItemFailures. Only transient codes (and http_error). */
export class TransientFailure extends Error {
  /** Thrown on the last allowed receive: `failed` is recorded and SQS moves the message to the DLQ. */
  readonly lastTry: boolean;

  constructor(
    readonly code: TransientCode,
    message: string,
    options?: { cause?: unknown; lastTry?: boolean },
  ) {
    super(message, options);
    this.name = 'TransientFailure';
    this.lastTry = options?.lastTry ?? false;
  }
}

// Chromium's network errors that mean "this name or page cannot be reached, and will not be on
// a retry". Everything unknown is transient: a retry is cheap, a lost job is not.
const PERMANENT_NET_ERRORS: Record<string, FailureCode> = {
  ERR_NAME_NOT_RESOLVED: 'dns_not_found',
  ERR_NAME_RESOLUTION_FAILED: 'dns_not_found',
  ERR_INVALID_URL: 'invalid_url',
  ERR_UNSAFE_PORT: 'url_refused',
  ERR_BLOCKED_BY_CLIENT: 'url_refused',
  ERR_DISALLOWED_URL_SCHEME: 'url_refused',
  ERR_FILE_TOO_BIG: 'page_too_large',
};

// Error names (puppeteer's and the AWS SDK's) that say what went wrong.
const NAMED: Record<string, FailureCode> = {
  TimeoutError: 'render_timeout',
  ProtocolError: 'browser_error',
  TargetCloseError: 'browser_crashed',
  ThrottlingException: 'aws_throttled',
  Throttling: 'aws_throttled',
  SlowDown: 'aws_throttled',
  RequestThrottled: 'aws_throttled',
  TooManyRequestsException: 'aws_throttled',
  ServiceUnavailable: 'aws_unavailable',
  InternalError: 'aws_unavailable',
  InternalFailure: 'aws_unavailable',
};

// Socket-level errors of the SDK's HTTP client: the service could not be reached at all.
const UNREACHABLE = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'EPIPE',
  'ETIMEDOUT',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'EAI_AGAIN',
  'TimeoutError',
]);

export function classifyFailure(error: unknown): Failure {
  if (error instanceof PermanentFailure || error instanceof TransientFailure) {
    return {
      kind: failureKind(error.code, error instanceof PermanentFailure ? 'permanent' : 'transient'),
      code: error.code,
      message: error.message,
    };
  }
  const err = error instanceof Error ? error : new Error(String(error));
  const make = (code: FailureCode, message = err.message): Failure => ({ kind: failureKind(code, 'transient'), code, message });
  const net = /net::(ERR_[A-Z_]+)/.exec(err.message)?.[1];
  if (net && PERMANENT_NET_ERRORS[net]) return make(PERMANENT_NET_ERRORS[net]!, describeNetError(net, err.message));
  const aws = awsFailure(err);
  if (aws) return make(aws);
  if (/detached|Target closed|Session closed|Connection closed|browser has disconnected|Page crashed/i.test(err.message)) {
    return make('browser_crashed');
  }
  if (err.name === 'ProtocolError' && /timed out/i.test(err.message)) return make('protocol_timeout');
  return make(NAMED[err.name] ?? (net ? 'page_unreachable' : 'internal_error'));
}

/** An AWS SDK error: throttling, a 5xx answer, or no answer at all (the service unreachable). */
function awsFailure(err: Error): FailureCode | undefined {
  const meta = (err as { $metadata?: { httpStatusCode?: number } }).$metadata;
  const status = meta?.httpStatusCode;
  if (NAMED[err.name]?.startsWith('aws_')) return NAMED[err.name];
  if (status === 429) return 'aws_throttled';
  if (status !== undefined && status >= 500) return 'aws_unavailable';
  const code = (err as { code?: string }).code ?? (err.cause as { code?: string } | undefined)?.code;
  if (meta && code && UNREACHABLE.has(code)) return 'aws_unavailable';
  if (code && ['ECONNREFUSED', 'ECONNRESET', 'EPIPE'].includes(code)) return 'aws_unavailable';
  return undefined;
}

function describeNetError(net: string, raw: string): string {
  if (net.startsWith('ERR_NAME')) return `the page's host name does not exist (${net})`;
  if (net === 'ERR_BLOCKED_BY_CLIENT' || net === 'ERR_DISALLOWED_URL_SCHEME' || net === 'ERR_UNSAFE_PORT') {
    return `the page's address is refused by the egress policy (${net})`;
  }
  return raw;
}
