import { Duration } from 'aws-cdk-lib';
import { HttpMethod, type HttpApi } from 'aws-cdk-lib/aws-apigatewayv2';
import { HttpLambdaIntegration } from 'aws-cdk-lib/aws-apigatewayv2-integrations';
import { Secret } from 'aws-cdk-lib/aws-secretsmanager';
import { Construct } from 'constructs';
import { CONVERSIONS_TOPIC_ENV } from '../../functions/core/names.ts';
import { sourceEntry, type SourceEntry } from '../../functions/registry.ts';
import type { ConversionsTopic } from './conversions-topic.ts';
import { RelayFunction } from './relay-function.ts';
import type { RelayTables } from './tables.ts';

export interface IngestEndpointProps {
  source: SourceEntry;
  api: HttpApi;
  tables: RelayTables;
  /** Where ingest publishes each conversion once (lib/constructs/conversions-topic.ts). */
  conversions: ConversionsTopic;
  environment: Record<string, string>;
}

/** One source: its routes on the HTTP API, its ingest function and its secret (webhook signing secrets). */
export class IngestEndpoint extends Construct {
  readonly handler: RelayFunction;
  readonly secret: Secret;

  constructor(scope: Construct, id: string, props: IngestEndpointProps) {
    super(scope, id);
    const { source, tables, conversions } = props;
    this.secret = new Secret(this, 'Credentials', {
      description: `conversion-relay ${source.name} source settings as a JSON object; keys: ${source.secretKeys.join(', ')}`,
    });
    this.handler = new RelayFunction(this, 'Ingest', {
      entry: sourceEntry(source.name),
      description: `conversion-relay: receives ${source.name} events`,
      timeout: Duration.seconds(15),
      environment: {
        ...props.environment,
        ...tables.environment,
        [CONVERSIONS_TOPIC_ENV]: conversions.topic.topicArn,
        RELAY_SECRET_ARN: this.secret.secretArn,
      },
    });
    this.secret.grantRead(this.handler);
    tables.visitors.grantReadWriteData(this.handler);
    // Claim (PutItem; a duplicate's item comes back with the failed condition, or, from an emulator, by GetItem),
    // take over, release, complete (BatchWriteItem) and record skips.
    tables.ledger.grantWriteData(this.handler);
    tables.ledger.grant(this.handler, 'dynamodb:GetItem');
    conversions.grantPublish(this.handler);

    const integration = new HttpLambdaIntegration(`${id}Integration`, this.handler);
    for (const route of source.routes) {
      props.api.addRoutes({ path: route.path, methods: [HttpMethod[route.method]], integration });
    }
  }
}
