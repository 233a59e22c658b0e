// A serverless plugin: API Gateway throttling for single public methods (custom.methodThrottling).
// The usage plan throttles only requests that carry an API key, so a public route (GET /render)
// needs its own limit: a stage method setting. The framework names the deployment that creates the
// stage after each package's instance id, so the setting is added to it here rather than in
// `resources` (AWS: AWS::ApiGateway::Deployment StageDescription, MethodSetting: "/" in a resource
// path is written "~1").
'use strict';

class MethodThrottling {
  constructor(serverless) {
    this.serverless = serverless;
    this.hooks = { 'before:package:finalize': () => this.addMethodSettings() };
  }

  addMethodSettings() {
    const limits = this.serverless.service.custom?.methodThrottling ?? [];
    if (limits.length === 0) return;
    const resources = this.serverless.service.provider.compiledCloudFormationTemplate.Resources;
    const deployments = Object.values(resources).filter((r) => r.Type === 'AWS::ApiGateway::Deployment');
    if (deployments.length !== 1) throw new Error(`methodThrottling: expected one API Gateway deployment, found ${deployments.length}`);
    const settings = limits.map((l) => ({
      ResourcePath: `/${l.path.replace(/\//g, '~1')}`,
      HttpMethod: l.method.toUpperCase(),
      ThrottlingRateLimit: Number(l.rateLimit),
      ThrottlingBurstLimit: Number(l.burstLimit),
    }));
    const properties = deployments[0].Properties;
    properties.StageDescription = properties.StageDescription ?? {};
    const stage = properties.StageDescription;
    stage.MethodSettings = [...(stage.MethodSettings ?? []), ...settings];
  }
}

module.exports = MethodThrottling;
