// The packaged CloudFormation template (real osls `package`): GET /render is public and throttled
// on its own, only the API function knows and may read the render link secrets' parameter, and the
// API function ends before API Gateway's 29 s integration timeout (synchronous answers wait in it).
import { beforeAll, describe, expect, it } from 'vitest';
import { MAX_WAIT_SECONDS } from '../../lib/contract/wait.js';
import { packageService, resourcesOfType, type PackagedService, type TemplateJson } from '../../fixtures/serverless.js';

let pkg: PackagedService;
beforeAll(async () => {
  pkg = await packageService('prod');
}, 240_000);

const statementsOf = (role: TemplateJson) =>
  role.Properties.Policies.flatMap((p: TemplateJson) => p.PolicyDocument.Statement) as TemplateJson[];
const readsRenderSecrets = (role: TemplateJson) =>
  statementsOf(role).some((s) => s.Action === 'ssm:GetParameter' && JSON.stringify(s.Resource).includes('render-link-secrets'));

describe('serverless package --stage prod: GET /render and synchronous answers', () => {
  it('routes GET /render without an API key or authorizer (a link is its own credential)', () => {
    const resource = resourcesOfType(pkg.template, 'AWS::ApiGateway::Resource').find(([, r]) => r.Properties.PathPart === 'render');
    expect(resource).toBeDefined();
    const method = resourcesOfType(pkg.template, 'AWS::ApiGateway::Method').find(
      ([, m]) => m.Properties.HttpMethod === 'GET' && m.Properties.ResourceId?.Ref === resource![0],
    );
    expect(method?.[1].Properties).toMatchObject({ AuthorizationType: 'NONE', ApiKeyRequired: false });
  });

  it('throttles GET /render in the stage the deployment creates', () => {
    const deployments = resourcesOfType(pkg.template, 'AWS::ApiGateway::Deployment');
    expect(deployments).toHaveLength(1);
    const settings = deployments[0]![1].Properties.StageDescription.MethodSettings;
    expect(settings).toEqual([
      { ResourcePath: '/~1render', HttpMethod: 'GET', ThrottlingRateLimit: expect.any(Number), ThrottlingBurstLimit: expect.any(Number) },
    ]);
    expect(settings[0].ThrottlingRateLimit).toBeGreaterThan(0);
  });

  it('gives only the API function the secrets parameter, by name and by IAM', () => {
    const r = pkg.template.Resources;
    expect(r.ApiLambdaFunction.Properties.Environment.Variables.URL2PNG_RENDER_LINK_SECRETS_PARAMETER).toBe(
      '/url2png/prod/render-link-secrets',
    );
    expect(r.WorkerLambdaFunction.Properties.Environment.Variables.URL2PNG_RENDER_LINK_SECRETS_PARAMETER).toBeUndefined();
    expect(readsRenderSecrets(r.ApiRole)).toBe(true);
    for (const [name, role] of resourcesOfType(pkg.template, 'AWS::IAM::Role')) {
      if (name !== 'ApiRole') expect(readsRenderSecrets(role), name).toBe(false);
    }
  });

  it('ends the API function before API Gateway does (29 s), with room for the longest wait', () => {
    const timeout = pkg.template.Resources.ApiLambdaFunction.Properties.Timeout;
    expect(timeout).toBeLessThan(29);
    expect(timeout).toBeGreaterThan(MAX_WAIT_SECONDS + 1);
  });
});
