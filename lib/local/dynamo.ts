import { CreateTableCommand, DynamoDBClient, ResourceInUseException, type CreateTableCommandInput } from '@aws-sdk/client-dynamodb';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { TABLE_ENV } from '../../functions/core/names.ts';
import { StreamJournal, journalLedgerInserts } from './stream.ts';

export interface LocalDynamo {
  url: string;
  client: DynamoDBClient;
  /** The environment the handlers read to reach these tables. */
  environment: Record<string, string>;
  close(): Promise<void>;
}

/** The same key schemas as lib/constructs/tables.ts. */
const TABLES: CreateTableCommandInput[] = [
  { TableName: 'visitors', KeySchema: [{ AttributeName: 'pk', KeyType: 'HASH' }], AttributeDefinitions: [{ AttributeName: 'pk', AttributeType: 'S' }] },
  {
    TableName: 'ledger',
    KeySchema: [
      { AttributeName: 'pk', KeyType: 'HASH' },
      { AttributeName: 'sk', KeyType: 'RANGE' },
    ],
    AttributeDefinitions: [
      { AttributeName: 'pk', AttributeType: 'S' },
      { AttributeName: 'sk', AttributeType: 'S' },
    ],
  },
];

/** The environment the handlers read to reach the local tables at `url`. */
export function localDynamoEnvironment(url: string): Record<string, string> {
  return {
    AWS_ENDPOINT_URL_DYNAMODB: url,
    [TABLE_ENV.visitors]: 'visitors',
    [TABLE_ENV.ledger]: 'ledger',
  };
}

/**
 * dynalite (a real DynamoDB protocol server) with the relay's tables: kept on disk under `dir` (the local runner) or
 * in memory (tests). Tables that already exist on disk are kept as they are. With `streamJournal`, the ledger's
 * stream is emulated: each committed conversion item is appended to that file (lib/local/stream.ts), and
 * `onStreamAppend` told so.
 */
export async function startLocalDynamo(dir?: string, region = 'us-east-1', opts: { streamJournal?: string; onStreamAppend?: () => void } = {}): Promise<LocalDynamo> {
  const { default: dynalite } = await import('dynalite');
  const server: Server = dynalite({ ...(dir ? { path: dir } : {}), createTableMs: 0, deleteTableMs: 0, updateTableMs: 0 });
  const journal = opts.streamJournal ? new StreamJournal(opts.streamJournal, opts.onStreamAppend) : undefined;
  if (journal) journalLedgerInserts(server, journal, region);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const client = new DynamoDBClient({ endpoint: url, region, credentials: { accessKeyId: 'local', secretAccessKey: 'local' } });
  for (const t of TABLES) {
    try {
      await client.send(new CreateTableCommand({ ...t, BillingMode: 'PAY_PER_REQUEST' }));
    } catch (err) {
      if (!(err instanceof ResourceInUseException)) throw err;
    }
  }
  return {
    url,
    client,
    environment: localDynamoEnvironment(url),
    close: () =>
      new Promise((resolve) => {
        client.destroy();
        server.close(() => {
          journal?.close();
          resolve();
        });
        server.closeAllConnections?.();
      }),
  };
}
