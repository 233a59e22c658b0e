// `serverless package --stage prod`: the private bucket, least-privilege roles, the API key on
// POST and the throttled usage plan, read from the CloudFormation template that would deploy.
import { beforeAll, describe, expect, it } from 'vitest';
import { packageService, resourcesOfType, type TemplateJson } from '../support/serverless.js';

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

  it('the API may send jobs and read/write status, nothing else on SQS/S3; the worker may not send', () => {
    const actions = (role: string) =>
      new Set(
        allowStatements()
          .filter((s) => s.role === role)
          .flatMap((s) => [s.Action].flat()),
      );
    const api = actions('ApiRole');
    expect([...api].filter((a) => a.startsWith('sqs:'))).toEqual(['sqs:SendMessage']);
    expect([...api].filter((a) => a.startsWith('s3:')).sort()).toEqual(['s3:GetObject', 's3:PutObject']);
    const worker = actions('WorkerRole');
    expect(worker.has('sqs:SendMessage')).toBe(false);
    expect(worker.has('s3:DeleteObject')).toBe(false);
    for (const fn of ['ApiLambdaFunction', 'WorkerLambdaFunction']) {
      expect(template.Resources[fn].Properties.Role).toEqual({
        'Fn::GetAtt': [fn === 'ApiLambdaFunction' ? 'ApiRole' : 'WorkerRole', 'Arn'],
      });
    }
  });
});

describe('API Gateway: API key on POST, a throttled usage plan with a quota, narrow CORS', () => {
  const methods = () => resourcesOfType(template, 'AWS::ApiGateway::Method');
  it('POST /screenshots requires an API key; GET does not', () => {
    const post = methods().filter(([, m]) => m.Properties.HttpMethod === 'POST');
    expect(post.length).toBeGreaterThan(0);
    for (const [, m] of post) expect(m.Properties.ApiKeyRequired).toBe(true);
    expect(only(resourcesOfType(template, 'AWS::ApiGateway::ApiKey')).Properties.Enabled).toBe(true);
    // The key's value is generated by AWS, never written in the template.
    expect(only(resourcesOfType(template, 'AWS::ApiGateway::ApiKey')).Properties.Value).toBeUndefined();
  });
  it('one usage plan, with rate and burst throttling and a quota, tied to the key and the stage', () => {
    const plan = only(resourcesOfType(template, 'AWS::ApiGateway::UsagePlan'));
    expect(plan.Properties.Throttle.RateLimit).toBeGreaterThan(0);
    expect(plan.Properties.Throttle.BurstLimit).toBeGreaterThanOrEqual(plan.Properties.Throttle.RateLimit);
    expect(plan.Properties.Quota.Limit).toBeGreaterThan(0);
    expect(['DAY', 'WEEK', 'MONTH']).toContain(plan.Properties.Quota.Period);
    expect(plan.Properties.ApiStages).toEqual([{ ApiId: { Ref: 'ApiGatewayRestApi' }, Stage: 'prod' }]);
    const planKey = only(resourcesOfType(template, 'AWS::ApiGateway::UsagePlanKey'));
    expect(planKey.Properties.KeyType).toBe('API_KEY');
  });
  it('CORS preflights allow only the methods and headers the page needs, without credentials', () => {
    const options = methods().filter(([, m]) => m.Properties.HttpMethod === 'OPTIONS');
    expect(options.length).toBeGreaterThanOrEqual(2);
    for (const [name, m] of options) {
      const params = m.Properties.Integration.IntegrationResponses[0].ResponseParameters;
      const headers = params['method.response.header.Access-Control-Allow-Headers'].replace(/'/g, '').split(',').sort();
      expect.soft(headers, name).toEqual(['Content-Type', 'X-Api-Key']);
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
