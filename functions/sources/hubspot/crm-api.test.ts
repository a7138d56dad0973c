import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startHubSpotFake, type HubSpotFake } from '../../../test/fakes/hubspot-server.ts';
import { HttpHubSpotCrm, HubSpotApiError, hubspotCrmFrom } from './crm-api.ts';

/** The CRM API client against a local fake that answers as HubSpot's batch-read endpoints do. */
describe('HttpHubSpotCrm', () => {
  let fake: HubSpotFake;
  beforeAll(async () => {
    fake = await startHubSpotFake({ token: 'pat-good' });
    fake.deals.set('11', { properties: { amount: '99.5', deal_currency_code: 'CAD', dealname: 'Big one' }, contactIds: ['21', '22'] });
    fake.deals.set('12', { properties: { amount: null, deal_currency_code: null }, contactIds: [] });
    fake.contacts.set('21', { email: 'a@example.com', firstname: 'Ann', lastname: null });
  });
  afterAll(() => fake.close());

  it('reads deals with their amount, currency and associated contacts in two batch calls', async () => {
    fake.requests.length = 0;

    const deals = await new HttpHubSpotCrm('pat-good', fake.baseUrl).deals(['11', '12']);

    expect(deals.get('11')).toEqual({ amount: '99.5', currency: 'CAD', contactIds: ['21', '22'] });
    expect(deals.get('12')).toEqual({ amount: null, currency: null, contactIds: [] });
    expect(fake.requests.map((r) => r.path).sort()).toEqual(['/crm/v3/objects/deals/batch/read', '/crm/v4/associations/deal/contact/batch/read']);
    expect(fake.requests.find((r) => r.path.includes('objects'))?.body).toEqual({ properties: ['amount', 'deal_currency_code'], inputs: [{ id: '11' }, { id: '12' }] });
  });

  it('reads the contacts that exist when HubSpot answers 207 for some missing IDs', async () => {
    const contacts = await new HttpHubSpotCrm('pat-good', fake.baseUrl).contacts(['21', '404'], ['email', 'firstname', 'lastname']);

    expect([...contacts.keys()]).toEqual(['21']);
    expect(contacts.get('21')).toMatchObject({ email: 'a@example.com', firstname: 'Ann', lastname: null });
  });

  it('makes no call for an empty list', async () => {
    fake.requests.length = 0;

    await new HttpHubSpotCrm('pat-good', fake.baseUrl).contacts([], ['email']);

    expect(fake.requests).toEqual([]);
  });

  it('throws a HubSpotApiError naming the setting, not the token, when HubSpot answers 401', async () => {
    const err = await new HttpHubSpotCrm('pat-wrong', fake.baseUrl).contacts(['21'], ['email']).catch((e: unknown) => e);

    expect(err).toBeInstanceOf(HubSpotApiError);
    expect(err).toMatchObject({ status: 401, message: expect.stringContaining('HUBSPOT_ACCESS_TOKEN') });
    expect((err as Error).message).not.toContain('pat-wrong');
  });

  it('is built from the settings only when a token is set', () => {
    expect(hubspotCrmFrom({})).toBeUndefined();
    expect(hubspotCrmFrom({ HUBSPOT_ACCESS_TOKEN: ' pat-x ', HUBSPOT_API_BASE_URL: 'http://127.0.0.1:1/' })).toBeInstanceOf(HttpHubSpotCrm);
  });
});
