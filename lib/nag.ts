import { Stack, Validations } from 'aws-cdk-lib';
import { CfnRoute } from 'aws-cdk-lib/aws-apigatewayv2';
import { CfnSecret } from 'aws-cdk-lib/aws-secretsmanager';
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
];

export function acknowledgeNagFindings(stack: Stack): void {
  for (const c of stack.node.findAll()) {
    for (const { on, id, reason } of ACKNOWLEDGED) {
      if (on(c)) Validations.of(c).acknowledge({ id, reason });
    }
  }
}
