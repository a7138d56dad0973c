import { App, Validations } from 'aws-cdk-lib';
import { AwsSolutionsChecks } from 'cdk-nag';
import { RelayStack } from '../lib/relay-stack.ts';
import { acknowledgeNagFindings } from '../lib/nag.ts';

/** `npx cdk synth` / `npx cdk deploy`: the stack, checked by cdk-nag's AwsSolutions pack on every synth. */
const app = new App();
const stack = new RelayStack(app, 'ConversionRelay', {
  env: { account: process.env.CDK_DEFAULT_ACCOUNT, region: process.env.CDK_DEFAULT_REGION },
  alarmEmail: app.node.tryGetContext('alarmEmail'),
  consentDefault: app.node.tryGetContext('consentDefault'),
  cookieDomain: app.node.tryGetContext('cookieDomain'),
  mapping: mappingContext(app.node.tryGetContext('mapping')) ?? process.env.RELAY_MAPPING,
  allowedOrigins: app.node.tryGetContext('allowedOrigins'),
  domainName: app.node.tryGetContext('domainName'),
  certificateArn: app.node.tryGetContext('certificateArn'),
  webhookConcurrency: numberContext(app.node.tryGetContext('webhookConcurrency'), 'webhookConcurrency', 1000),
  matchFloors: {
    score: numberContext(app.node.tryGetContext('matchScoreFloor'), 'matchScoreFloor', 10),
    clickAttach: numberContext(app.node.tryGetContext('clickAttachFloor'), 'clickAttachFloor', 100),
    perDestination: objectContext(app.node.tryGetContext('matchFloors')),
  },
});
/** A number from `-c key=5` (a string) or cdk.json (a number), checked against its range. */
function numberContext(value: unknown, key: string, max: number): number | undefined {
  if (value === undefined || value === null || value === '') return undefined;
  const n = Number(value);
  if (!Number.isFinite(n) || n < 0 || n > max) throw new Error(`context ${key} must be a number from 0 to ${max}, got "${value}"`);
  return n;
}
function objectContext(value: unknown): Record<string, { score?: number; clickAttach?: number }> | undefined {
  if (value === undefined || value === null) return undefined;
  return typeof value === 'string' ? JSON.parse(value) : (value as Record<string, { score?: number; clickAttach?: number }>);
}
/** `-c mapping='{…}'` arrives as a string; a `mapping` object in cdk.json arrives parsed. */
function mappingContext(value: unknown): string | undefined {
  if (value === undefined || value === null) return undefined;
  return typeof value === 'string' ? value : JSON.stringify(value);
}

Validations.of(app).addPlugins(new AwsSolutionsChecks(app));
acknowledgeNagFindings(stack);
