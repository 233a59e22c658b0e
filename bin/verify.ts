// url2png verify <receipt.json> <image>: checks a capture receipt's Ed25519 signature against the
// service's public key and the image's SHA-256 and size against the receipt, then says what that
// proves and what it does not. Works offline with --key; otherwise asks the service for its key.
import { createPublicKey, type KeyObject } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { Command, CommanderError } from 'commander';
import { keyIdOf } from '../lib/receipts/receipt-key.js';
import { callerChanges, verifyReceipt, type Check, type Receipt } from '../lib/receipts/receipt.js';
import { connectionErrorCode, EXIT } from './client.js';

interface VerifyOptions {
  key?: string;
  endpoint?: string;
  json?: boolean;
}

class VerifyError extends Error {
  constructor(
    readonly exitCode: number,
    message: string,
  ) {
    super(message);
  }
}

function program(): Command {
  return new Command('url2png verify')
    .description("Check a capture receipt's signature and that the image is the one it describes.")
    .argument('<receipt>', 'the receipt (JSON, from GET /screenshots/{id}/receipt)')
    .argument('<image>', 'the image file the receipt is for')
    .option('--key <file>', 'the public key: a PEM file, or the JSON that GET /receipt-key answers (default: ask --endpoint)')
    .option(
      '--endpoint <url>',
      'the url2png API whose /receipt-key to use (default: $URL2PNG_ENDPOINT, else http://127.0.0.1:$PORT or :3000)',
    )
    .option('--json', 'print one JSON object with every check on stdout')
    .addHelpText(
      'after',
      `
Exit codes: 0 the receipt holds, 1 a check failed, 2 usage (a file cannot be read), 4 no key could be fetched.

Example:
  curl -s "$API/screenshots/$ID/receipt" > receipt.json
  npx url2png verify receipt.json shot.png --endpoint "$API"`,
    )
    .showHelpAfterError('(run url2png verify --help for the options)')
    .exitOverride();
}

async function readInput(path: string, what: string): Promise<Buffer> {
  try {
    return await readFile(path);
  } catch (error) {
    throw new VerifyError(EXIT.usage, `cannot read the ${what} ${path}: ${(error as Error).message}`);
  }
}

/** A PEM public key, or the { publicKey } document that GET /receipt-key answers. */
function parseKey(text: string, where: string): KeyObject {
  let pem = text;
  try {
    const doc = JSON.parse(text) as { publicKey?: unknown };
    if (typeof doc?.publicKey === 'string') pem = doc.publicKey;
  } catch {
    /* not JSON: PEM */
  }
  try {
    const key = createPublicKey(pem);
    if (key.asymmetricKeyType !== 'ed25519') throw new Error(`a ${key.asymmetricKeyType} key, not Ed25519`);
    return key;
  } catch (error) {
    throw new VerifyError(EXIT.usage, `${where} is not an Ed25519 public key (${(error as Error).message})`);
  }
}

async function fetchKey(endpoint: string): Promise<KeyObject> {
  const url = `${endpoint.replace(/\/+$/, '')}/receipt-key`;
  let res: Response;
  try {
    res = await fetch(url, { signal: AbortSignal.timeout(30_000) });
  } catch (error) {
    throw new VerifyError(
      EXIT.unavailable,
      `no url2png service answered at ${url} (${connectionErrorCode(error) ?? (error as Error).message}); pass the key with --key, or the API with --endpoint`,
    );
  }
  if (!res.ok) throw new VerifyError(EXIT.unavailable, `${url} answered HTTP ${res.status}; pass the key with --key`);
  return parseKey(await res.text(), url);
}

function meaning(receipt: Receipt, keySource: string): { proves: string[]; doesNotProve: string[]; callerChanged: string[] } {
  const addresses = receipt.addresses ? receipt.addresses.join(', ') || 'none' : 'not recorded (single-process browser)';
  return {
    callerChanged: callerChanges(receipt),
    proves: [
      `The holder of the private key ${receipt.signature.keyId} signed this receipt, and not one byte of its content has changed since.`,
      `The image is byte for byte the one that url2png job ${receipt.jobId} captured (SHA-256 ${receipt.image.sha256}, ${receipt.image.bytes} bytes).`,
      `The service states that its browser (${receipt.browser}) was asked for ${receipt.request.url}, ended on ${receipt.finalUrl} with HTTP status ${receipt.httpStatus ?? 'none'}, ` +
        `that its egress proxy connected to ${addresses} for it, and that the job was requested at ${receipt.requestedAt}, started at ${receipt.startedAt} and captured at ${receipt.capturedAt}.`,
    ],
    doesNotProve: [
      `That the key is the operator's: it came from ${keySource}; compare its id with one you obtained from the operator independently.`,
      "That the times are true: they are the service's clock, not a trusted time-stamping authority.",
      'That anyone else saw the same page: sites vary what they serve by address, location, cookies, time and experiment, and a site can recognise the service.',
      'That the content is genuine: for an http:// page anyone on the network path could have changed it (for https:// the browser checked the certificate, but the receipt does not record it); an address says where the proxy connected, not who runs it.',
      'That the receipt was not made by the key holder for a page it never loaded: a signature binds the signer to the statement, it does not audit the signer.',
    ],
  };
}

async function verify(
  receiptPath: string,
  imagePath: string,
  o: VerifyOptions,
): Promise<{ ok: boolean; checks: Check[]; receipt?: Receipt; keySource: string }> {
  const receiptText = (await readInput(receiptPath, 'receipt')).toString('utf8');
  const image = await readInput(imagePath, 'image');
  let receipt: Receipt;
  try {
    receipt = JSON.parse(receiptText) as Receipt;
  } catch {
    return { ok: false, checks: [{ name: 'format', ok: false, detail: `${receiptPath} is not JSON` }], keySource: '' };
  }
  const endpoint = o.endpoint ?? (process.env.URL2PNG_ENDPOINT || `http://127.0.0.1:${process.env.PORT || 3000}`);
  const keySource = o.key ? `the file ${o.key}` : `${endpoint}/receipt-key`;
  const publicKey = o.key ? parseKey((await readInput(o.key, 'key')).toString('utf8'), o.key) : await fetchKey(endpoint);
  const checks = verifyReceipt(receipt, { publicKey, keyId: keyIdOf(publicKey) }, image);
  return { ok: checks.every((c) => c.ok), checks, receipt, keySource };
}

export async function runVerify(args: string[]): Promise<number> {
  const cmd = program();
  try {
    cmd.parse(args, { from: 'user' });
  } catch (error) {
    if (error instanceof CommanderError) return error.exitCode === 0 ? EXIT.ok : EXIT.usage;
    throw error;
  }
  const o = cmd.opts<VerifyOptions>();
  const [receiptPath, imagePath] = cmd.args as [string, string];
  try {
    const result = await verify(receiptPath, imagePath, o);
    const explained = result.ok && result.receipt ? meaning(result.receipt, result.keySource) : undefined;
    if (o.json) {
      process.stdout.write(`${JSON.stringify({ verified: result.ok, checks: result.checks, ...explained })}\n`);
    } else {
      const lines = result.checks.map((c) => `${c.ok ? 'ok  ' : 'FAIL'} ${c.name}: ${c.detail}`);
      if (explained) {
        lines.push(
          '',
          'VERIFIED. What this proves:',
          ...explained.proves.map((l) => `  - ${l}`),
          '',
          'What it does not prove:',
          ...explained.doesNotProve.map((l) => `  - ${l}`),
          '',
          ...(explained.callerChanged.length
            ? [
                'What the caller changed on the page (the image shows the page as these made it, not as a visitor would see it):',
                ...explained.callerChanged.map((l) => `  - ${l}`),
              ]
            : [
                'The caller changed nothing on the page: no scripts, styles, hidden elements, clicks, cookies, headers, credentials or clock.',
              ]),
        );
      } else {
        lines.push('', 'NOT VERIFIED: do not rely on this receipt or this image as evidence of the capture.');
      }
      process.stdout.write(`${lines.join('\n')}\n`);
    }
    return result.ok ? EXIT.ok : EXIT.failed;
  } catch (error) {
    if (!(error instanceof VerifyError)) throw error;
    if (o.json) process.stdout.write(`${JSON.stringify({ verified: false, error: error.message })}\n`);
    process.stderr.write(`url2png verify: ${error.message}\n`);
    return error.exitCode;
  }
}
