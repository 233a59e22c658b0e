// Every AWS call the real handlers make is allowed by their function's role in the packaged
// template. The emulator enforces no IAM, so a call the role does not grant passes every local
// test and fails on the first deploy (AccessDenied). Here the local runtime records each call
// (local/aws-sdk-hooks.ts: function, IAM action, resource ARN), and an IAM policy simulator
// (@cloud-copilot/iam-simulate) evaluates it against the role's policies of `serverless package
// --stage prod`, with the bucket policy as the resource policy for S3 (IAM User Guide, "Policy
// evaluation logic": same-account requests are allowed by identity or resource policy, and an
// explicit deny in either wins).
//
// The calls: those of a scenario this file drives through the whole stack (every route, a cache
// miss and hit, an html document, compareTo, a receipt signed with the SSM key, a batch and its
// webhook, a redrive), and those every other test of the run recorded before this file
// (tests/global-setup.ts sets URL2PNG_AWS_CALL_LOG).
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { existsSync, mkdtempSync, readdirSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { generateKeyPairSync, randomUUID } from 'node:crypto';
import { SendMessageCommand, SQSClient } from '@aws-sdk/client-sqs';
import { PutParameterCommand, SSMClient } from '@aws-sdk/client-ssm';
import { runSimulation } from '@cloud-copilot/iam-simulate';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { encodeJob, newJob } from '../../lib/contract/job.js';
import { type AwsCall, LOCAL_ACCOUNT } from '../../local/aws-sdk-hooks.js';
import { LOCAL_NAMES, LOCAL_REGION } from '../../local/emulator.js';
import type { LocalStack } from '../../local/stack.js';
import { type Moto, startMoto } from '../support/moto.js';
import { html, servePages, type PageServer } from '../../fixtures/pages.js';
import { packageService, type TemplateJson } from '../../fixtures/serverless.js';
import { postScreenshot, startTestStack, waitForSettled } from '../support/stack.js';

// moto checks no signature; any pair will do.
const MOTO_CREDENTIALS = { accessKeyId: 'test', secretAccessKey: 'test' };

const FUNCTIONS = { api: 'ApiLambdaFunction', worker: 'WorkerLambdaFunction', redrive: 'RedriveLambdaFunction' } as const;

let template: TemplateJson;
let moto: Moto;
let pages: PageServer;
let stack: LocalStack;
let publicParameter: string;
let receiver: http.Server;
let hooks = 0;
let ownLog: string;
/** The run's log (tests/global-setup.ts), before this file points its own stack elsewhere. */
const suiteLog = process.env.URL2PNG_AWS_CALL_LOG;

/**
 * The template's intrinsic functions, resolved to the local stack's names and ARNs (the same
 * names the emulator gives the queues and the bucket, local/emulator.ts).
 */
function resolve(value: TemplateJson): TemplateJson {
  const arns: Record<string, string> = {
    ImagesBucket: `arn:aws:s3:::${LOCAL_NAMES.bucket}`,
    JobsQueue: `arn:aws:sqs:${LOCAL_REGION}:${LOCAL_ACCOUNT}:${LOCAL_NAMES.queue}`,
    JobsDeadLetterQueue: `arn:aws:sqs:${LOCAL_REGION}:${LOCAL_ACCOUNT}:${LOCAL_NAMES.dlq}`,
  };
  const pseudo: Record<string, string> = { 'AWS::Partition': 'aws', 'AWS::Region': LOCAL_REGION, 'AWS::AccountId': LOCAL_ACCOUNT };
  if (Array.isArray(value)) return value.map(resolve);
  if (typeof value !== 'object' || value === null) return value;
  if ('Fn::GetAtt' in value) {
    const [name, attribute] = value['Fn::GetAtt'];
    if (attribute !== 'Arn' || !arns[name]) throw new Error(`resolve: no local ARN for ${name}.${attribute}`);
    return arns[name];
  }
  if ('Fn::Join' in value) return (resolve(value['Fn::Join'][1]) as string[]).join(value['Fn::Join'][0]);
  if ('Fn::Sub' in value) {
    return (value['Fn::Sub'] as string).replace(/\$\{([^}]+)\}/g, (_, name: string) => {
      if (!pseudo[name]) throw new Error(`resolve: no value for \${${name}}`);
      return pseudo[name];
    });
  }
  return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, resolve(v)]));
}

/** The identity policies of the function's role, resolved. */
function rolePolicies(t: TemplateJson, fn: string): Array<{ name: string; policy: TemplateJson }> {
  const functionResource = t.Resources[FUNCTIONS[fn as keyof typeof FUNCTIONS]];
  if (!functionResource) throw new Error(`the template has no function for the recorded caller "${fn}"`);
  const role = t.Resources[functionResource.Properties.Role['Fn::GetAtt'][0]];
  return (role.Properties.Policies ?? []).map((p: TemplateJson) => ({ name: p.PolicyName, policy: resolve(p.PolicyDocument) }));
}

const bucketPolicy = (t: TemplateJson) => resolve(t.Resources.ImagesBucketPolicy.Properties.PolicyDocument);

/** The calls the simulator does not allow, as "function: action on resource (result)". */
async function denied(t: TemplateJson, calls: AwsCall[]): Promise<string[]> {
  const out: string[] = [];
  for (const call of calls) {
    const response = await runSimulation(
      {
        request: {
          principal: `arn:aws:iam::${LOCAL_ACCOUNT}:role/url2png-prod-${call.function}`,
          action: call.action,
          resource: { resource: call.resource, accountId: LOCAL_ACCOUNT },
          // The SDK calls AWS over HTTPS (the bucket policy denies anything else).
          contextVariables: { 'aws:SecureTransport': 'true' },
        },
        identityPolicies: rolePolicies(t, call.function),
        serviceControlPolicies: [],
        resourceControlPolicies: [],
        ...(call.action.startsWith('s3:') ? { resourcePolicy: bucketPolicy(t) } : {}),
      },
      {},
    );
    const verdict = response.resultType === 'error' ? `invalid request: ${JSON.stringify(response.errors)}` : response.overallResult;
    if (verdict !== 'Allowed') out.push(`${call.function}: ${call.action} on ${call.resource} (${verdict}, via ${call.command})`);
  }
  return out;
}

/** The recorded calls in a log directory, one per distinct function, action and resource. */
function readCalls(dir: string | undefined): AwsCall[] {
  if (!dir || !existsSync(dir)) return [];
  const unique = new Map<string, AwsCall>();
  for (const file of readdirSync(dir).filter((f) => f.endsWith('.jsonl'))) {
    for (const line of readFileSync(join(dir, file), 'utf8').split('\n').filter(Boolean)) {
      const call = JSON.parse(line) as AwsCall;
      unique.set(`${call.function} ${call.action} ${call.resource}`, call);
    }
  }
  return [...unique.values()];
}

beforeAll(async () => {
  ({ template } = await packageService('prod'));
  // The parameters the worker (the private key) and the api (its public half) read are the ones
  // the template names in their environment, so a mismatch between an environment variable and
  // the IAM grant shows up as a deny.
  const parameter = template.Resources.WorkerLambdaFunction.Properties.Environment.Variables.URL2PNG_RECEIPT_KEY_PARAMETER;
  publicParameter = template.Resources.ApiLambdaFunction.Properties.Environment.Variables.URL2PNG_RECEIPT_PUBLIC_KEY_PARAMETER;
  expect(publicParameter).toEqual(expect.any(String));
  moto = await startMoto();
  const ssm = new SSMClient({ region: LOCAL_REGION, endpoint: moto.endpoint, credentials: MOTO_CREDENTIALS });
  const pair = generateKeyPairSync('ed25519');
  const pem = pair.privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
  const publicPem = pair.publicKey.export({ type: 'spki', format: 'pem' }).toString();
  await ssm.send(new PutParameterCommand({ Name: parameter, Value: pem, Type: 'SecureString' }));
  await ssm.send(new PutParameterCommand({ Name: publicParameter, Value: publicPem, Type: 'String' }));
  ssm.destroy();
  receiver = http.createServer((req, res) => {
    req.resume();
    req.on('end', () => {
      if (req.url === '/batch') hooks++;
      res.writeHead(204).end();
    });
  });
  await new Promise<void>((r) => receiver.listen(0, '127.0.0.1', r));
  pages = await servePages({ '/page': html('<h1>calls</h1>'), '/other': html('<h2>other calls</h2>') });
  ownLog = mkdtempSync(join(process.env.URL2PNG_TEST_SCRATCH ?? tmpdir(), 'aws-calls-'));
  stack = await startTestStack({
    allow: [pages.hostPort, `127.0.0.1:${(receiver.address() as AddressInfo).port}`],
    workerConcurrency: 2,
    env: {
      URL2PNG_AWS_CALL_LOG: ownLog,
      URL2PNG_RECEIPT_KEY_PARAMETER: parameter,
      URL2PNG_RECEIPT_PUBLIC_KEY_PARAMETER: publicParameter,
      AWS_ENDPOINT_URL_SSM: moto.endpoint,
      URL2PNG_WEBHOOK_SECRET: 'iam-calls-webhook-secret-0123456789',
    },
  });
}, 300_000);

afterAll(async () => {
  await stack?.stop();
  await pages?.close();
  await moto?.stop();
  await new Promise((r) => (receiver ? receiver.close(r) : r(undefined)));
  // Later files of this worker record into the run's log again.
  if (suiteLog) process.env.URL2PNG_AWS_CALL_LOG = suiteLog;
  delete process.env.AWS_ENDPOINT_URL_SSM;
  delete process.env.URL2PNG_RECEIPT_KEY_PARAMETER;
  delete process.env.URL2PNG_RECEIPT_PUBLIC_KEY_PARAMETER;
});

const get = async (path: string) => (await fetch(`${stack.apiUrl}${path}`)).status;

describe('every AWS call the handlers make is allowed by their role in the packaged template', () => {
  it('a scenario through every route and path of the service, and the calls of the rest of the run', async () => {
    const callback = `http://127.0.0.1:${(receiver.address() as AddressInfo).port}`;
    // GET routes and unknown ids (reads of missing keys).
    for (const path of ['/', '/devices', '/openapi.json', '/receipt-key']) expect.soft(await get(path), path).toBe(200);
    const unknown = randomUUID();
    for (const path of [`/screenshots/${unknown}`, `/screenshots/${unknown}/receipt`, `/batches/${unknown}`])
      expect.soft(await get(path), path).toBe(404);
    // A render with a webhook and a receipt; the same with cache: true, twice (miss, then hit).
    const first = await postScreenshot(stack.apiUrl, { url: `${pages.origin}/page`, callbackUrl: `${callback}/job`, cache: true });
    expect(first.res.status).toBe(202);
    const done = await waitForSettled(first.json.statusUrl as string, 120_000);
    expect(done.status).toBe('done');
    expect(await get(`/screenshots/${first.json.id}/receipt`)).toBe(200);
    expect((await postScreenshot(stack.apiUrl, { url: `${pages.origin}/page`, cache: true })).res.status).toBe(200);
    // An html document, compared with the first image.
    const compared = await postScreenshot(stack.apiUrl, { html: '<h1>calls</h1>', compareTo: first.json.id });
    expect(compared.res.status).toBe(202);
    expect((await waitForSettled(compared.json.statusUrl as string, 120_000)).status).toBe('done');
    // A batch with a webhook (the claim marker's read, conditional write and read-back).
    const batch = await fetch(`${stack.apiUrl}/batches`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({
        requests: [{ url: `${pages.origin}/page` }, { url: `${pages.origin}/other` }],
        callbackUrl: `${callback}/batch`,
      }),
    });
    expect(batch.status).toBe(202);
    const batchUrl = ((await batch.json()) as { statusUrl: string }).statusUrl;
    for (const until = Date.now() + 120_000; hooks === 0 && Date.now() < until; ) await new Promise((r) => setTimeout(r, 200));
    expect(hooks).toBe(1);
    expect(((await (await fetch(batchUrl)).json()) as { status: string }).status).toBe('done');
    // A dead letter of a job without a status record, redriven.
    const sqs = new SQSClient({ region: LOCAL_REGION, endpoint: stack.emulator.endpoint, credentials: stack.emulator.credentials });
    await sqs.send(
      new SendMessageCommand({ QueueUrl: stack.emulator.dlqUrl, MessageBody: encodeJob(newJob(`${pages.origin}/other`, {})) }),
    );
    sqs.destroy();
    expect((await stack.redrive()).moved).toBe(1);

    const calls = readCalls(ownLog);
    const byFunction = (fn: string) => new Set(calls.filter((c) => c.function === fn).map((c) => c.action));
    // The scenario reached what each role grants (logs aside: the Lambda runtime writes those).
    expect([...byFunction('api')].sort()).toEqual(['s3:GetObject', 's3:PutObject', 'sqs:SendMessage', 'ssm:GetParameter']);
    expect([...byFunction('worker')]).toEqual(
      expect.arrayContaining(['s3:GetObject', 's3:PutObject', 'ssm:GetParameter', 'sqs:ReceiveMessage', 'sqs:DeleteMessage']),
    );
    expect([...byFunction('redrive')]).toEqual(
      expect.arrayContaining(['sqs:ReceiveMessage', 'sqs:SendMessage', 'sqs:DeleteMessage', 's3:PutObject']),
    );

    const suite = readCalls(suiteLog);
    expect(await denied(template, [...calls, ...suite])).toEqual([]);
  }, 400_000);

  it('removing one resource from a role is caught: the worker without batches/* may not claim a batch webhook', async () => {
    const calls = readCalls(ownLog);
    const mutated = structuredClone(template);
    const statements = mutated.Resources.WorkerRole.Properties.Policies[0].PolicyDocument.Statement as TemplateJson[];
    const s3 = statements.find((s) => [s.Action].flat().includes('s3:PutObject'));
    s3.Resource = s3.Resource.filter((r: TemplateJson) => !JSON.stringify(r).includes('/batches/*'));
    const denials = await denied(mutated, calls);
    expect(denials.length).toBeGreaterThan(0);
    for (const line of denials)
      expect(line).toMatch(/^worker: s3:(GetObject|PutObject) on arn:aws:s3:::url2png-local-images\/batches\/.+ \(ImplicitlyDenied/);
    expect(denials.join('\n')).toMatch(/worker: s3:PutObject on arn:aws:s3:::url2png-local-images\/batches\/[0-9a-f-]+\.webhook\.json/);
    // And the unchanged template allows the same calls.
    expect(await denied(template, calls)).toEqual([]);
  });
});
