import { describe, expect, it } from 'vitest';
import { RequestError } from '#core/errors.ts';
import type { IncomingRequest, Settings } from '#sources/types.ts';
import { NOW } from '../../../test/support/factories.ts';
import { TEST_VISITOR_ID as VISITOR_ID, incomingRequest } from '../../../test/support/requests.ts';
import { asConversion, onlyConversion, rejection } from '../../../test/support/source-results.ts';
import { postbackSource } from './index.ts';

const TOKEN = 'pb_9f8e7d6c5b4a39281706f5e4d3c2b1a0';
const SETTINGS = { POSTBACK_TOKEN: TOKEN };

function get(query: Record<string, string>, headers: Record<string, string> = {}): IncomingRequest {
  return incomingRequest({ method: 'GET', path: '/postback', headers, query });
}

function post(body: string, contentType: string, query: Record<string, string> = {}, headers: Record<string, string> = {}): IncomingRequest {
  return incomingRequest({ path: '/postback', contentType, headers, query, body });
}

const read = (request: IncomingRequest, settings: Settings = SETTINGS) => postbackSource.read(request, settings, NOW);
const approved = (extra: Record<string, string> = {}) => get({ clickid: VISITOR_ID, payout: '12.50', txid: 'NET-778812', status: 'approved', currency: 'eur', token: TOKEN, ...extra });

describe('postback source: conversions', () => {
  it('turns an approved GET postback into a Purchase for the clicked visitor, keyed on txid', async () => {
    const purchase = onlyConversion(await read(approved()));

    expect(purchase).toMatchObject({
      eventName: 'Purchase',
      eventId: 'NET-778812',
      orderId: 'NET-778812',
      value: 12.5,
      currency: 'EUR',
      visitorId: VISITOR_ID,
      occurredAt: NOW.toISOString(),
      source: { name: 'postback', eventId: 'NET-778812:Purchase', eventType: 'Purchase:approved' },
    });
    expect(() => asConversion(purchase)).not.toThrow();
  });

  it('sends event=lead as a Lead, and keeps it apart from a purchase with the same txid', async () => {
    const lead = onlyConversion(await read(approved({ event: 'lead' })));
    expect(lead).toMatchObject({ eventName: 'Lead', eventId: 'NET-778812:lead' });
    expect(lead.eventId).not.toBe(onlyConversion(await read(approved())).eventId);
  });

  it('names standard events and passes custom ones through', async () => {
    expect(onlyConversion(await read(approved({ event: 'Sale' }))).eventName).toBe('Purchase');
    expect(onlyConversion(await read(approved({ event: 'signup' }))).eventName).toBe('CompleteRegistration');
    expect(onlyConversion(await read(approved({ event: 'FTD_Deposit' }))).eventName).toBe('FTD_Deposit');
    expect((await rejection(read(approved({ event: 'drop table' })))).code).toBe('invalid_event');
  });

  it('defaults the currency to USD; without a payout a Purchase is worth 0 (platforms require a value) and a Lead has none', async () => {
    expect(onlyConversion(await read(approved({ currency: '' })))).toMatchObject({ value: 12.5, currency: 'USD' });
    expect(onlyConversion(await read(approved({ payout: '', currency: '' })))).toMatchObject({ value: 0, currency: 'USD' });
    const lead = onlyConversion(await read(approved({ payout: '', event: 'lead' })));
    expect(lead.value).toBeUndefined();
    expect(lead.currency).toBeUndefined();
  });

  it('treats a macro the network did not fill in as absent', async () => {
    const conversion = onlyConversion(await read(approved({ txid: '{txid}', payout: '{payout}', currency: '[currency]', status: '{status}' })));
    expect(conversion.orderId).toBeUndefined();
    expect(conversion.value).toBe(0);
    // Without a txid the click is the key: one Purchase per visitor.
    expect(conversion.eventId).toBe(VISITOR_ID);
  });

  it('accepts a visitor ID that lost its hyphens on the way', async () => {
    expect(onlyConversion(await read(approved({ clickid: VISITOR_ID.replaceAll('-', '').toUpperCase() }))).visitorId).toBe(VISITOR_ID);
  });

  it('is deterministic: the same postback twice gives the same event ID', async () => {
    expect(onlyConversion(await read(approved())).eventId).toBe(onlyConversion(await read(approved({ payout: '12.5' }))).eventId);
  });

  it.each(['pending', 'hold', 'approved', 'sale', ''])('counts status "%s" as a conversion', async (status) => {
    expect((await read(approved({ status }))).kind).toBe('conversions');
  });

  it.each(['rejected', 'Declined', 'trash', 'fraud', 'chargeback', 'cancelled'])('records status "%s" as skipped with the reason', async (status) => {
    const result = await read(approved({ status }));
    expect(result).toMatchObject({ kind: 'skipped', reason: expect.stringContaining(status.toLowerCase()) });
  });
});

describe('postback source: POST bodies', () => {
  it('reads a form body', async () => {
    const form = new URLSearchParams({ clickid: VISITOR_ID, txid: 'F-1', payout: '3', token: TOKEN }).toString();
    expect(onlyConversion(await read(post(form, 'application/x-www-form-urlencoded')))).toMatchObject({ orderId: 'F-1', value: 3 });
  });

  it('reads a JSON body with numbers, authenticated by a bearer token', async () => {
    const body = JSON.stringify({ clickid: VISITOR_ID, txid: 'J-1', payout: 7.25, event: 'lead' });
    const lead = onlyConversion(await read(post(body, 'application/json; charset=utf-8', {}, { authorization: `Bearer ${TOKEN}` })));
    expect(lead).toMatchObject({ eventName: 'Lead', orderId: 'J-1', value: 7.25 });
  });

  it('answers 400 for malformed or non-object JSON, and 415 for another content type', async () => {
    expect((await rejection(read(post('{"clickid":', 'application/json', { token: TOKEN })))).code).toBe('malformed_body');
    expect((await rejection(read(post('[1]', 'application/json', { token: TOKEN })))).code).toBe('malformed_body');
    expect((await rejection(read(post(JSON.stringify({ clickid: { a: 1 } }), 'application/json', { token: TOKEN })))).code).toBe('malformed_body');
    expect((await rejection(read(post('<xml/>', 'application/xml', { token: TOKEN })))).status).toBe(415);
  });
});

describe('postback source: authentication', () => {
  it('answers 401 missing_token without a token', async () => {
    const err = await rejection(read(get({ clickid: VISITOR_ID, txid: 'T-1' })));
    expect([err.status, err.code]).toEqual([401, 'missing_token']);
  });

  it.each([
    ['a wrong token', TOKEN.slice(0, -1) + 'x'],
    ['a prefix of the token', TOKEN.slice(0, 10)],
    ['a longer token', TOKEN + 'x'],
  ])('answers 401 invalid_token for %s, without echoing either', async (_, token) => {
    const err = await rejection(read(approved({ token })));
    expect([err.status, err.code]).toEqual([401, 'invalid_token']);
    expect(err.message).not.toContain(TOKEN);
    expect(err.message).not.toContain(token);
  });

  it('answers 401 for a wrong bearer token', async () => {
    const err = await rejection(read(get({ clickid: VISITOR_ID }, { authorization: 'Bearer nope' })));
    expect(err.status).toBe(401);
  });

  it('accepts either of two configured tokens (while replacing one)', async () => {
    expect((await read(approved(), { POSTBACK_TOKEN: `old_token_1234, ${TOKEN}` })).kind).toBe('conversions');
    expect((await read(approved({ token: 'old_token_1234' }), { POSTBACK_TOKEN: `old_token_1234, ${TOKEN}` })).kind).toBe('conversions');
  });

  it('checks the token before anything else about the request', async () => {
    expect((await rejection(read(get({ clickid: 'bad id', token: 'wrong' })))).status).toBe(401);
  });

  it('fails as a server error (the network retries) when no token is configured', async () => {
    await expect(read(approved(), {})).rejects.toThrow('POSTBACK_TOKEN is not configured');
    await expect(read(approved(), {})).rejects.not.toBeInstanceOf(RequestError);
  });
});

describe('postback source: bad parameters', () => {
  it.each([
    ['no clickid', { clickid: '' }, 'missing_clickid'],
    ['an unfilled clickid macro', { clickid: '{clickid}' }, 'missing_clickid'],
    ['a clickid that is not a visitor ID', { clickid: 'abc def' }, 'invalid_clickid'],
    ['a payout that is not a number', { payout: '12,50' }, 'invalid_payout'],
    ['a negative payout', { payout: '-3' }, 'invalid_payout'],
    ['a bad currency', { currency: 'euro' }, 'invalid_currency'],
    ['an overlong txid', { txid: 'x'.repeat(201) }, 'invalid_txid'],
  ])('answers 400 for %s', async (_, extra, code) => {
    const err = await rejection(read(approved(extra)));
    expect([err.status, err.code]).toEqual([400, code]);
  });
});
