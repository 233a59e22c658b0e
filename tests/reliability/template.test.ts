// The packaged CloudFormation template (real `serverless package --stage prod`): the CloudWatch
// alarms, the redrive function, the EventBridge rules that run it, and its least-privilege role.
import { beforeAll, describe, expect, it } from 'vitest';
import { TUNING } from '../../lib/contract/tuning.js';
import { packageService, resourcesOfType, type PackagedService, type TemplateJson } from '../../fixtures/serverless.js';

let pkg: PackagedService;
let r: Record<string, TemplateJson>;

beforeAll(async () => {
  pkg = await packageService('prod');
  r = pkg.template.Resources;
}, 240_000);

const alarm = (name: string) => {
  const found = resourcesOfType(pkg.template, 'AWS::CloudWatch::Alarm').find(([, a]) => a.Properties.AlarmName === name);
  expect(found, `alarm ${name}`).toBeDefined();
  return found![1].Properties;
};

describe('serverless package --stage prod: reliability and operations', () => {
  it('alarms on a non-empty DLQ (> 0 visible messages)', () => {
    expect(alarm('url2png-prod-dlq-not-empty')).toMatchObject({
      Namespace: 'AWS/SQS',
      MetricName: 'ApproximateNumberOfMessagesVisible',
      Dimensions: [{ Name: 'QueueName', Value: { 'Fn::GetAtt': ['JobsDeadLetterQueue', 'QueueName'] } }],
      Threshold: 0,
      ComparisonOperator: 'GreaterThanThreshold',
      TreatMissingData: 'notBreaching',
    });
  });

  it("alarms on the jobs queue's ApproximateAgeOfOldestMessage", () => {
    expect(alarm('url2png-prod-jobs-queue-old-messages')).toMatchObject({
      Namespace: 'AWS/SQS',
      MetricName: 'ApproximateAgeOfOldestMessage',
      Dimensions: [{ Name: 'QueueName', Value: { 'Fn::GetAtt': ['JobsQueue', 'QueueName'] } }],
      Threshold: TUNING.queueAgeAlarmSeconds,
      ComparisonOperator: 'GreaterThanThreshold',
    });
  });

  it('alarms on worker errors (AWS/Lambda Errors of the worker function)', () => {
    expect(alarm('url2png-prod-worker-errors')).toMatchObject({
      Namespace: 'AWS/Lambda',
      MetricName: 'Errors',
      Dimensions: [{ Name: 'FunctionName', Value: { Ref: 'WorkerLambdaFunction' } }],
      Statistic: 'Sum',
      Threshold: 0,
      ComparisonOperator: 'GreaterThanThreshold',
    });
  });

  it('packages a redrive function with its bound, the queue and DLQ URLs and the bucket', () => {
    const fn = r.RedriveLambdaFunction.Properties;
    expect(fn.Handler).toBe('handlers/redrive.handler');
    expect(fn.Timeout).toBe(TUNING.redriveTimeoutSeconds);
    expect(fn.Role).toEqual({ 'Fn::GetAtt': ['RedriveRole', 'Arn'] });
    expect(fn.Environment.Variables).toMatchObject({
      URL2PNG_MAX_REDRIVES: String(TUNING.maxRedrives),
      URL2PNG_QUEUE_URL: { Ref: 'JobsQueue' },
      URL2PNG_DLQ_URL: { Ref: 'JobsDeadLetterQueue' },
      URL2PNG_BUCKET: { Ref: 'ImagesBucket' },
    });
    expect(Object.keys(pkg.artifacts)).toContain('redrive.zip');
  });

  it('runs the redrive from an EventBridge rule on the DLQ alarm going to ALARM, and from a schedule', () => {
    const rules = resourcesOfType(pkg.template, 'AWS::Events::Rule');
    const targetsRedrive = (rule: { Properties: { Targets: Array<{ Arn: unknown }> } }) =>
      rule.Properties.Targets.some((t) => JSON.stringify(t.Arn).includes('RedriveLambdaFunction'));
    const onAlarm = rules.find(([, rule]) => rule.Properties.EventPattern && targetsRedrive(rule));
    expect(onAlarm).toBeDefined();
    const pattern =
      typeof onAlarm![1].Properties.EventPattern === 'string'
        ? JSON.parse(onAlarm![1].Properties.EventPattern)
        : onAlarm![1].Properties.EventPattern;
    expect(pattern).toEqual({
      source: ['aws.cloudwatch'],
      'detail-type': ['CloudWatch Alarm State Change'],
      detail: { alarmName: ['url2png-prod-dlq-not-empty'], state: { value: ['ALARM'] } },
    });
    const scheduled = rules.find(([, rule]) => rule.Properties.ScheduleExpression && targetsRedrive(rule));
    expect(scheduled![1].Properties).toMatchObject({ ScheduleExpression: TUNING.redriveSchedule, State: 'ENABLED' });
    // EventBridge may invoke the function (one permission per rule).
    const permissions = resourcesOfType(pkg.template, 'AWS::Lambda::Permission').filter(
      ([, p]) =>
        p.Properties.Principal === 'events.amazonaws.com' && JSON.stringify(p.Properties.FunctionName).includes('RedriveLambdaFunction'),
    );
    expect(permissions).toHaveLength(2);
  });

  it("gives the redrive only what it uses: the DLQ's receive/delete, SendMessage on the jobs queue, status objects", () => {
    const statements = r.RedriveRole.Properties.Policies[0].PolicyDocument.Statement as Array<{
      Action: string | string[];
      Resource: unknown;
    }>;
    const on = (resource: string) =>
      statements.filter((s) => JSON.stringify(s.Resource).includes(resource)).flatMap((s) => [s.Action].flat());
    expect(on('"JobsDeadLetterQueue"').sort()).toEqual([
      'sqs:ChangeMessageVisibility',
      'sqs:DeleteMessage',
      'sqs:GetQueueAttributes',
      'sqs:ReceiveMessage',
    ]);
    expect(on('"JobsQueue"')).toEqual(['sqs:SendMessage']);
    expect(on('/status/*').sort()).toEqual(['s3:GetObject', 's3:PutObject']);
    expect(JSON.stringify(statements)).not.toContain('/images/');
    expect(statements.flatMap((s) => [s.Action].flat()).some((a) => a.endsWith('*'))).toBe(false);
  });

  it('every alarm notifies an encrypted SNS topic, when it fires and when it clears; an email subscription only if URL2PNG_ALARM_EMAIL is set', () => {
    const alarms = resourcesOfType(pkg.template, 'AWS::CloudWatch::Alarm');
    expect(alarms).toHaveLength(3);
    for (const [, a] of alarms) {
      expect(a.Properties.AlarmActions, a.Properties.AlarmName).toEqual([{ Ref: 'AlarmTopic' }]);
      expect(a.Properties.OKActions, a.Properties.AlarmName).toEqual([{ Ref: 'AlarmTopic' }]);
    }
    expect(r.AlarmTopic).toMatchObject({
      Type: 'AWS::SNS::Topic',
      Properties: { TopicName: 'url2png-prod-alarms', KmsMasterKeyId: 'alias/aws/sns' },
    });
    expect(r.AlarmEmailSubscription).toMatchObject({
      Type: 'AWS::SNS::Subscription',
      Condition: 'HasAlarmEmail',
      Properties: { TopicArn: { Ref: 'AlarmTopic' }, Protocol: 'email', Endpoint: '' },
    });
    // Packaged without URL2PNG_ALARM_EMAIL: the condition compares '' with '', so no subscription.
    expect(pkg.template.Conditions.HasAlarmEmail).toEqual({ 'Fn::Not': [{ 'Fn::Equals': ['', ''] }] });
    expect(pkg.template.Outputs.AlarmTopicArn.Value).toEqual({ Ref: 'AlarmTopic' });
  });
});
