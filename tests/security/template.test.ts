// `serverless package --stage prod`: the private bucket, least-privilege roles, the API key on
// POST and the throttled usage plan, read from the CloudFormation template that would deploy.
import { beforeAll, describe, expect, it } from 'vitest';
import { packageService, resourcesOfType, type TemplateJson } from '../../fixtures/serverless.js';

let template: TemplateJson;

beforeAll(async () => {
  ({ template } = await packageService('prod'));
}, 240_000);

const only = <T>(list: Array<[string, T]>): T => {
  expect(list).toHaveLength(1);
  return list[0]![1];
};

describe('the images bucket is private', () => {
  it('all four public-access blocks, bucket-owner-enforced ownership, encryption', () => {
    const bucket = template.Resources.ImagesBucket;
    expect(bucket.Type).toBe('AWS::S3::Bucket');
    expect(bucket.Properties.PublicAccessBlockConfiguration).toEqual({
      BlockPublicAcls: true,
      BlockPublicPolicy: true,
      IgnorePublicAcls: true,
      RestrictPublicBuckets: true,
    });
    expect(bucket.Properties.OwnershipControls.Rules).toEqual([{ ObjectOwnership: 'BucketOwnerEnforced' }]);
    const sse = bucket.Properties.BucketEncryption.ServerSideEncryptionConfiguration[0].ServerSideEncryptionByDefault.SSEAlgorithm;
    expect(['AES256', 'aws:kms', 'aws:kms:dsse']).toContain(sse);
    expect(bucket.Properties.AccessControl).toBeUndefined();
    expect(bucket.Properties.WebsiteConfiguration).toBeUndefined();
  });
  it('a lifecycle rule expires the images', () => {
    const rules = template.Resources.ImagesBucket.Properties.LifecycleConfiguration.Rules;
    const images = rules.find((r: { Prefix?: string; Status: string }) => r.Prefix === 'images/' && r.Status === 'Enabled');
    expect(images?.ExpirationInDays).toBeGreaterThan(0);
    expect(images.ExpirationInDays).toBeLessThanOrEqual(30);
  });
  it('the bucket policy denies everything not over TLS and allows nothing', () => {
    const policy = only(resourcesOfType(template, 'AWS::S3::BucketPolicy').filter(([, p]) => p.Properties.Bucket?.Ref === 'ImagesBucket'));
    const statements = policy.Properties.PolicyDocument.Statement;
    expect(statements.filter((s: { Effect: string }) => s.Effect === 'Allow')).toEqual([]);
    expect(statements).toContainEqual(
      expect.objectContaining({ Effect: 'Deny', Principal: '*', Condition: { Bool: { 'aws:SecureTransport': 'false' } } }),
    );
  });
});

describe('each function role has only the actions it uses', () => {
  const allowStatements = (): Array<{ role: string; Action: string | string[]; Resource: TemplateJson }> =>
    resourcesOfType(template, 'AWS::IAM::Role').flatMap(([role, r]) =>
      (r.Properties.Policies ?? []).flatMap((p: { PolicyDocument: { Statement: object[] } }) =>
        p.PolicyDocument.Statement.filter((s) => (s as { Effect: string }).Effect === 'Allow').map((s) => ({ role, ...s })),
      ),
    ) as never;

  it('no wildcard actions (*, s3:*, sqs:*, or any service:*) and no wildcard resources', () => {
    const statements = allowStatements();
    expect(statements.length).toBeGreaterThan(0);
    for (const s of statements) {
      for (const action of [s.Action].flat()) expect.soft(action, `${s.role}: ${action}`).not.toMatch(/\*/);
      for (const resource of [s.Resource].flat()) expect.soft(resource, s.role).not.toBe('*');
    }
    // No managed policies that would widen a role behind the template's back.
    for (const [name, r] of resourcesOfType(template, 'AWS::IAM::Role'))
      expect.soft(r.Properties.ManagedPolicyArns ?? [], name).toEqual([]);
  });

  // One resource of a statement, readable: `JobsQueue`, `ImagesBucket/status/*`, or the ARN pattern of an Fn::Sub.
  const resourceName = (r: TemplateJson): string => {
    if (typeof r === 'string') return r;
    if (r['Fn::GetAtt']?.[1] === 'Arn') return r['Fn::GetAtt'][0];
    if (r['Fn::Sub']) return r['Fn::Sub'];
    const [sep, parts] = r['Fn::Join'] ?? [];
    if (sep === '' && Array.isArray(parts)) return parts.map(resourceName).join('');
    throw new Error(`a resource form this test does not know: ${JSON.stringify(r)}`);
  };
  /** role -> action -> the sorted resources it is allowed on, over all of the role's statements. */
  const grants = (role: string): Record<string, string[]> => {
    const out: Record<string, Set<string>> = {};
    for (const s of allowStatements().filter((x) => x.role === role))
      for (const action of [s.Action].flat()) {
        const resources = out[action] ?? new Set<string>();
        for (const r of [s.Resource].flat()) resources.add(resourceName(r));
        out[action] = resources;
      }
    return Object.fromEntries(Object.entries(out).map(([a, rs]) => [a, [...rs].sort()]));
  };
  const sub = `arn:\${AWS::Partition}`;
  const logs = (fn: string) => [`${sub}:logs:\${AWS::Region}:\${AWS::AccountId}:log-group:/aws/lambda/url2png-prod-${fn}:*`];
  const receiptKey = [`${sub}:ssm:\${AWS::Region}:\${AWS::AccountId}:parameter/url2png/prod/receipt-signing-key`];
  const receiptPublicKey = `${sub}:ssm:\${AWS::Region}:\${AWS::AccountId}:parameter/url2png/prod/receipt-public-key`;
  const renderLinkSecrets = `${sub}:ssm:\${AWS::Region}:\${AWS::AccountId}:parameter/url2png/prod/render-link-secrets`;
  const bucket = (...prefixes: string[]) => prefixes.map((p) => `ImagesBucket/${p}/*`).sort();
  const consume = (queue: string) =>
    Object.fromEntries(
      ['sqs:ReceiveMessage', 'sqs:DeleteMessage', 'sqs:GetQueueAttributes', 'sqs:ChangeMessageVisibility'].map((a) => [a, [queue]]),
    );

  it('each role: exactly these actions on exactly these resources (the API and the redrive send, the worker may not)', () => {
    expect(grants('ApiRole')).toEqual({
      'logs:CreateLogStream': logs('api'),
      'logs:PutLogEvents': logs('api'),
      'sqs:SendMessage': ['JobsQueue'],
      // cache/pending: GET /render's marker of the job rendering a link (lib/api/link-renders.ts).
      's3:PutObject': bucket('status', 'inputs', 'batches', 'cache/pending'),
      's3:GetObject': bucket('status', 'images', 'cache', 'receipts', 'diffs', 'batches', 'extracts'),
      // The receipt key's public half only (the API never holds the signing key), and the render
      // link secrets, which only the API reads.
      'ssm:GetParameter': [receiptPublicKey, renderLinkSecrets].sort(),
    });
    expect(grants('WorkerRole')).toEqual({
      'logs:CreateLogStream': logs('worker'),
      'logs:PutLogEvents': logs('worker'),
      ...consume('JobsQueue'),
      's3:PutObject': bucket('status', 'images', 'cache', 'receipts', 'diffs', 'extracts', 'batches'),
      's3:GetObject': bucket('status', 'images', 'cache', 'receipts', 'diffs', 'extracts', 'batches', 'inputs'),
      's3:AbortMultipartUpload': bucket('images', 'diffs'),
      'ssm:GetParameter': receiptKey,
    });
    expect(grants('RedriveRole')).toEqual({
      'logs:CreateLogStream': logs('redrive'),
      'logs:PutLogEvents': logs('redrive'),
      ...consume('JobsDeadLetterQueue'),
      'sqs:SendMessage': ['JobsQueue'],
      's3:GetObject': bucket('status'),
      's3:PutObject': bucket('status'),
    });
    expect(resourcesOfType(template, 'AWS::IAM::Role').map(([name]) => name)).toEqual(['ApiRole', 'WorkerRole', 'RedriveRole']);
    for (const [fn, role] of [
      ['ApiLambdaFunction', 'ApiRole'],
      ['WorkerLambdaFunction', 'WorkerRole'],
      ['RedriveLambdaFunction', 'RedriveRole'],
    ]) {
      expect(template.Resources[fn!].Properties.Role).toEqual({ 'Fn::GetAtt': [role, 'Arn'] });
    }
  });
});

describe('API Gateway: API key on POST, a throttled usage plan with a quota, narrow CORS', () => {
  const methods = () => resourcesOfType(template, 'AWS::ApiGateway::Method');
  it('POST /screenshots and POST /batches require an API key; every GET does not', () => {
    const byVerb = (verb: string) =>
      Object.fromEntries(
        methods()
          .filter(([, m]) => m.Properties.HttpMethod === verb)
          .map(([name, m]) => [name, { ApiKeyRequired: m.Properties.ApiKeyRequired, AuthorizationType: m.Properties.AuthorizationType }]),
      );
    const keyed = { ApiKeyRequired: true, AuthorizationType: 'NONE' };
    expect(byVerb('POST')).toEqual({ ApiGatewayMethodScreenshotsPost: keyed, ApiGatewayMethodBatchesPost: keyed });
    // The status, the batch, the receipt, the receipt key, the devices, the page and the OpenAPI document: open to anyone with the id.
    const open = { ApiKeyRequired: false, AuthorizationType: 'NONE' };
    expect(byVerb('GET')).toEqual({
      ApiGatewayMethodScreenshotsIdVarGet: open,
      ApiGatewayMethodBatchesIdVarGet: open,
      ApiGatewayMethodScreenshotsIdVarReceiptGet: open,
      ApiGatewayMethodReceiptDashkeyGet: open,
      ApiGatewayMethodDevicesGet: open,
      // A render link is its own credential (an HMAC signature the function checks).
      ApiGatewayMethodRenderGet: open,
      ApiGatewayMethodGet: open,
      ApiGatewayMethodOpenapijsonGet: open,
    });
    expect(only(resourcesOfType(template, 'AWS::ApiGateway::ApiKey')).Properties.Enabled).toBe(true);
    // The key's value is generated by AWS, never written in the template.
    expect(only(resourcesOfType(template, 'AWS::ApiGateway::ApiKey')).Properties.Value).toBeUndefined();
  });
  it('one usage plan, with rate and burst throttling and a quota, tied to the key and the stage', () => {
    const plan = only(resourcesOfType(template, 'AWS::ApiGateway::UsagePlan'));
    // The values serverless.yml custom.apiUsage sets and docs/security.md states: 5/s, burst 10, 2000 a day.
    expect(plan.Properties.Throttle).toEqual({ RateLimit: 5, BurstLimit: 10 });
    expect(plan.Properties.Quota).toEqual({ Limit: 2000, Period: 'DAY' });
    // A batch (up to 50 jobs, one request to the quota) has its own, slower throttle: ~10 jobs/s per key.
    expect(plan.Properties.ApiStages).toEqual([
      {
        ApiId: { Ref: 'ApiGatewayRestApi' },
        Stage: 'prod',
        Throttle: { '/batches/POST': { RateLimit: 0.2, BurstLimit: 2 } },
      },
    ]);
    const planKey = only(resourcesOfType(template, 'AWS::ApiGateway::UsagePlanKey'));
    expect(planKey.Properties.KeyType).toBe('API_KEY');
  });
  it('CORS preflights allow only the methods and headers the page needs, without credentials', () => {
    const options = methods().filter(([, m]) => m.Properties.HttpMethod === 'OPTIONS');
    expect(options.length).toBeGreaterThanOrEqual(2);
    for (const [name, m] of options) {
      const params = m.Properties.Integration.IntegrationResponses[0].ResponseParameters;
      const headers = params['method.response.header.Access-Control-Allow-Headers'].replace(/'/g, '').split(',').sort();
      expect.soft(headers, name).toEqual(['Content-Type', 'Prefer', 'X-Api-Key']);
      const allowed = params['method.response.header.Access-Control-Allow-Methods'].replace(/'/g, '').split(',').sort();
      expect
        .soft(
          allowed.every((x: string) => ['OPTIONS', 'GET', 'POST'].includes(x)),
          name,
        )
        .toBe(true);
      expect.soft(params['method.response.header.Access-Control-Allow-Credentials'], name).toBeUndefined();
    }
  });
  it("API Gateway's own refusals answer the contract's JSON error shape", () => {
    const responses = resourcesOfType(template, 'AWS::ApiGateway::GatewayResponse').map(([, r]) => r.Properties);
    const byType = Object.fromEntries(responses.map((r) => [r.ResponseType, r]));
    for (const [type, status] of [
      ['INVALID_API_KEY', '403'],
      ['THROTTLED', '429'],
      ['QUOTA_EXCEEDED', '429'],
      ['MISSING_AUTHENTICATION_TOKEN', '404'],
    ]) {
      expect.soft(byType[type!]?.StatusCode, type).toBe(status);
      const body = JSON.parse(byType[type!].ResponseTemplates['application/json']);
      expect.soft(body.error.message.length, type).toBeGreaterThan(15);
    }
  });
});

describe('routes in one place: the handler, the template and OpenAPI agree', () => {
  // The handler's route table (handlers/api.ts) is the source; a route added to it and not to
  // serverless.yml answers 403/404 on AWS although every local test passes (GET /devices did).
  /** METHOD /path of every API Gateway method of the template, OPTIONS (CORS preflights) aside. */
  const templateRoutes = (): string[] => {
    const pathOf = (id: TemplateJson): string => {
      if (id?.['Fn::GetAtt']?.[0] === 'ApiGatewayRestApi') return '';
      const resource = template.Resources[id.Ref];
      return `${pathOf(resource.Properties.ParentId)}/${resource.Properties.PathPart}`;
    };
    return resourcesOfType(template, 'AWS::ApiGateway::Method')
      .filter(([, m]) => m.Properties.HttpMethod !== 'OPTIONS')
      .map(([, m]) => `${m.Properties.HttpMethod} ${pathOf(m.Properties.ResourceId) || '/'}`)
      .sort();
  };
  const openApiRoutes = (document: { paths: Record<string, Record<string, unknown>> }): string[] =>
    Object.entries(document.paths)
      .flatMap(([path, item]) => Object.keys(item).map((method) => `${method.toUpperCase()} ${path}`))
      .sort();

  it('every route of the handler is an http event of the template and an OpenAPI path, and nothing else is', async () => {
    const { ROUTES } = await import('../../handlers/api.js');
    const { openApiDocument } = await import('../../lib/contract/openapi.js');
    const expected = [...ROUTES].sort();
    expect(expected).toContain('GET /devices');
    expect(templateRoutes()).toEqual(expected);
    expect(openApiRoutes(openApiDocument('https://example.com'))).toEqual(expected);
  });
});
