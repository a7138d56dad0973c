import { RemovalPolicy } from 'aws-cdk-lib';
import { AttributeType, Billing, TableV2 } from 'aws-cdk-lib/aws-dynamodb';
import { Construct } from 'constructs';
import { TABLE_ENV } from '../../functions/core/names.ts';

/**
 * The two tables: visitors (clicks) and ledger (what happened to each conversion; its conversion item is also the
 * claim that makes a duplicate delivery one conversion).
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
    });
  }

  get environment(): Record<string, string> {
    return {
      [TABLE_ENV.visitors]: this.visitors.tableName,
      [TABLE_ENV.ledger]: this.ledger.tableName,
    };
  }
}
