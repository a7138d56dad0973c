import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { toPinterestEvent } from '../../functions/destinations/pinterest/payload.ts';
import { eqsLookback, fetchPinterestEqs, parsePinterestEqs } from '../../lib/ops/pinterest-eqs.ts';
import { NOW, conversionFactory } from '../support/factories.ts';
import { startPinterestEqsFake, type PinterestEqsFake } from './pinterest-eqs.ts';

const ACCOUNT = '549755885175';
const TOKEN = 'pina_eqs_test_token';

describe("Pinterest's Event Quality Score API: the client against Pinterest's documented answer and the fake", () => {
  let eqs: PinterestEqsFake;
  // What the relay's own payload builder sends: one purchase with an e-mail, one without.
  const events = [
    toPinterestEvent(conversionFactory(), NOW),
    toPinterestEvent(conversionFactory({ eventId: 'evt-2', user: { ip: '203.0.113.7', userAgent: 'UA/2' } }), NOW),
  ];
  const settings = () => ({ PINTEREST_AD_ACCOUNT_ID: ACCOUNT, PINTEREST_ACCESS_TOKEN: TOKEN, PINTEREST_API_BASE_URL: eqs.baseUrl });
  beforeAll(async () => {
    eqs = await startPinterestEqsFake({ adAccountId: ACCOUNT, accessToken: TOKEN, events: () => events });
  });
  afterAll(async () => eqs?.close());

  it('reads the documented sample answer: a rating and coverage per parameter and event type', () => {
    // developers.pinterest.com/docs/track-conversions/get-event-quality-score (example response, shortened).
    const [score] = parsePinterestEqs([
      { overall_status: 'FAIR', source_platform: 'WEB', ingestion_source: 'CONVERSIONS_API', lookback_period: '14d', quality_components: { ip_address: { add_to_cart: { coverage: 100 }, checkout: { coverage: 100 } }, external_event_id: { checkout: { coverage: 87.5, overlap: 40, issues: [{ id: 'dedup', name: 'Low deduplication overlap', reason: 'Tag and API event IDs differ' }] } } } },
    ]);
    expect(score).toMatchObject({ overallStatus: 'FAIR', sourcePlatform: 'WEB', ingestionSource: 'CONVERSIONS_API', lookbackPeriod: '14d' });
    expect(score.components).toEqual([
      { parameter: 'ip_address', eventType: 'add_to_cart', coverage: 100, overlap: undefined, issues: [] },
      { parameter: 'ip_address', eventType: 'checkout', coverage: 100, overlap: undefined, issues: [] },
      { parameter: 'external_event_id', eventType: 'checkout', coverage: 87.5, overlap: 40, issues: [{ id: 'dedup', name: 'Low deduplication overlap', reason: 'Tag and API event IDs differ' }] },
    ]);
    expect(parsePinterestEqs({ not: 'a list' })).toEqual([]);
  });

  it('asks for the relay’s own events (CONVERSIONS_API) over the window the report covers, token in the header', async () => {
    const verdict = await fetchPinterestEqs(settings(), { lookback: '1d' });
    expect(verdict?.ok).toBe(true);
    const [score] = (verdict as { ok: true; scores: any[] }).scores;
    expect(score).toMatchObject({ overallStatus: 'FAIR', ingestionSource: 'CONVERSIONS_API', lookbackPeriod: '1d' });
    expect(score.components).toContainEqual(expect.objectContaining({ parameter: 'hashed_email', eventType: 'checkout', coverage: 50 }));
    expect(score.components).toContainEqual(expect.objectContaining({ parameter: 'ip_address', eventType: 'checkout', coverage: 100 }));
    expect(eqs.requests.at(-1)).toMatchObject({ path: `/v5/ad_accounts/${ACCOUNT}/conversion_eqs`, status: 200, query: { lookback_period: '1d', ingestion_source: 'CONVERSIONS_API' }, authorization: `Bearer ${TOKEN}` });
    expect(eqsLookback(new Date(NOW.getTime() - 3600_000), NOW)).toBe('1d');
    expect(eqsLookback(new Date(NOW.getTime() - 7 * 86400_000), NOW)).toBe('14d');
  });

  it('asks with PINTEREST_EQS_TOKEN when set: the conversion access token is accepted only for sending events', async () => {
    // The fake accepts TOKEN only; a conversion token in PINTEREST_ACCESS_TOKEN plus the OAuth token for the score.
    const verdict = await fetchPinterestEqs({ ...settings(), PINTEREST_ACCESS_TOKEN: 'pina_conversion_token', PINTEREST_EQS_TOKEN: TOKEN }, { lookback: '14d' });
    expect(verdict?.ok).toBe(true);
    expect(eqs.requests.at(-1)).toMatchObject({ status: 200, authorization: `Bearer ${TOKEN}` });
    eqs.denyScope();
    const denied = await fetchPinterestEqs(settings(), { lookback: '14d' });
    eqs.denyScope(false);
    expect(denied).toMatchObject({ ok: false, message: expect.stringMatching(/accepted only for sending events.*PINTEREST_EQS_TOKEN/) });
  });

  it('turns each refusal into words: no ads:read scope, bad token, unknown ad account, unreachable; no credentials, no verdict', async () => {
    eqs.denyScope();
    const denied = await fetchPinterestEqs(settings(), { lookback: '14d' });
    eqs.denyScope(false);
    expect(denied).toMatchObject({ ok: false, message: expect.stringMatching(new RegExp(`HTTP 401, code 3: Your token does not have sufficient permissions.*ads:read scope and access to ad account ${ACCOUNT}`)) });

    const badToken = await fetchPinterestEqs({ ...settings(), PINTEREST_ACCESS_TOKEN: 'pina_other' }, { lookback: '14d' });
    expect(badToken).toMatchObject({ ok: false, message: expect.stringMatching(/HTTP 401, code 2.*invalid or expired/) });

    const otherAccount = await fetchPinterestEqs({ ...settings(), PINTEREST_AD_ACCOUNT_ID: '111' }, { lookback: '14d' });
    expect(otherAccount).toMatchObject({ ok: false, message: expect.stringMatching(/HTTP 404.*Check PINTEREST_AD_ACCOUNT_ID/) });

    const nowhere = await fetchPinterestEqs({ ...settings(), PINTEREST_API_BASE_URL: 'http://127.0.0.1:9' }, { lookback: '14d' });
    expect(nowhere).toMatchObject({ ok: false, message: expect.stringMatching(/Could not reach/) });

    expect(await fetchPinterestEqs({}, { lookback: '14d' })).toBeUndefined();
  });

  it('the fake refuses what Pinterest documents as invalid: no lookback_period, an unknown ingestion source', async () => {
    const headers = { authorization: `Bearer ${TOKEN}` };
    const noLookback = await fetch(`${eqs.baseUrl}/v5/ad_accounts/${ACCOUNT}/conversion_eqs`, { headers });
    expect(noLookback.status).toBe(400);
    const badSource = await fetch(`${eqs.baseUrl}/v5/ad_accounts/${ACCOUNT}/conversion_eqs?lookback_period=1d&ingestion_source=PIXEL`, { headers });
    expect(((await badSource.json()) as any).message).toMatch(/ingestion_source/);
  });
});
