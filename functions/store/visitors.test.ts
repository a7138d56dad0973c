import { BatchGetItemCommand, DynamoDBClient, GetItemCommand } from '@aws-sdk/client-dynamodb';
import { marshall } from '@aws-sdk/util-dynamodb';
import { mockClient } from 'aws-sdk-client-mock';
import 'aws-sdk-client-mock-vitest/extend';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { DynamoVisitorStore } from './visitors.ts';

// The lookup runs on the low-level client (no document-client marshalling on the ingest hot path).
const dynamo = mockClient(DynamoDBClient);
const items = (list: Record<string, unknown>[]) => ({ Responses: { visitors: list.map((i) => marshall(i)) } });
const DAY_S = 86400;
const nowS = () => Math.floor(Date.now() / 1000);
const visitorItem = { pk: 'V#vis_abcdefgh', firstSeenAt: 1, lastSeenAt: 2, ttl: nowS() + 80 * DAY_S, click_gclid: { value: 'Cj0', capturedAt: 1 } };

describe('DynamoVisitorStore.find reports the links it read', () => {
  beforeEach(() => dynamo.reset());
  afterEach(() => dynamo.reset());

  it('names the visitor a fresh e-mail link points at, and leaves out a link near expiry', async () => {
    dynamo.on(BatchGetItemCommand).resolves(
      items([
        visitorItem,
        { pk: 'E#mailhash', visitorId: 'vis_abcdefgh', ttl: nowS() + 80 * DAY_S },
        // 10 days left: due for a rewrite, so reported as absent.
        { pk: 'P#phonehash', visitorId: 'vis_abcdefgh', ttl: nowS() + 10 * DAY_S },
      ]),
    );
    const store = new DynamoVisitorStore('visitors');

    const found = await store.find({ visitorId: 'vis_abcdefgh', emailHash: 'mailhash', phoneHash: 'phonehash' });

    expect(found?.visitorId).toBe('vis_abcdefgh');
    expect(found?.clicks.gclid?.value).toBe('Cj0');
    expect(found?.links).toEqual({ email: 'vis_abcdefgh', phone: undefined });
    expect(dynamo).toHaveReceivedCommandTimes(BatchGetItemCommand, 1);
    expect(dynamo).not.toHaveReceivedCommand(GetItemCommand);
  });

  it('reports no links when none are stored (the first conversion of a customer writes them)', async () => {
    dynamo.on(BatchGetItemCommand).resolves(items([visitorItem]));
    const found = await new DynamoVisitorStore('visitors').find({ visitorId: 'vis_abcdefgh', emailHash: 'mailhash' });
    expect(found?.links).toEqual({ email: undefined, phone: undefined });
  });

  it('follows an e-mail link to its visitor and says the link exists', async () => {
    dynamo.on(BatchGetItemCommand).resolves(items([{ pk: 'E#mailhash', visitorId: 'vis_abcdefgh', ttl: nowS() + 80 * DAY_S }]));
    dynamo.on(GetItemCommand).resolves({ Item: marshall(visitorItem) });
    const found = await new DynamoVisitorStore('visitors').find({ emailHash: 'mailhash' });
    expect(found?.visitorId).toBe('vis_abcdefgh');
    expect(found?.links?.email).toBe('vis_abcdefgh');
  });
});
