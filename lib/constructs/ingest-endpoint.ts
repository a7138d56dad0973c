import { Duration } from 'aws-cdk-lib';
import { HttpMethod, type HttpApi } from 'aws-cdk-lib/aws-apigatewayv2';
import { HttpLambdaIntegration } from 'aws-cdk-lib/aws-apigatewayv2-integrations';
import { Secret } from 'aws-cdk-lib/aws-secretsmanager';
import { Construct } from 'constructs';
import { sourceEntry, type SourceEntry } from '../../functions/registry.ts';
import { RelayFunction } from './relay-function.ts';
import type { RelayTables } from './tables.ts';

export interface IngestEndpointProps {
  source: SourceEntry;
  api: HttpApi;
  tables: RelayTables;
  environment: Record<string, string>;
}

/** One source: its routes on the HTTP API, its ingest function and its secret (webhook signing secrets). */
export class IngestEndpoint extends Construct {
  readonly handler: RelayFunction;
  readonly secret: Secret;

  constructor(scope: Construct, id: string, props: IngestEndpointProps) {
    super(scope, id);
    const { source, tables } = props;
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
        RELAY_SECRET_ARN: this.secret.secretArn,
      },
    });
    this.secret.grantRead(this.handler);
    tables.visitors.grantReadWriteData(this.handler);
    // The commit and skip records (PutItem; a duplicate's item comes back with the failed condition, or, from an
    // emulator, by GetItem). The ledger's stream does the fan-out: no queue or topic rights here.
    tables.ledger.grant(this.handler, 'dynamodb:PutItem', 'dynamodb:GetItem');

    const integration = new HttpLambdaIntegration(`${id}Integration`, this.handler);
    for (const route of source.routes) {
      props.api.addRoutes({ path: route.path, methods: [HttpMethod[route.method]], integration });
    }
  }
}
