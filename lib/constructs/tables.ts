import { RemovalPolicy } from 'aws-cdk-lib';
import { AttributeType, Billing, StreamViewType, TableV2 } from 'aws-cdk-lib/aws-dynamodb';
import { Construct } from 'constructs';
import { TABLE_ENV } from '../../functions/core/names.ts';

/**
 * The two tables: visitors (clicks) and ledger (what happened to each conversion; the conditional write of its
 * conversion item is the commit that makes a duplicate delivery one conversion, and the ledger's stream carries that
 * item to the fan-out: a transactional outbox).
 */
export class RelayTables extends Construct {
  readonly visitors: TableV2;
  readonly ledger: TableV2;

  constructor(scope: Construct, id: string) {
    super(scope, id);
    const common = {
      billing: Billing.onDemand(),
      timeToLiveAttribute: 'ttl',
      pointInTimeRecoverySpecification: { pointInTimeRecoveryEnabled: true },
      removalPolicy: RemovalPolicy.RETAIN,
    };
    this.visitors = new TableV2(this, 'Visitors', { ...common, partitionKey: { name: 'pk', type: AttributeType.STRING } });
    this.ledger = new TableV2(this, 'Ledger', {
      ...common,
      partitionKey: { name: 'pk', type: AttributeType.STRING },
      sortKey: { name: 'sk', type: AttributeType.STRING },
      // New images only: the fan-out needs the committed item, never the old one.
      dynamoStream: StreamViewType.NEW_IMAGE,
    });
  }

  get environment(): Record<string, string> {
    return {
      [TABLE_ENV.visitors]: this.visitors.tableName,
      [TABLE_ENV.ledger]: this.ledger.tableName,
    };
  }
}
