import { createHash } from 'node:crypto';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { startGa4Fake, type Ga4Fake } from './ga4-server.ts';

const MID = 'G-TEST12345';
const SECRET = 'mp-secret-test';
const sha = (s: string) => createHash('sha256').update(s).digest('hex');

const purchase = (params: Record<string, unknown> = {}, extra: Record<string, unknown> = {}) => ({
  name: 'purchase',
  params: { transaction_id: 'T-1', value: 10, currency: 'USD', items: [{ item_id: 'sku-1', quantity: 1 }], ...params },
  timestamp_micros: (Date.now() - 60_000) * 1000,
  ...extra,
});

describe('GA4 Measurement Protocol fake', () => {
  let ga4: Ga4Fake;
  const post = (path: string, body: unknown, query = `measurement_id=${MID}&api_secret=${SECRET}`) =>
    fetch(`${ga4.baseUrl}${path}?${query}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
  const validate = async (body: unknown) => ((await (await post('/debug/mp/collect', body)).json()) as { validationMessages: any[] }).validationMessages;

  beforeAll(async () => { ga4 = await startGa4Fake({ measurementId: MID, apiSecret: SECRET }); });
  afterAll(async () => ga4.close());
  beforeEach(() => ga4.reset());

  it('records a valid purchase from /mp/collect and answers 204', async () => {
    const res = await post('/mp/collect', { client_id: '123.456', user_id: sha('cus_1'), events: [purchase()] });
    expect(res.status).toBe(204);
    expect(ga4.hits()).toMatchObject([{ clientId: '123.456', userId: sha('cus_1'), event: { name: 'purchase' } }]);
  });

  it('answers 204 to an invalid payload too, and drops it silently (as GA4 does)', async () => {
    const res = await post('/mp/collect', { events: [purchase({}, { name: '_bad' })] });
    expect(res.status).toBe(204);
    expect(ga4.hits()).toEqual([]);
    expect(ga4.dropped()[0].reasons.join('\n')).toMatch(/client_id[\s\S]*NAME_INVALID/);
  });

  it('drops events sent with a wrong API secret or measurement ID', async () => {
    await post('/mp/collect', { client_id: '1.2', events: [purchase()] }, `measurement_id=${MID}&api_secret=nope`);
    await post('/mp/collect', { client_id: '1.2', events: [purchase()] }, `measurement_id=G-OTHER&api_secret=${SECRET}`);
    expect(ga4.hits()).toEqual([]);
    expect(ga4.dropped().map((d) => d.reasons)).toEqual([['wrong api_secret'], ['unknown measurement_id']]);
  });

  it('validation server: no messages for a valid request, and records nothing', async () => {
    expect(await validate({ client_id: '1.2', validation_behavior: 'ENFORCE_RECOMMENDATIONS', events: [purchase()] })).toEqual([]);
    expect(ga4.hits()).toEqual([]);
  });

  it('validation server: reports names, limits and hashes with GA’s codes', async () => {
    const messages = await validate({
      client_id: '1.2',
      user_data: { sha256_email_address: ['jane@example.com'] },
      events: [purchase(), { name: 'session_start', params: {} }, { name: '9lives', params: {} }, purchase({ transaction_id: 'x'.repeat(101) })],
    });
    expect(messages).toEqual(
      expect.arrayContaining([
        expect.objectContaining({ fieldPath: 'user_data.sha256_email_address', validationCode: 'VALUE_INVALID' }),
        expect.objectContaining({ fieldPath: 'events', validationCode: 'NAME_RESERVED', description: expect.stringContaining('index: [1]') }),
        expect.objectContaining({ fieldPath: 'events', validationCode: 'NAME_INVALID', description: expect.stringContaining('index: [2]') }),
        expect.objectContaining({ fieldPath: 'events[3].params.transaction_id', validationCode: 'VALUE_OUT_OF_BOUNDS' }),
      ]),
    );
    expect(messages).toHaveLength(4);
  });

  it('validation server: more than 25 events, and timestamps older than 72 h', async () => {
    const many = await validate({ client_id: '1.2', events: Array.from({ length: 26 }, () => purchase()) });
    expect(many).toEqual([expect.objectContaining({ fieldPath: 'events', validationCode: 'EXCEEDED_MAX_ENTITIES' })]);
    const old = await validate({ client_id: '1.2', events: [purchase({}, { timestamp_micros: (Date.now() - 73 * 3600_000) * 1000 })] });
    expect(old).toEqual([expect.objectContaining({ fieldPath: 'events[0].timestamp_micros', validationCode: 'VALUE_OUT_OF_BOUNDS' })]);
  });

  it('validation server: recommendations only with ENFORCE_RECOMMENDATIONS', async () => {
    const event = { name: 'purchase', params: { value: 5 } };
    expect(await validate({ client_id: '1.2', events: [event] })).toEqual([]);
    const strict = await validate({ client_id: '1.2', validation_behavior: 'ENFORCE_RECOMMENDATIONS', events: [event] });
    expect(strict.map((m) => m.fieldPath).sort()).toEqual(['events[0].params.currency', 'events[0].params.transaction_id']);
  });

  it('answers injected failures first', async () => {
    ga4.failNext(1, { status: 503 });
    expect((await post('/mp/collect', { client_id: '1.2', events: [purchase()] })).status).toBe(503);
    expect((await post('/mp/collect', { client_id: '1.2', events: [purchase()] })).status).toBe(204);
    expect(ga4.hits()).toHaveLength(1);
  });
});
