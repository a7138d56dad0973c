import { PutItemCommand } from '@aws-sdk/client-dynamodb';
import { CreateQueueCommand, ReceiveMessageCommand, SQSClient } from '@aws-sdk/client-sqs';
import { DynamoDBDocumentClient, PutCommand } from '@aws-sdk/lib-dynamodb';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Route } from '#core/ingest.ts';
import { conversionItemAttributes } from '#store/conversion-item.ts';
import { startLocalDynamo, type LocalDynamo } from '../../lib/local/dynamo.ts';
import { startSqsServer, type SqsServer } from '../../lib/local/sqs-server.ts';
import { lookupStatus, replay } from '../../lib/ops/ledger.ts';
import { qualityReport } from '../../lib/ops/quality.ts';
import type { Target } from '../../lib/ops/target.ts';
import { conversionFactory } from '../support/factories.ts';

/**
 * The operator's commands on a ledger holding both forms of the conversion item — the compact one ingest writes now
 * (binary Conversion and routes) and the JSON one of earlier releases — against dynalite: `status` finds both by
 * order ID, `replay` sends both skipped-at-ingest conversions again, `quality` counts both skips.
 */
describe('operator commands on compact and JSON conversion items', () => {
  let dynamo: LocalDynamo;
  let sqsServer: SqsServer;
  let target: Target;
  const at = new Date().toISOString();
  const compact = conversionFactory({ eventId: 'cs_compact', orderId: 'pi_compact' });
  const json = conversionFactory({ eventId: 'cs_json', orderId: 'pi_json' });
  const routes: Route[] = [{ destination: 'meta', status: 'skipped', reason: 'consent: marketing refused' }, { destination: 'ga4', status: 'queued' }];

  beforeAll(async () => {
    dynamo = await startLocalDynamo();
    sqsServer = await startSqsServer();
    const sqs = new SQSClient({ endpoint: sqsServer.url, region: 'us-east-1', credentials: { accessKeyId: 'local', secretAccessKey: 'local' } });
    const url = (await sqs.send(new CreateQueueCommand({ QueueName: 'meta' }))).QueueUrl!;
    const dlqUrl = (await sqs.send(new CreateQueueCommand({ QueueName: 'meta-dlq' }))).QueueUrl!;
    const ddb = DynamoDBDocumentClient.from(dynamo.client);
    target = { kind: 'local', description: 'test', sqs, ddb, ledgerTable: 'ledger', queues: { meta: { url, dlqUrl } }, secretArns: {} } as unknown as Target;
    await dynamo.client.send(
      new PutItemCommand({
        TableName: 'ledger',
        Item: { pk: { S: 'C#cs_compact' }, sk: { S: 'conversion' }, status: { S: 'accepted' }, inv: { S: 'inv-1' }, ...conversionItemAttributes(compact, routes), updatedAt: { S: at } },
      }),
    );
    await ddb.send(
      new PutCommand({
        TableName: 'ledger',
        Item: {
          pk: 'C#cs_json', sk: 'conversion', status: 'accepted', inv: 'inv-2', routes: JSON.stringify(routes), eventName: 'Purchase', orderId: 'pi_json', occurredAt: json.occurredAt,
          source: 'stripe', sourceEventId: 'evt_json', conversion: JSON.stringify(json), createdAt: at, updatedAt: at,
        },
      }),
    );
  });
  afterAll(async () => {
    await dynamo?.close();
    await sqsServer?.close();
  });

  it('status finds each by its order ID, with each destination’s route', async () => {
    for (const [eventId, id] of [['cs_compact', 'pi_compact'], ['cs_json', 'pi_json']]) {
      const report = await lookupStatus(target, id, []);
      expect(report.conversions.map((c) => c.eventId)).toEqual([eventId]);
      expect(report.conversions.map((c) => c.rows.map((r) => [r.sk, r.status, r.reason, r.orderId]))).toEqual([
        [
          ['D#ga4', 'queued', undefined, id],
          ['D#meta', 'skipped', 'consent: marketing refused', id],
        ],
      ]);
    }
  });

  it('quality counts the skip at ingest of both', async () => {
    const report = await qualityReport(target, { destinations: ['meta'], since: new Date(Date.now() - 3600_000) });
    expect(report.destinations[0]).toMatchObject({ destination: 'meta', skipped: 2, skipReasons: [expect.objectContaining({ count: 2 })] });
  });

  it('replay sends both Conversions, exactly as kept, to the destination they were skipped for', async () => {
    const result = await replay(target, { destinations: ['meta'], statuses: ['skipped'] });
    expect(result).toMatchObject({ found: 2, replayed: 2, notReplayable: 0 });
    const sent = (await target.sqs.send(new ReceiveMessageCommand({ QueueUrl: target.queues.meta.url, MaxNumberOfMessages: 10 }))).Messages ?? [];
    expect(sent.map((m) => JSON.parse(m.Body!)).sort((a, b) => a.eventId.localeCompare(b.eventId))).toEqual([compact, json]);
  });
});
