import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DATASET_QUALITY_FIELDS, fetchMetaDatasetQuality, parseDatasetQuality } from '../../lib/ops/meta-dataset-quality.ts';
import { startMetaFake, type MetaFake } from './meta-server.ts';

const PIXEL = '1231231231231';
const TOKEN = 'EAAB-dq-token';

describe("Meta's Dataset Quality API: the client against Meta's documented answers and the fake", () => {
  let meta: MetaFake;
  const settings = () => ({ META_PIXEL_ID: PIXEL, META_ACCESS_TOKEN: TOKEN, META_API_BASE_URL: meta.baseUrl });
  beforeAll(async () => {
    meta = await startMetaFake({ pixelId: PIXEL, accessToken: TOKEN });
  });
  afterAll(async () => meta?.close());

  it('reads Meta’s documented sample responses (EMQ, per-key uplift, diagnostics)', () => {
    // The examples of developers.facebook.com/docs/marketing-api/conversions-api/dataset-quality-api, merged.
    const [event] = parseDatasetQuality({
      web: [
        {
          event_match_quality: {
            composite_score: 7.2,
            match_key_feedback: [
              { identifier: 'email', coverage: { percentage: 100 }, potential_aly_acr_increase: { percentage: 58.96, description: 'Similar advertisers…' } },
              { identifier: 'ip_address', coverage: { percentage: 99.9 } },
            ],
            diagnostics: [{ name: 'Server sending mismatched IP addresses', description: '…', solution: 'In your server payload…', percentage: 61.5, affected_event_count: 19567, total_event_count: 31830 }],
          },
          event_coverage: { percentage: 34.1, goal_percentage: 75 },
          data_freshness: { upload_frequency: 'real_time' },
          event_name: 'Purchase',
        },
      ],
    });
    expect(event).toMatchObject({
      eventName: 'Purchase',
      compositeScore: 7.2,
      matchKeys: [{ identifier: 'email', coverage: 100, upliftPercent: 58.96 }, { identifier: 'ip_address', coverage: 99.9 }],
      diagnostics: [{ name: 'Server sending mismatched IP addresses', percentage: 61.5, affected: 19567, total: 31830 }],
      eventCoverage: 34.1,
      uploadFrequency: 'real_time',
    });
  });

  it('asks for the web fields with the token in a header, and gets the events the fake accepted', async () => {
    const verdict = await fetchMetaDatasetQuality(settings());
    expect(verdict).toEqual({ ok: true, events: [] });
    expect(meta.datasetQuality.requests.at(-1)).toMatchObject({ status: 200, query: { dataset_id: PIXEL, fields: DATASET_QUALITY_FIELDS } });
    expect(meta.datasetQuality.requests.at(-1)!.query.access_token).toBeUndefined();
  });

  it('turns each refusal into words: no permission, bad token, unknown dataset, unreachable', async () => {
    meta.datasetQuality.denyPermission();
    const denied = await fetchMetaDatasetQuality(settings());
    meta.datasetQuality.denyPermission(false);
    expect(denied).toMatchObject({ ok: false, message: expect.stringMatching(/code 10.*"Use events dataset" permission.*ads_read/) });

    const badToken = await fetchMetaDatasetQuality({ ...settings(), META_ACCESS_TOKEN: 'EAAB-other' });
    expect(badToken).toMatchObject({ ok: false, message: expect.stringMatching(/code 190.*invalid or expired/) });

    const otherPixel = await fetchMetaDatasetQuality({ ...settings(), META_PIXEL_ID: '999' });
    expect(otherPixel).toMatchObject({ ok: false, message: expect.stringMatching(/code 100\/33.*Check META_PIXEL_ID/) });

    const nowhere = await fetchMetaDatasetQuality({ ...settings(), META_API_BASE_URL: 'http://127.0.0.1:9' });
    expect(nowhere).toMatchObject({ ok: false, message: expect.stringMatching(/Could not reach/) });

    expect(await fetchMetaDatasetQuality({})).toBeUndefined(); // no credentials: no remote verdict, no error
  });

  it('the fake refuses what Graph refuses: no token, a POST, no web field', async () => {
    const base = `${meta.baseUrl}/v24.0/dataset_quality?dataset_id=${PIXEL}`;
    const noToken = await fetch(`${base}&fields=web{event_name}`);
    expect((await noToken.json()).error.code).toBe(104);
    const post = await fetch(`${base}&fields=web{event_name}`, { method: 'POST', headers: { authorization: `Bearer ${TOKEN}` } });
    expect((await post.json()).error.code).toBe(100);
    const noWeb = await fetch(`${base}&fields=event_name`, { headers: { authorization: `Bearer ${TOKEN}` } });
    expect((await noWeb.json()).error.message).toMatch(/web field is required/);
  });
});
