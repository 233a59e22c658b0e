// `npm start`: the whole service on http://127.0.0.1:${PORT:-3000}.
import { startLocalStack } from './stack.js';

const port = Number(process.env.PORT ?? 3000);
const emulatorPort = Number(process.env.URL2PNG_EMULATOR_PORT ?? 4566);
const log = (line: string) => process.stderr.write(`${line}\n`);

const stack = await startLocalStack({ port, emulatorPort, log });
console.log(`url2png listening on ${stack.apiUrl}`);
console.log(`emulator (SQS + S3) on ${stack.emulator.endpoint}`);

let stopping = false;
async function shutdown(signal: string) {
  if (stopping) return;
  stopping = true;
  log(`${signal}: stopping (browser, worker, emulator)...`);
  const force = setTimeout(() => process.exit(1), 15_000);
  force.unref();
  await stack.stop();
  log('stopped');
  process.exit(0);
}
process.on('SIGINT', () => void shutdown('SIGINT'));
process.on('SIGTERM', () => void shutdown('SIGTERM'));
