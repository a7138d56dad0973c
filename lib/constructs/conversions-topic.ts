import { Grant, type IGrantable } from 'aws-cdk-lib/aws-iam';
import { Key } from 'aws-cdk-lib/aws-kms';
import { SubscriptionFilter, Topic } from 'aws-cdk-lib/aws-sns';
import { SqsSubscription } from 'aws-cdk-lib/aws-sns-subscriptions';
import { Construct } from 'constructs';
import { DESTINATIONS_ATTRIBUTE } from '../../functions/core/names.ts';
import type { Destination } from './destination.ts';

/**
 * The fan-out: ingest publishes each conversion once, naming the destinations it is queued for in the `destinations`
 * message attribute; every destination's queue subscribes with a filter on its own name and raw message delivery (the
 * queue receives the Conversion itself, with the attributes as message attributes, as if sent to it directly).
 * One Publish for every destination instead of one SendMessage each: a call and a request fee per destination saved.
 */
export class ConversionsTopic extends Construct {
  readonly topic: Topic;
  private readonly key: Key;

  constructor(scope: Construct, id: string, props: { destinations: Destination[] }) {
    super(scope, id);
    // Conversions carry hashed identifiers, IP and user agent: encrypted at rest with a key of the stack's own (the
    // queues use SQS-managed keys, which SNS can deliver to without a key policy).
    const key = (this.key = new Key(this, 'Key', { description: 'conversion-relay: the conversions topic', enableKeyRotation: true }));
    this.topic = new Topic(this, 'Topic', { displayName: 'conversion-relay conversions', masterKey: key, enforceSSL: true });
    for (const d of props.destinations) {
      this.topic.addSubscription(
        new SqsSubscription(d.queue, {
          rawMessageDelivery: true,
          filterPolicy: { [DESTINATIONS_ATTRIBUTE]: SubscriptionFilter.stringFilter({ allowlist: [d.name] }) },
        }),
      );
    }
  }

  /** Publish, and the two key actions SNS needs of a publisher to an encrypted topic (named: no wildcard). */
  grantPublish(grantee: IGrantable): void {
    Grant.addToPrincipal({ grantee, actions: ['sns:Publish'], resourceArns: [this.topic.topicArn] });
    this.key.grant(grantee, 'kms:GenerateDataKey', 'kms:Decrypt');
  }
}
