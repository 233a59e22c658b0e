// An SDK middleware that the local runtime adds to every AWS client the real handlers use:
//   - AWS answers where the emulator (fauxqs) is more lenient (on unless URL2PNG_AWS_SEMANTICS=emulator):
//     * a GetObject of a missing key answers 403 AccessDenied, not 404 NoSuchKey, because the
//       function roles have no s3:ListBucket (Amazon S3 API Reference, GetObject, "Permissions");
//     * a PutObject with If-None-Match: * on an existing key answers 412 PreconditionFailed
//       (Amazon S3 User Guide, "Add preconditions to S3 operations with conditional requests",
//       conditional writes); fauxqs ignores the header.
//   - a record of each call (function, service, action, resource ARN), one JSON line per call in
//     URL2PNG_AWS_CALL_LOG/<pid>.jsonl when that variable names a directory;
//     tests/security/iam-calls.test.ts evaluates them against the packaged template's roles.
// Only calls made on behalf of a function are touched: inside asFunction() (the API and the
// redrive run in the stack's process), on a client given to attributeClient() (the event source
// mapping's, which reads the queue with the worker's role), or in a process that is one function
// (the worker's, local/worker-child.ts). A test's own clients see the emulator as it is.
import { AsyncLocalStorage } from 'node:async_hooks';
import { appendFileSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { HeadObjectCommand, S3Client, S3ServiceException } from '@aws-sdk/client-s3';

/** The account id the emulator puts in queue URLs and ARNs. */
export const LOCAL_ACCOUNT = '000000000000';

export interface AwsCall {
  /** The function whose role makes the call: api, worker or redrive. */
  function: string;
  /** s3:GetObject, sqs:SendMessage, ssm:GetParameter... (the IAM action). */
  action: string;
  resource: string;
  /** The SDK command, e.g. CompleteMultipartUpload (several map to one action). */
  command: string;
}

// One state per process, not per module instance: a test runner that re-imports this file for
// each test file still shares the SDK's (patched) base class, which must be patched once.
interface HookState {
  scope: AsyncLocalStorage<string>;
  clientFunction: WeakMap<object, string>;
  processFunction?: string;
  patched: boolean;
}
const STATE_KEY = Symbol.for('url2png.awsSdkHooks');
const globalState = globalThis as Record<symbol, HookState | undefined>;
globalState[STATE_KEY] ??= { scope: new AsyncLocalStorage<string>(), clientFunction: new WeakMap<object, string>(), patched: false };
const state: HookState = globalState[STATE_KEY];
const { scope, clientFunction } = state;

/** Runs fn as the named function: its AWS calls are made with that function's role. */
export function asFunction<T>(name: string, fn: () => T): T {
  return scope.run(name, fn);
}

/** Every call of this client is made with the named function's role. */
export function attributeClient<T extends object>(client: T, name: string): T {
  clientFunction.set(client, name);
  return client;
}

// Which IAM action each SDK command is authorised as (Service Authorization Reference: "Actions,
// resources, and condition keys for Amazon S3 / Amazon SQS / AWS Systems Manager"). The parts of a
// multipart upload are all authorised as s3:PutObject (Amazon S3 User Guide, "Multipart upload API
// and permissions"); a HeadObject as s3:GetObject; SQS batch actions as their single action.
const S3_ACTIONS: Record<string, string> = {
  GetObject: 's3:GetObject',
  HeadObject: 's3:GetObject',
  PutObject: 's3:PutObject',
  CreateMultipartUpload: 's3:PutObject',
  UploadPart: 's3:PutObject',
  CompleteMultipartUpload: 's3:PutObject',
  AbortMultipartUpload: 's3:AbortMultipartUpload',
  ListParts: 's3:ListMultipartUploadParts',
  DeleteObject: 's3:DeleteObject',
  ListObjectsV2: 's3:ListBucket',
};

interface CallInput {
  Bucket?: string;
  Key?: string;
  QueueUrl?: string;
  Name?: string;
}

function describeCall(fn: string, clientName: string, commandName: string, input: CallInput, region: string): AwsCall {
  const command = commandName.replace(/Command$/, '');
  if (clientName === 'S3Client') {
    const resource = input.Key === undefined ? `arn:aws:s3:::${input.Bucket}` : `arn:aws:s3:::${input.Bucket}/${input.Key}`;
    return { function: fn, action: S3_ACTIONS[command] ?? `s3:${command}`, resource, command };
  }
  if (clientName === 'SQSClient') {
    // http://sqs.<region>.<host>/<account>/<name>, the emulator's and SQS's queue URL form.
    // (Not new URL(): WHATWG rejects the emulator's host, sqs.us-east-1.127.0.0.1, as a bad IPv4 address.)
    const [, account, name] = /\/([^/]+)\/([^/?]+)\/?(?:\?.*)?$/.exec(input.QueueUrl ?? '') ?? [];
    return { function: fn, action: `sqs:${command.replace(/Batch$/, '')}`, resource: `arn:aws:sqs:${region}:${account}:${name}`, command };
  }
  if (clientName === 'SSMClient') {
    const name = input.Name ?? '';
    const resource = `arn:aws:ssm:${region}:${LOCAL_ACCOUNT}:parameter${name.startsWith('/') ? name : `/${name}`}`;
    return { function: fn, action: `ssm:${command}`, resource, command };
  }
  return { function: fn, action: `${clientName.replace(/Client$/, '').toLowerCase()}:${command}`, resource: '*', command };
}

const accessDenied = () =>
  new S3ServiceException({ name: 'AccessDenied', $fault: 'client', $metadata: { httpStatusCode: 403 }, message: 'Access Denied' });
const preconditionFailed = () =>
  new S3ServiceException({
    name: 'PreconditionFailed',
    $fault: 'client',
    $metadata: { httpStatusCode: 412 },
    message: 'At least one of the pre-conditions you specified did not hold',
  });

/** Conditional writes to one key, one at a time in this process: S3 decides them atomically. */
const keyLocks = new Map<string, Promise<unknown>>();
function oneAtATime<T>(key: string, fn: () => Promise<T>): Promise<T> {
  const run = (keyLocks.get(key) ?? Promise.resolve()).then(fn, fn);
  const settled = run.catch(() => undefined);
  keyLocks.set(key, settled);
  void settled.then(() => keyLocks.get(key) === settled && keyLocks.delete(key));
  return run;
}

async function objectExists(client: S3Client, Bucket: string, Key: string): Promise<boolean> {
  try {
    // Not on behalf of a function: the middleware's own look, neither logged nor changed.
    await state.scope.run(INTERNAL, () => client.send(new HeadObjectCommand({ Bucket, Key })));
    return true;
  } catch (error) {
    if ((error as { $metadata?: { httpStatusCode?: number } }).$metadata?.httpStatusCode === 404) return false;
    throw error;
  }
}

const INTERNAL = '(emulation)';

type Next = (args: { input: object }) => Promise<unknown>;
interface Context {
  clientName?: string;
  commandName?: string;
}

/** The middleware, for one client; what it does is read from the environment at each call. */
function middleware(client: { config: { region: unknown } }) {
  return (next: Next, context: Context) =>
    async (args: { input: object }): Promise<unknown> => {
      const fn = scope.getStore() ?? clientFunction.get(client) ?? state.processFunction;
      if (!fn || fn === INTERNAL) return next(args);
      const clientName = context.clientName ?? '';
      const commandName = context.commandName ?? '';
      const log = process.env.URL2PNG_AWS_CALL_LOG;
      if (log) {
        const region = typeof client.config.region === 'function' ? await (client.config.region as () => Promise<string>)() : 'us-east-1';
        const call = describeCall(fn, clientName, commandName, args.input as CallInput, region);
        mkdirSync(log, { recursive: true });
        appendFileSync(join(log, `${process.pid}.jsonl`), `${JSON.stringify(call)}\n`);
      }
      if (process.env.URL2PNG_AWS_SEMANTICS === 'emulator' || clientName !== 'S3Client') return next(args);
      const input = args.input as CallInput & { IfNoneMatch?: string };
      if (commandName === 'GetObjectCommand') {
        try {
          return await next(args);
        } catch (error) {
          if ((error as { name?: string }).name === 'NoSuchKey') throw accessDenied();
          throw error;
        }
      }
      if (commandName === 'PutObjectCommand' && input.IfNoneMatch === '*') {
        return oneAtATime(`${input.Bucket}/${input.Key}`, async () => {
          if (await objectExists(client as S3Client, input.Bucket!, input.Key!)) throw preconditionFailed();
          return next(args);
        });
      }
      return next(args);
    };
}

/**
 * Adds the middleware to every SDK client of this process on its first send (all clients share
 * one base class). `processFunction`: every call of this process is that function's.
 * URL2PNG_AWS_CALL_LOG and URL2PNG_AWS_SEMANTICS are read at each call.
 */
export function installAwsHooks(options: { processFunction?: string } = {}): void {
  if (options.processFunction) state.processFunction = options.processFunction;
  if (state.patched) return;
  state.patched = true;
  const base = Object.getPrototypeOf(S3Client.prototype) as { send: (...args: unknown[]) => unknown };
  const send = base.send;
  const hooked = new WeakSet<object>();
  base.send = function (this: { middlewareStack: { add: (m: unknown, o: object) => void }; config: { region: unknown } }, ...args) {
    if (!hooked.has(this)) {
      hooked.add(this);
      this.middlewareStack.add(middleware(this), { step: 'initialize', name: 'url2pngAwsHooks', priority: 'high' });
    }
    return send.apply(this, args);
  };
}
