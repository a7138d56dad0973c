import { Stack, Validations } from 'aws-cdk-lib';
import { CfnRoute } from 'aws-cdk-lib/aws-apigatewayv2';
import { CfnSecret } from 'aws-cdk-lib/aws-secretsmanager';
import { CfnQueue } from 'aws-cdk-lib/aws-sqs';
import { FanOut } from './constructs/fan-out.ts';
import type { IConstruct } from 'constructs';

/**
 * The cdk-nag AwsSolutions findings this stack acknowledges, each on the kind of resource it concerns and with its
 * reason. Anything not listed here fails `cdk synth` and the tests.
 */
const ACKNOWLEDGED: { on: (c: IConstruct) => boolean; id: string; reason: string }[] = [
  {
    on: (c) => c instanceof CfnRoute,
    id: 'AwsSolutions-APIG4',
    reason:
      'Public by design: /collect and /t.js are called by visitors\' browsers, which hold no AWS credentials; /collect ' +
      'validates its body and the origin, and the stage throttles floods. (The webhooks come by function URLs.)',
  },
  {
    on: (c) => c instanceof CfnSecret,
    id: 'AwsSolutions-SMG4',
    reason:
      'Holds credentials issued by a third party (a platform access token, a webhook signing secret) that only the ' +
      'issuer can rotate; README "Rotating a secret" describes replacing the value, which functions pick up within 5 minutes.',
  },
  {
    on: (c) => c instanceof CfnQueue && c.node.scope?.node.scope instanceof FanOut,
    id: 'AwsSolutions-SQS3',
    reason:
      'The fan-out\'s failure queue is itself a dead-letter destination (the ledger stream mapping\'s on-failure ' +
      'destination, and unreadable records with their reason): nothing consumes it but the operator, and its alarm fires on the first message.',
  },
];

export function acknowledgeNagFindings(stack: Stack): void {
  for (const c of stack.node.findAll()) {
    for (const { on, id, reason } of ACKNOWLEDGED) {
      if (on(c)) Validations.of(c).acknowledge({ id, reason });
    }
  }
}
