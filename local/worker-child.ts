// The worker's own process (the Lambda execution environment, locally): imports
// handlers/worker.ts exactly as the Lambda runtime would and runs the invocations its parent (the
// local event source mapping, local/worker-process.ts) sends over IPC. Killing this process
// mid-batch is what a crashed or timed-out Lambda looks like to SQS.
import type { SQSEvent } from 'aws-lambda';
import { installAwsHooks } from './aws-sdk-hooks.js';
import { lambdaContext } from './lambda-context.js';

export type ToChild = { type: 'invoke'; id: number; event: SQSEvent; timeoutMs: number; memoryMb: number } | { type: 'shutdown' };
export type FromChild =
  | { type: 'ready' }
  | { type: 'result'; id: number; result: unknown }
  | { type: 'error'; id: number; message: string };

const send = (message: FromChild) => process.send?.(message);

// Ctrl-C reaches the whole foreground process group: the parent decides when this process stops
// (after the browser is closed), so the signals themselves are ignored here.
process.on('SIGINT', () => undefined);
process.on('SIGTERM', () => void shutdown(0));

// Every AWS call of this process is the worker function's (local/aws-sdk-hooks.ts).
installAwsHooks({ processFunction: 'worker' });
const worker = await import('../handlers/worker.js');

let stopping = false;
async function shutdown(code: number) {
  if (stopping) return;
  stopping = true;
  const force = setTimeout(() => process.exit(code), 5000);
  force.unref();
  await worker.closeWorkerRuntime().catch(() => undefined);
  process.exit(code);
}

process.on('message', (message: ToChild) => {
  if (message.type === 'shutdown') return void shutdown(0);
  if (message.type !== 'invoke') return;
  const context = lambdaContext('url2png-local-worker', message.timeoutMs, message.memoryMb);
  worker.handler(message.event, context).then(
    (result) => send({ type: 'result', id: message.id, result }),
    (error: Error) => send({ type: 'error', id: message.id, message: error?.message ?? String(error) }),
  );
});
// The parent is gone (even SIGKILLed): nothing will collect results; close the browser and leave.
process.on('disconnect', () => void shutdown(0));

// Warm the runtime (proxy, browser) before the first batch, as a provisioned container would.
void worker
  .workerRuntime()
  .then((rt) => rt.browsers.get())
  .catch(() => undefined);
send({ type: 'ready' });
