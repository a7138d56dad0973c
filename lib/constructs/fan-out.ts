import { Duration } from 'aws-cdk-lib';
import { Alarm, ComparisonOperator, TreatMissingData, type IMetric } from 'aws-cdk-lib/aws-cloudwatch';
import { SnsAction } from 'aws-cdk-lib/aws-cloudwatch-actions';
import { FilterCriteria, FilterRule, StartingPosition } from 'aws-cdk-lib/aws-lambda';
import { DynamoEventSource, SqsDlq } from 'aws-cdk-lib/aws-lambda-event-sources';
import type { ITopic } from 'aws-cdk-lib/aws-sns';
import { Queue, QueueEncryption } from 'aws-cdk-lib/aws-sqs';
import { Construct } from 'constructs';
import { FAN_OUT_BATCH_SIZE, FAN_OUT_FAILURES_ENV, FAN_OUT_RETRY_ATTEMPTS, queueUrlEnv } from '../../functions/core/names.ts';
import { FAN_OUT_ENTRY } from '../../functions/registry.ts';
import { ACCEPTED_STATUS, CONVERSION_SK } from '../../functions/store/ledger-items.ts';
import type { Destination } from './destination.ts';
import { RelayFunction } from './relay-function.ts';
import type { RelayTables } from './tables.ts';

export interface FanOutProps {
  tables: RelayTables;
  destinations: Destination[];
  alarmTopic: ITopic;
}

/** Long enough to gather a batch under load, short enough that a lone conversion is queued within a second. */
export const FAN_OUT_BATCHING_WINDOW = Duration.seconds(1);

/**
 * The outbox's relay: the ledger table's stream (new images) invokes the fan-out function for each INSERT of an
 * accepted conversion item — the event filter drops every other write (senders' rows, skips) before any invocation,
 * at no charge — and it puts the conversion on each queued destination's queue. A batch that keeps failing is
 * bisected and retried, then described on the failure queue (Lambda's record: the batch's range in the stream); records
 * it cannot read go there at once, with the reason. `conversion-relay replay --fan-out-failures` re-enqueues both
 * kinds from the ledger items (a range read back from the stream while it keeps it, 24 h).
 */
export class FanOut extends Construct {
  readonly handler: RelayFunction;
  readonly failures: Queue;

  constructor(scope: Construct, id: string, props: FanOutProps) {
    super(scope, id);
    const { tables, destinations } = props;
    this.failures = new Queue(this, 'FailureQueue', { encryption: QueueEncryption.SQS_MANAGED, enforceSSL: true, retentionPeriod: Duration.days(14) });
    this.handler = new RelayFunction(this, 'Function', {
      entry: FAN_OUT_ENTRY,
      description: 'conversion-relay: puts each accepted conversion (ledger stream) on its destinations’ queues',
      timeout: Duration.seconds(30),
      environment: {
        ...Object.fromEntries(destinations.map((d) => [queueUrlEnv(d.name), d.queue.queueUrl])),
        [FAN_OUT_FAILURES_ENV]: this.failures.queueUrl,
      },
    });
    this.handler.addEventSource(
      new DynamoEventSource(tables.ledger, {
        startingPosition: StartingPosition.TRIM_HORIZON,
        batchSize: FAN_OUT_BATCH_SIZE,
        maxBatchingWindow: FAN_OUT_BATCHING_WINDOW,
        reportBatchItemFailures: true,
        bisectBatchOnError: true,
        retryAttempts: FAN_OUT_RETRY_ATTEMPTS,
        onFailure: new SqsDlq(this.failures),
        filters: [
          FilterCriteria.filter({
            eventName: FilterRule.isEqual('INSERT'),
            dynamodb: { NewImage: { sk: { S: FilterRule.isEqual(CONVERSION_SK) }, status: { S: FilterRule.isEqual(ACCEPTED_STATUS) } } },
          }),
        ],
      }),
    );
    // Send only: each destination's queue (not its DLQ), and the failure queue (SqsDlq grants it for Lambda's records).
    for (const d of destinations) d.queue.grantSendMessages(this.handler);

    const alarm = (name: string, description: string, metric: IMetric, threshold: number) =>
      new Alarm(this, name, {
        alarmDescription: description,
        metric,
        threshold,
        evaluationPeriods: 1,
        comparisonOperator: ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
        treatMissingData: TreatMissingData.NOT_BREACHING,
      }).addAlarmAction(new SnsAction(props.alarmTopic));
    alarm('ErrorsAlarm', 'fan-out: invocations failed (conversions not queued yet; retried from the ledger stream)', this.handler.metricErrors({ period: Duration.minutes(5) }), 1);
    alarm(
      'IteratorAgeAlarm',
      'fan-out: the oldest unqueued conversion is over 5 minutes old (failing or throttled; the stream keeps records 24 h)',
      this.handler.metric('IteratorAge', { statistic: 'Maximum', period: Duration.minutes(5) }),
      300_000,
    );
    alarm(
      'FailureQueueAlarm',
      'fan-out: conversions left unqueued after every retry, or unreadable stream records, on the failure queue; fix the cause, then conversion-relay replay --fan-out-failures (within 24 h for stream batches)',
      this.failures.metricApproximateNumberOfMessagesVisible({ period: Duration.minutes(5) }),
      1,
    );
  }
}
