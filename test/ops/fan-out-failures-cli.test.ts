import { DeleteQueueCommand, GetQueueAttributesCommand, ReceiveMessageCommand, SendMessageCommand, SQSClient } from '@aws-sdk/client-sqs';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startMetaFake, type MetaFake } from '../fakes/meta-server.ts';
import { cli } from '../support/cli.ts';
import { startRelay, type RelayProcess } from '../support/relay-process.ts';
import { driverEnv, send, sourceDrivers, startDriverFakes } from '../support/source-requests.ts';

/**
 * A stream batch the fan-out gave up on, replayed with `conversion-relay replay --fan-out-failures` against the local
 * runner (npm start's, its own process): the Meta queue is deleted, so every attempt to fan the conversion out fails
 * until the retries run out and the failure queue gets Lambda's record of the batch (its place in the stream, no
 * conversion ID). After a restart (the queue is back, the journal kept), the replay reads the range back from the
 * stream, queues the conversion, deletes the record; Meta gets it once, and a second replay does nothing.
 */
const PIXEL_ID = '1234567890123';
const META_TOKEN = 'EAAB-fan-out-failures-token';
const stripe = sourceDrivers.stripe;

describe('replay --fan-out-failures against the local runner', () => {
  let meta: MetaFake;
  let relay: RelayProcess;
  let dataDir: string;
  let stopFakes: (() => Promise<void>) | undefined;
  const id = `cs_fofail_${Date.now()}`;
  const env = () => ({ ...driverEnv(), META_PIXEL_ID: PIXEL_ID, META_ACCESS_TOKEN: META_TOKEN, META_API_BASE_URL: meta.baseUrl, RELAY_RETRY_BASE_SECONDS: '1', RELAY_FAN_OUT_RETRY_BASE_MS: '5' });
  const sqs = () => new SQSClient({ endpoint: relay.sqsUrl, region: 'us-east-1', credentials: { accessKeyId: 'local', secretAccessKey: 'local' } });
  const failuresUrl = () => `${relay.sqsUrl}/000000000000/fan-out-failures`;
  const failureDepth = async () => {
    const client = sqs();
    const res = await client.send(new GetQueueAttributesCommand({ QueueUrl: failuresUrl(), AttributeNames: ['ApproximateNumberOfMessages', 'ApproximateNumberOfMessagesNotVisible'] }));
    client.destroy();
    return Number(res.Attributes?.ApproximateNumberOfMessages ?? 0) + Number(res.Attributes?.ApproximateNumberOfMessagesNotVisible ?? 0);
  };
  const metaStatus = async () => (await relay.ledgerFor(id, 'meta'))[0]?.status;

  beforeAll(async () => {
    meta = await startMetaFake({ pixelId: PIXEL_ID, accessToken: META_TOKEN });
    dataDir = mkdtempSync(path.join(tmpdir(), 'relay-fofail-'));
    stopFakes = await startDriverFakes();
    relay = await startRelay(env(), dataDir);
  });
  afterAll(async () => {
    await relay?.stop();
    await meta?.close();
    await stopFakes?.();
    rmSync(dataDir, { recursive: true, force: true });
  });

  it('puts Lambda’s record of a batch whose retries ran out on the failure queue: its range, not its conversions', async () => {
    const client = sqs();
    await client.send(new DeleteQueueCommand({ QueueUrl: `${relay.sqsUrl}/000000000000/meta` }));
    expect((await send(relay.url, stripe.purchase({ id }))).status).toBe(200);
    await relay.waitFor(async () => (await failureDepth()) === 1, 60_000, 'the batch to run out of retries');
    // Peeked (visibility 0): it stays for the replay.
    const [message] = (await client.send(new ReceiveMessageCommand({ QueueUrl: failuresUrl(), VisibilityTimeout: 0 }))).Messages ?? [];
    client.destroy();
    const record = JSON.parse(message.Body!);
    expect(record.requestContext).toMatchObject({ condition: 'RetryAttemptsExhausted', approximateInvokeCount: 11 });
    expect(record.DDBStreamBatchInfo).toMatchObject({ batchSize: 1, shardId: expect.stringMatching(/^shardId-/), streamArn: expect.stringMatching(/:table\/ledger\/stream\//) });
    expect(record.DDBStreamBatchInfo.startSequenceNumber).toBe(record.DDBStreamBatchInfo.endSequenceNumber);
    expect(message.Body).not.toContain(id);
    expect(await metaStatus()).toBe('queued');
  }, 90_000);

  it('after the fix, reads the range back from the stream and re-queues the conversion: Meta gets it once, the record is deleted', async () => {
    // The restart brings the Meta queue back; the journal keeps the range (under 24 h old).
    await relay.stop();
    relay = await startRelay(env(), dataDir);

    const preview = await cli(['replay', '--fan-out-failures', '--dry-run'], dataDir);
    expect(preview.code, preview.stderr).toBe(0);
    expect(preview.stdout).toMatch(/^1 message read from the fan-out failure queue \(dry run/m);
    expect(preview.stdout).toMatch(/1 conversion named: 1 to re-queue \(meta: 1\), 0 already delivered/);
    expect(await failureDepth()).toBe(1);
    expect(meta.requests).toHaveLength(0);

    const res = await cli(['replay', '--fan-out-failures'], dataDir);
    expect(res.code, res.stderr).toBe(0);
    expect(res.stdout).toMatch(/1 conversion named: 1 re-queued \(meta: 1\), 0 already delivered/);
    expect(res.stdout).toMatch(/1 message deleted, 0 left in the queue/);
    await relay.waitFor(async () => (await metaStatus()) === 'delivered', 20_000, `delivered ${id}`);
    expect(meta.events().filter((e) => e.event_id === id)).toHaveLength(1);
    expect(await failureDepth()).toBe(0);

    const requests = meta.requests.length;
    const again = await cli(['replay', '--fan-out-failures', '--json'], dataDir);
    expect(again.code, again.stderr).toBe(0);
    expect(JSON.parse(again.stdout)).toMatchObject({ messagesRead: 0, conversionsRequeued: 0, left: [] });
    await new Promise((r) => setTimeout(r, 500));
    expect(meta.requests).toHaveLength(requests);
  }, 90_000);

  it('deletes the fan-out’s own record of a conversion already delivered; leaves a record whose shard the stream does not have, says why, exits non-zero', async () => {
    const client = sqs();
    // As the fan-out writes it when a queue refuses a message as sent: the item's key and the destination.
    const refused = { kind: 'unreadable_stream_record', reason: 'the meta queue refused the message: InvalidMessageContents', destination: 'meta', pk: `C#${id}`, sk: 'conversion', sequenceNumber: '1' };
    await client.send(new SendMessageCommand({ QueueUrl: failuresUrl(), MessageBody: JSON.stringify(refused) }));
    const gone = { requestContext: { condition: 'RetryAttemptsExhausted' }, DDBStreamBatchInfo: { shardId: 'shardId-00000000000000000007-00000000', startSequenceNumber: '1', endSequenceNumber: '2', batchSize: 2, streamArn: 'arn:aws:dynamodb:us-east-1:000000000000:table/ledger/stream/local', approximateArrivalOfFirstRecord: '2026-12-01T08:00:00Z', approximateArrivalOfLastRecord: '2026-12-01T08:00:01Z' } };
    await client.send(new SendMessageCommand({ QueueUrl: failuresUrl(), MessageBody: JSON.stringify(gone) }));
    client.destroy();
    const requests = meta.requests.length;
    const res = await cli(['replay', '--fan-out-failures'], dataDir);
    expect(res.code).toBe(1);
    expect(res.stdout).toMatch(/^2 messages read/m);
    expect(res.stdout).toMatch(/1 conversion named: 0 re-queued, 1 already delivered/);
    expect(res.stdout).toMatch(/1 message deleted, 1 left in the queue/);
    expect(res.stdout).toMatch(/stream_batch\): the stream or its shard shardId-00000000000000000007-00000000 is gone/);
    expect(res.stdout).toMatch(/what to do: the 2 conversions committed 2026-12-01T08:00:00Z → 2026-12-01T08:00:01Z can no longer be read from the stream/);
    expect(await failureDepth()).toBe(1);
    await new Promise((r) => setTimeout(r, 500));
    expect(meta.requests).toHaveLength(requests);
  }, 60_000);
});
