import { Duration } from 'aws-cdk-lib';
import { Alarm, ComparisonOperator, TreatMissingData } from 'aws-cdk-lib/aws-cloudwatch';
import { SnsAction } from 'aws-cdk-lib/aws-cloudwatch-actions';
import { SqsEventSource } from 'aws-cdk-lib/aws-lambda-event-sources';
import { Secret } from 'aws-cdk-lib/aws-secretsmanager';
import type { ITopic } from 'aws-cdk-lib/aws-sns';
import { PolicyStatement } from 'aws-cdk-lib/aws-iam';
import { Queue, QueueEncryption } from 'aws-cdk-lib/aws-sqs';
import { Construct } from 'constructs';
import { DEFAULT_MAX_ATTEMPTS, MAX_ATTEMPTS_ENV, dlqUrlEnv, queueUrlEnv, redriveMaxReceiveCount } from '../../functions/core/names.ts';
import type { Destination as DestinationDefinition } from '../../functions/destinations/types.ts';
import { BATCH_PREFIX } from '../../functions/store/batch-records.ts';
import { destinationEntry } from '../../functions/registry.ts';
import { RelayFunction } from './relay-function.ts';
import type { RelayTables } from './tables.ts';

export interface DestinationProps {
  definition: DestinationDefinition<unknown>;
  tables: RelayTables;
  alarmTopic: ITopic;
}

const SENDER_TIMEOUT = Duration.seconds(60);
/** Lambda's event source allows up to 10 000 messages a batch once a batching window is set. */
const MAX_ESM_BATCH = 10_000;
/**
 * Lambda hands a function at most 6 MB per invocation; an SQS record carrying a Conversion is ~1.8 KB (bench), so a
 * larger batch size would only be cut short by the poller. LinkedIn's 5000 per request is then reached in 2 batches.
 */
const MAX_ESM_BATCH_IN_PAYLOAD = 3_000;
/** Long enough to fill a batch under load, short enough that a lone conversion still arrives within seconds. */
const BATCHING_WINDOW = Duration.seconds(5);

/**
 * One platform: its queue, its dead-letter queue, its sender function, its credentials secret and an alarm on the
 * DLQ. What the architecture diagram draws as one box per destination.
 */
export class Destination extends Construct {
  readonly queue: Queue;
  readonly deadLetterQueue: Queue;
  readonly sender: RelayFunction;
  readonly secret: Secret;
  readonly name: string;

  constructor(scope: Construct, id: string, props: DestinationProps) {
    super(scope, id);
    const { definition, tables } = props;
    this.name = definition.name;

    this.deadLetterQueue = new Queue(this, 'DeadLetterQueue', {
      encryption: QueueEncryption.SQS_MANAGED,
      enforceSSL: true,
      retentionPeriod: Duration.days(14),
    });
    this.queue = new Queue(this, 'Queue', {
      encryption: QueueEncryption.SQS_MANAGED,
      enforceSSL: true,
      retentionPeriod: Duration.days(14),
      // AWS rule: at least 6× the function timeout, so a batch in flight is never handed out twice.
      visibilityTimeout: Duration.seconds(SENDER_TIMEOUT.toSeconds() * 6),
      // A backstop: the sender dead-letters a message itself (with the reason) after its last attempt.
      deadLetterQueue: { queue: this.deadLetterQueue, maxReceiveCount: redriveMaxReceiveCount(DEFAULT_MAX_ATTEMPTS) },
    });

    this.secret = new Secret(this, 'Credentials', {
      description: `conversion-relay ${definition.name} settings as a JSON object; keys: ${definition.settingKeys.join(', ')}`,
    });

    this.sender = new RelayFunction(this, 'Sender', {
      entry: destinationEntry(definition.name),
      description: `conversion-relay: sends queued conversions to ${definition.name}`,
      timeout: SENDER_TIMEOUT,
      memorySize: 256,
      environment: {
        ...tables.environment,
        [queueUrlEnv(definition.name)]: this.queue.queueUrl,
        [dlqUrlEnv(definition.name)]: this.deadLetterQueue.queueUrl,
        [MAX_ATTEMPTS_ENV]: String(DEFAULT_MAX_ATTEMPTS),
        RELAY_SECRET_ARN: this.secret.secretArn,
      },
    });
    this.sender.addEventSource(
      new SqsEventSource(this.queue, {
        batchSize: Math.min(definition.maxBatchSize, MAX_ESM_BATCH, MAX_ESM_BATCH_IN_PAYLOAD),
        maxBatchingWindow: BATCHING_WINDOW,
        reportBatchItemFailures: true,
        // Platform rate limits: a backlog is drained by a few large requests, not by hundreds of parallel ones.
        maxConcurrency: 5,
      }),
    );
    this.deadLetterQueue.grantSendMessages(this.sender);
    // Its own queue: a status check of an asynchronously processed request (Destination.followUp), or a fresh copy
    // of a conversion the platform asked to send later than SQS can hide a message (12 h).
    this.queue.grantSendMessages(this.sender);
    tables.ledger.grantWriteData(this.sender);
    // A destination whose conversions wait for earlier ones (refunds for their upload) reads those ledger rows.
    // So does one whose platform reports later on accepted requests (it reads back the conversions awaiting the verdict).
    if (definition.dependsOn || definition.followUp) {
      tables.ledger.grant(this.sender, 'dynamodb:BatchGetItem');
      // Their delivered outcomes are in this destination's batch records (store/batch-records.ts): a Query of its own
      // `B#<destination>#<hour>` partitions only.
      this.sender.addToRolePolicy(
        new PolicyStatement({
          actions: ['dynamodb:Query'],
          resources: [tables.ledger.tableArn],
          conditions: { 'ForAllValues:StringLike': { 'dynamodb:LeadingKeys': [`${BATCH_PREFIX}${definition.name}#*`] } },
        }),
      );
    }
    this.secret.grantRead(this.sender);

    new Alarm(this, 'DeadLetterAlarm', {
      alarmDescription: `${definition.name}: conversions in the dead-letter queue; read their errorCode/errorMessage attributes, fix, redrive`,
      metric: this.deadLetterQueue.metricApproximateNumberOfMessagesVisible({ period: Duration.minutes(5) }),
      threshold: 1,
      evaluationPeriods: 1,
      comparisonOperator: ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
      treatMissingData: TreatMissingData.NOT_BREACHING,
    }).addAlarmAction(new SnsAction(props.alarmTopic));
  }
}
