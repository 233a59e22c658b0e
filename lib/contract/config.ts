// Environment -> typed config, read once. Lambda sets the variables from serverless.yml; the
// local runtime sets the same names before it imports the handlers.
import { availableParallelism } from 'node:os';
import { z } from 'zod';
import { TUNING } from './tuning.js';

const intFrom = (fallback: number, min: number, max: number) => z.coerce.number().int().min(min).max(max).default(fallback);

const envSchema = z.object({
  AWS_REGION: z.string().min(1).default('us-east-1'),
  /** Set locally (the emulator); absent on AWS, where the SDK finds the regional endpoints. */
  URL2PNG_AWS_ENDPOINT: z.preprocess((v) => (v === '' ? undefined : v), z.string().url().optional()),
  URL2PNG_QUEUE_URL: z.string().default(''),
  URL2PNG_DLQ_URL: z.string().default(''),
  URL2PNG_BUCKET: z.string().default(''),
  URL2PNG_EGRESS_ALLOW: z.string().default(''),
  URL2PNG_RENDER_TIMEOUT_MS: intFrom(TUNING.renderTimeoutMs, 100, 900_000),
  /** How long a page may take to fire `load` before it is captured as it stands (at most half the render deadline). */
  URL2PNG_PAGE_LOAD_TIMEOUT_MS: intFrom(TUNING.loadTimeoutMs, 50, 900_000),
  /** JavaScript heap of one page's renderer in MB; a page that needs more crashes (page_crashed). */
  URL2PNG_RENDERER_HEAP_MB: intFrom(TUNING.rendererHeapMb, 32, 16_384),
  /** First retry backoff of a transient failure, in seconds (then x3 per receive, capped). */
  URL2PNG_RETRY_BACKOFF_S: intFrom(TUNING.retryBackoffSeconds, 0, 43_200),
  /** Pins the pages rendered at once; without it the worker's controller moves the count (lib/worker/adaptive-concurrency.ts). */
  URL2PNG_RENDER_CONCURRENCY: z.coerce.number().int().min(1).max(16).optional(),
  /** Set by Lambda: the function's memory, which fixes its CPU share. */
  AWS_LAMBDA_FUNCTION_MEMORY_SIZE: z.coerce.number().int().positive().optional(),
  URL2PNG_MAX_RECEIVE_COUNT: intFrom(TUNING.maxReceiveCount, 1, 1000),
  URL2PNG_VISIBILITY_TIMEOUT_S: intFrom(TUNING.visibilityTimeoutSeconds, 0, 43_200),
  URL2PNG_PRESIGN_TTL_S: intFrom(TUNING.presignTtlSeconds, 1, 604_800),
  URL2PNG_MAX_REDRIVES: intFrom(TUNING.maxRedrives, 0, 100),
  /** Parent of the browser's per-launch profile and TMPDIR (default: <tmpdir>/url2png-chromium). */
  URL2PNG_CHROMIUM_SCRATCH_DIR: z.string().optional(),
  /** HMAC-SHA256 key for webhook signatures; without it callbackUrl is refused (lib/worker/webhook.ts). */
  URL2PNG_WEBHOOK_SECRET: z.string().default(''),
  /** Render link secrets, `keyId:secret[,keyId:secret...]` (lib/api/render-links.ts); empty: no links. */
  URL2PNG_RENDER_LINK_SECRETS: z.string().default(''),
  /** On AWS: the SSM SecureString parameter that holds the render link secrets in the same form. */
  URL2PNG_RENDER_LINK_SECRETS_PARAMETER: z.string().default(''),
  /** The origin allowed to call the API from another site's page (CORS); `*` by default. */
  URL2PNG_CORS_ORIGIN: z.string().min(1).default('*'),
  /** Where the local runtime keeps state that must outlive a process (the receipt signing key). */
  URL2PNG_DATA_DIR: z.string().min(1).default('.url2png'),
  /** Locally: the per-run secret the emulator checks request signatures against (set by the local runtime). */
  URL2PNG_EMULATOR_SECRET: z.string().optional(),
  /** On AWS: the SSM SecureString parameter that holds the receipt signing key (PKCS#8 PEM, Ed25519). */
  URL2PNG_RECEIPT_KEY_PARAMETER: z.string().default(''),
  /** On AWS: the SSM String parameter that holds the receipt key's public half (SPKI PEM), all the API reads. */
  URL2PNG_RECEIPT_PUBLIC_KEY_PARAMETER: z.string().default(''),
  CHROMIUM_PATH: z.string().optional(),
  /** "1" keeps @sparticuz/chromium's --single-process (no contexts); default is multi-process. */
  URL2PNG_CHROMIUM_SINGLE_PROCESS: z.enum(['0', '1']).default('0'),
});

/** Resident memory a page costs at most in the measured runs (renderer + its share of the browser). */
const MB_PER_PAGE = 90;
/** The worker, the browser process and their baseline before any page opens. */
const BASE_MB = 450;
const HARD_CEILING = 16;

/** The most pages a function of `memoryMb` can hold at once, never below `floor`. */
export function ceilingForMemory(memoryMb: number, floor: number): number {
  return Math.max(floor, Math.min(HARD_CEILING, Math.floor((memoryMb - BASE_MB) / MB_PER_PAGE)));
}

export interface Config {
  region: string;
  awsEndpoint?: string;
  queueUrl: string;
  dlqUrl: string;
  bucket: string;
  egressAllow: string[];
  renderTimeoutMs: number;
  loadTimeoutMs: number;
  retryBackoffS: number;
  rendererHeapMb: number;
  retryBackoffMaxS: number;
  /** Pages at once: the adaptive controller's floor, or the pinned count. */
  renderConcurrency: number;
  /** URL2PNG_RENDER_CONCURRENCY was set: the count stays put. */
  renderConcurrencyPinned: boolean;
  /** The most pages at once the function's memory holds (the controller's ceiling). */
  renderConcurrencyCeiling: number;
  /** vCPUs the function has: Lambda's share of its memory size, locally the cores. */
  vcpus: number;
  corsOrigin: string;
  maxReceiveCount: number;
  visibilityTimeoutSeconds: number;
  presignTtlSeconds: number;
  maxRedrives: number;
  chromiumScratchDir?: string;
  chromiumPath?: string;
  singleProcess: boolean;
  webhookSecret: string;
  renderLinkSecrets: string;
  renderLinkSecretsParameter: string;
  dataDir: string;
  emulatorSecret?: string;
  receiptKeyParameter: string;
  receiptPublicKeyParameter: string;
}

export function parseConfig(env: NodeJS.ProcessEnv): Config {
  const e = envSchema.parse(env);
  return {
    region: e.AWS_REGION,
    awsEndpoint: e.URL2PNG_AWS_ENDPOINT,
    queueUrl: e.URL2PNG_QUEUE_URL,
    dlqUrl: e.URL2PNG_DLQ_URL,
    bucket: e.URL2PNG_BUCKET,
    egressAllow: e.URL2PNG_EGRESS_ALLOW.split(',')
      .map((s) => s.trim())
      .filter(Boolean),
    renderTimeoutMs: e.URL2PNG_RENDER_TIMEOUT_MS,
    // Well inside the render deadline: what is left is for settling, capturing and encoding.
    loadTimeoutMs: Math.min(e.URL2PNG_PAGE_LOAD_TIMEOUT_MS, Math.floor(e.URL2PNG_RENDER_TIMEOUT_MS / 2)),
    retryBackoffS: e.URL2PNG_RETRY_BACKOFF_S,
    rendererHeapMb: e.URL2PNG_RENDERER_HEAP_MB,
    retryBackoffMaxS: Math.max(e.URL2PNG_RETRY_BACKOFF_S, TUNING.retryBackoffMaxSeconds),
    renderConcurrency: e.URL2PNG_RENDER_CONCURRENCY ?? renderConcurrency(e.AWS_LAMBDA_FUNCTION_MEMORY_SIZE),
    renderConcurrencyPinned: e.URL2PNG_RENDER_CONCURRENCY !== undefined,
    renderConcurrencyCeiling:
      e.URL2PNG_RENDER_CONCURRENCY ??
      ceilingForMemory(e.AWS_LAMBDA_FUNCTION_MEMORY_SIZE ?? TUNING.workerMemoryMb, renderConcurrency(e.AWS_LAMBDA_FUNCTION_MEMORY_SIZE)),
    vcpus: vcpusFor(e.AWS_LAMBDA_FUNCTION_MEMORY_SIZE),
    maxReceiveCount: e.URL2PNG_MAX_RECEIVE_COUNT,
    visibilityTimeoutSeconds: e.URL2PNG_VISIBILITY_TIMEOUT_S,
    presignTtlSeconds: e.URL2PNG_PRESIGN_TTL_S,
    maxRedrives: e.URL2PNG_MAX_REDRIVES,
    chromiumScratchDir: e.URL2PNG_CHROMIUM_SCRATCH_DIR || undefined,
    chromiumPath: e.CHROMIUM_PATH || undefined,
    singleProcess: e.URL2PNG_CHROMIUM_SINGLE_PROCESS === '1',
    webhookSecret: e.URL2PNG_WEBHOOK_SECRET,
    renderLinkSecrets: e.URL2PNG_RENDER_LINK_SECRETS,
    renderLinkSecretsParameter: e.URL2PNG_RENDER_LINK_SECRETS_PARAMETER,
    corsOrigin: e.URL2PNG_CORS_ORIGIN,
    dataDir: e.URL2PNG_DATA_DIR,
    emulatorSecret: e.URL2PNG_EMULATOR_SECRET || undefined,
    receiptKeyParameter: e.URL2PNG_RECEIPT_KEY_PARAMETER,
    receiptPublicKeyParameter: e.URL2PNG_RECEIPT_PUBLIC_KEY_PARAMETER,
  };
}

/** Lambda gives one vCPU per 1769 MB of memory (AWS's documented ratio). */
const MB_PER_VCPU = 1769;

/**
 * Pages at once for the CPU at hand: on 2 cores throughput levels off at 2-4 pages and more only
 * adds latency (npm run bench, docs/benchmarks.md), so TUNING.renderPagesPerVcpu pages per vCPU, at least 2
 * (one page's network waits overlap another's rendering) and at most 8.
 */
export function renderConcurrency(lambdaMemoryMb?: number, cpus = availableParallelism()): number {
  return Math.min(8, Math.max(2, Math.ceil(vcpusFor(lambdaMemoryMb, cpus) * TUNING.renderPagesPerVcpu)));
}

const vcpusFor = (lambdaMemoryMb?: number, cpus = availableParallelism()) => (lambdaMemoryMb ? lambdaMemoryMb / MB_PER_VCPU : cpus);

let cached: Config | undefined;
/** The process's config, parsed on first use (after the local runtime has set the env). */
export function config(): Config {
  cached ??= parseConfig(process.env);
  return cached;
}
