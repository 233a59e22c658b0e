// `url2png mcp`: a Model Context Protocol server over stdio (newline-delimited JSON-RPC, the
// official SDK), so AI assistants and agents can take screenshots and look at them. It talks to
// --endpoint (default $URL2PNG_ENDPOINT or the local service) like the CLI, and like the CLI runs
// the whole pipeline in this process when nothing answers at a local endpoint.
import { Writable } from 'node:stream';
import { Server } from '@modelcontextprotocol/sdk/server/index.js';
import { StdioServerTransport } from '@modelcontextprotocol/sdk/server/stdio.js';
import { CallToolRequestSchema, type CallToolResult, ListToolsRequestSchema } from '@modelcontextprotocol/sdk/types.js';
import { Command, CommanderError } from 'commander';
import { createPublicKey } from 'node:crypto';
import { z } from 'zod';
import { screenshotRequestSchema } from '../lib/contract/request.js';
import type { ScreenshotStatus } from '../lib/contract/status.js';
import { keyIdOf } from '../lib/receipts/receipt-key.js';
import { verifyReceipt } from '../lib/receipts/receipt.js';
import type { LocalStack } from '../local/stack.js';
import {
  CliError,
  type ClientOptions,
  connectionErrorCode,
  describeDiff,
  download,
  EXIT,
  isLoopbackEndpoint,
  postJson,
  readStatus,
  submit,
  waitForJob,
} from './client.js';
import { startPipelineHere } from './in-process.js';

/** How long a tool waits for a job (or a batch) to settle before it answers with its status URL. */
const TOOL_TIMEOUT_MS = 120_000;
/** A batch tool call takes at most this many requests (each image comes back inline). */
const MAX_BATCH_TOOL = 10;

const requestJsonSchema = (() => {
  const schema = z.toJSONSchema(screenshotRequestSchema, { target: 'draft-2020-12', io: 'input' }) as Record<string, unknown>;
  delete schema.$schema;
  return { ...schema, type: 'object' as const };
})();

const TOOLS = [
  {
    name: 'screenshot',
    description:
      'Take a screenshot of a web page (url) or an HTML document (html) and return the image, with its status. Every field of the url2png request schema is accepted: width, height, fullPage, format, device, selector, darkMode, blockAds, headers, ...',
    inputSchema: requestJsonSchema,
  },
  {
    name: 'batch_screenshots',
    description: `Take up to ${MAX_BATCH_TOOL} screenshots at once (each a url2png request) and return every image with a status summary.`,
    inputSchema: {
      type: 'object' as const,
      properties: { requests: { type: 'array', minItems: 1, maxItems: MAX_BATCH_TOOL, items: requestJsonSchema } },
      required: ['requests'],
    },
  },
  {
    name: 'compare_screenshots',
    description:
      'Compare two captures pixel by pixel: the baseline (an earlier PNG screenshot id, or a request to capture now) and a new capture of current. Returns the changed pixels, the diff image (changes in red) and the new image.',
    inputSchema: {
      type: 'object' as const,
      properties: {
        baselineId: { type: 'string', format: 'uuid', description: 'The id of an earlier done PNG screenshot' },
        baseline: { ...requestJsonSchema, description: 'Or: capture this first as the baseline' },
        current: { ...requestJsonSchema, description: 'The capture to compare with the baseline' },
      },
      required: ['current'],
    },
  },
  {
    name: 'verify_receipt',
    description:
      "Check a done screenshot's signed capture receipt: its Ed25519 signature against the service's /receipt-key and the image's SHA-256 against the receipt. Returns every check and what the receipt states.",
    inputSchema: {
      type: 'object' as const,
      properties: { id: { type: 'string', format: 'uuid', description: 'The screenshot id' } },
      required: ['id'],
    },
  },
  {
    name: 'list_devices',
    description: 'The device names the device field takes (e.g. "iPhone 15"), with the viewport, scale and user agent each sets.',
    inputSchema: { type: 'object' as const, properties: {} },
  },
];

type Content = CallToolResult['content'][number];
const text = (value: string): Content => ({ type: 'text', text: value });
const json = (value: unknown): Content => text(JSON.stringify(value, null, 2));

/** Where the tools send their requests: the endpoint, or the pipeline started here on first need. */
class Service {
  private base: Promise<string> | undefined;
  stack: LocalStack | undefined;

  constructor(
    private readonly endpoint: string,
    private readonly fallback: boolean,
    readonly client: ClientOptions,
  ) {}

  url(): Promise<string> {
    this.base ??= this.resolve().catch((error) => {
      this.base = undefined;
      throw error;
    });
    return this.base;
  }

  private async resolve(): Promise<string> {
    try {
      await fetch(`${this.endpoint}/devices`, { signal: AbortSignal.timeout(5_000) });
      return this.endpoint;
    } catch (error) {
      const code = connectionErrorCode(error) ?? (error as Error).message;
      if (!this.fallback || !isLoopbackEndpoint(this.endpoint))
        throw new CliError(EXIT.unavailable, `no url2png service answered at ${this.endpoint} (${code}); check --endpoint`);
      process.stderr.write(`url2png mcp: no service at ${this.endpoint} (${code}); running the pipeline in this process\n`);
      this.stack = await startPipelineHere((line) => process.stderr.write(`url2png mcp: ${line}\n`));
      return this.stack.apiUrl;
    }
  }
}

/** Submits one request and follows it until it settles (the API holds the answer up to 25 s first). */
async function capture(service: Service, request: Record<string, unknown>): Promise<ScreenshotStatus> {
  const endpoint = await service.url();
  const job = await submit(endpoint, request, { ...service.client, waitSeconds: 25 });
  return job.settled ?? (await waitForJob(job.statusUrl, { ...service.client, deadline: Date.now() + TOOL_TIMEOUT_MS }));
}

/** A settled job as tool content: the image inline (a PDF as an embedded resource) and its status. */
async function present(status: ScreenshotStatus, label = ''): Promise<Content[]> {
  if (status.status !== 'done' || !status.imageUrl) {
    return [text(`${label}${status.status}: ${status.error ? `${status.error.message} (${status.error.code})` : 'no image'}`)];
  }
  const image = await download(status.imageUrl);
  const data = Buffer.from(image.bytes).toString('base64');
  const media: Content = image.contentType.startsWith('image/')
    ? { type: 'image', data, mimeType: image.contentType }
    : { type: 'resource', resource: { uri: status.imageUrl, mimeType: image.contentType, blob: data } };
  const { imageUrl: _url, ...summary } = status;
  return [media, json({ ...summary, bytes: image.bytes.length, imageUrl: status.imageUrl })];
}

const objectArg = (value: unknown, name: string): Record<string, unknown> => {
  if (!value || typeof value !== 'object' || Array.isArray(value))
    throw new CliError(EXIT.usage, `${name} must be an object (a url2png request)`);
  return value as Record<string, unknown>;
};

async function callTool(service: Service, name: string, args: Record<string, unknown>): Promise<CallToolResult> {
  switch (name) {
    case 'screenshot': {
      const status = await capture(service, args);
      return { content: await present(status), isError: status.status !== 'done' };
    }
    case 'batch_screenshots': {
      const requests = args.requests;
      if (!Array.isArray(requests) || requests.length === 0 || requests.length > MAX_BATCH_TOOL)
        throw new CliError(EXIT.usage, `requests must be an array of 1 to ${MAX_BATCH_TOOL} url2png requests`);
      const endpoint = await service.url();
      const { body } = await postJson(endpoint, '/batches', { requests }, service.client);
      const statusUrl = String(body.statusUrl);
      const deadline = Date.now() + TOOL_TIMEOUT_MS;
      let batch = await readStatus<{ status: string; counts: unknown; jobs: ScreenshotStatus[] }>(statusUrl, service.client);
      while (batch.status === 'queued' && Date.now() < deadline) {
        await new Promise((r) => setTimeout(r, 500));
        batch = await readStatus(statusUrl, service.client);
      }
      const content: Content[] = [json({ id: body.id, status: batch.status, counts: batch.counts, statusUrl })];
      for (const [i, job] of batch.jobs.entries()) content.push(...(await present(job, `#${i + 1} ${job.url}: `)));
      return { content, isError: batch.status !== 'done' };
    }
    case 'compare_screenshots': {
      let baselineId = typeof args.baselineId === 'string' ? args.baselineId : undefined;
      const content: Content[] = [];
      if ((baselineId === undefined) === (args.baseline === undefined))
        throw new CliError(
          EXIT.usage,
          'give exactly one of baselineId (an earlier PNG screenshot) and baseline (a request to capture first)',
        );
      if (baselineId === undefined) {
        const baseline = await capture(service, objectArg(args.baseline, 'baseline'));
        if (baseline.status !== 'done')
          return { content: [text(`the baseline ${baseline.status}: ${baseline.error?.message ?? ''}`)], isError: true };
        baselineId = baseline.id;
        content.push(text(`baseline: ${baseline.id}`));
      }
      const current = await capture(service, { ...objectArg(args.current, 'current'), compareTo: baselineId });
      if (current.status !== 'done' || !current.diff) return { content: [...content, ...(await present(current))], isError: true };
      const diff = await download(current.diff.diffImageUrl);
      content.push(
        text(describeDiff(current.diff)),
        { type: 'image', data: Buffer.from(diff.bytes).toString('base64'), mimeType: diff.contentType },
        ...(await present(current, 'current: ')),
      );
      return { content };
    }
    case 'verify_receipt': {
      const id = String(args.id ?? '');
      const endpoint = await service.url();
      const receipt = await readStatus<unknown>(`${endpoint}/screenshots/${encodeURIComponent(id)}/receipt`, service.client);
      const status = await readStatus(`${endpoint}/screenshots/${encodeURIComponent(id)}`, service.client);
      const image = status.imageUrl ? (await download(status.imageUrl)).bytes : undefined;
      const key = await readStatus<{ publicKey: string }>(`${endpoint}/receipt-key`, service.client);
      const publicKey = createPublicKey(key.publicKey);
      const checks = verifyReceipt(receipt, { publicKey, keyId: keyIdOf(publicKey) }, image);
      const ok = checks.every((c) => c.ok);
      return { content: [json({ ok, checks, keySource: `${endpoint}/receipt-key`, receipt })], isError: !ok };
    }
    case 'list_devices': {
      const endpoint = await service.url();
      const { devices } = await readStatus<{ devices: Array<Record<string, unknown>> }>(`${endpoint}/devices`, service.client);
      return { content: [json(devices)] };
    }
    default:
      throw new CliError(EXIT.usage, `no tool ${name}; the tools are ${TOOLS.map((t) => t.name).join(', ')}`);
  }
}

export async function runMcp(args: string[], version: string, defaultEndpoint: string): Promise<number> {
  const cmd = new Command('url2png mcp')
    .description(
      'A Model Context Protocol server over stdio: screenshot, batch_screenshots, compare_screenshots, verify_receipt, list_devices.',
    )
    .option('--endpoint <url>', 'the url2png API (default: $URL2PNG_ENDPOINT, else the local service, else the pipeline in this process)')
    .option('--api-key <key>', 'API key for a deployed stage (default: $URL2PNG_API_KEY)')
    .option('--no-fallback', 'never run the pipeline in-process')
    .exitOverride();
  try {
    cmd.parse(args, { from: 'user' });
  } catch (error) {
    if (error instanceof CommanderError) return error.exitCode === 0 ? EXIT.ok : EXIT.usage;
    throw error;
  }
  const o = cmd.opts<{ endpoint?: string; apiKey?: string; fallback: boolean }>();
  const endpoint = (o.endpoint ?? defaultEndpoint).replace(/\/+$/, '');
  const service = new Service(endpoint, o.fallback, { apiKey: o.apiKey || process.env.URL2PNG_API_KEY || undefined });

  // stdout carries the protocol alone: everything else this process prints goes to stderr.
  const realWrite = process.stdout.write.bind(process.stdout) as (chunk: unknown, callback: (error?: Error | null) => void) => boolean;
  const protocolOut = new Writable({ write: (chunk, _encoding, callback) => void realWrite(chunk, callback) });
  process.stdout.write = process.stderr.write.bind(process.stderr) as typeof process.stdout.write;

  const server = new Server({ name: 'url2png', version }, { capabilities: { tools: {} } });
  server.setRequestHandler(ListToolsRequestSchema, async () => ({ tools: TOOLS }));
  server.setRequestHandler(CallToolRequestSchema, async (request) => {
    try {
      return await callTool(service, request.params.name, request.params.arguments ?? {});
    } catch (error) {
      // A tool's failure is the tool's answer (the model reads it), not a protocol error.
      return { content: [text((error as Error).message ?? String(error))], isError: true };
    }
  });
  const closed = new Promise<void>((resolve) => {
    server.onclose = () => resolve();
    process.stdin.once('end', () => resolve());
    process.once('SIGINT', () => resolve());
    process.once('SIGTERM', () => resolve());
  });
  await server.connect(new StdioServerTransport(process.stdin, protocolOut));
  await closed;
  await service.stack?.stop();
  return EXIT.ok;
}
