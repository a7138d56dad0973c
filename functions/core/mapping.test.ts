import { describe, expect, it } from 'vitest';
import { conversionFactory } from '../../test/support/factories.ts';
import { planRoutes } from './ingest.ts';
import { DEFAULT_MAPPING, MappingError, allowlistReason, conversionNameFor, mappingFrom, parseMapping } from './mapping.ts';

const KNOWN = { sources: ['stripe', 'hubspot', 'crm'], destinations: ['meta', 'tiktok'] };

function parseError(raw: string): MappingError {
  try {
    parseMapping(raw, KNOWN);
  } catch (err) {
    expect(err).toBeInstanceOf(MappingError);
    return err as MappingError;
  }
  throw new Error('expected the mapping to be refused');
}

describe('parseMapping: defaults', () => {
  it('gives the defaults for an unset or blank setting', () => {
    expect(parseMapping(undefined)).toBe(DEFAULT_MAPPING);
    expect(parseMapping('  ')).toBe(DEFAULT_MAPPING);
  });

  it('maps what an advertiser expects by default', () => {
    const m = parseMapping(undefined);
    expect(conversionNameFor(m, 'stripe', 'purchase')).toBe('Purchase');
    expect(conversionNameFor(m, 'stripe', 'subscription.first_payment')).toBe('Subscribe');
    expect(conversionNameFor(m, 'stripe', 'subscription.renewal')).toBe('Purchase');
    expect(conversionNameFor(m, 'stripe', 'subscription.trial_start')).toBe('StartTrial');
    expect(conversionNameFor(m, 'hubspot', 'contact.creation')).toBe('Lead');
    expect(conversionNameFor(m, 'hubspot', 'deal.dealstage=closedwon')).toBe('Purchase');
    expect(conversionNameFor(m, 'hubspot', 'deal.dealstage=appointmentscheduled')).toBeUndefined();
    // No allowlist: every destination receives every conversion name.
    expect(allowlistReason(m, 'meta', 'AnythingCustom')).toBeUndefined();
  });
});

describe('parseMapping: overrides', () => {
  it('replaces only the keys given and keeps the other defaults', () => {
    const m = parseMapping('{"sources":{"stripe":{"subscription.renewal":null},"hubspot":{"deal.dealstage=contractsent":"QualifiedLead"}}}', KNOWN);

    expect(conversionNameFor(m, 'stripe', 'subscription.renewal')).toBeNull();
    expect(conversionNameFor(m, 'stripe', 'purchase')).toBe('Purchase');
    expect(conversionNameFor(m, 'hubspot', 'deal.dealstage=contractsent')).toBe('QualifiedLead');
    expect(conversionNameFor(m, 'hubspot', 'contact.creation')).toBe('Lead');
  });

  it('accepts sources it has no defaults for (their names are checked against the registry)', () => {
    const m = parseMapping('{"sources":{"crm":{"deal_won":"Purchase"}}}', KNOWN);

    expect(conversionNameFor(m, 'crm', 'deal_won')).toBe('Purchase');
  });

  it('applies a destination allowlist, naming the setting in the reason', () => {
    const m = parseMapping('{"destinations":{"meta":["Purchase","Lead"]}}', KNOWN);

    expect(allowlistReason(m, 'meta', 'Purchase')).toBeUndefined();
    expect(allowlistReason(m, 'meta', 'QualifiedLead')).toMatch(/^not in destination allowlist: QualifiedLead .*RELAY_MAPPING\.destinations\.meta/);
    expect(allowlistReason(m, 'tiktok', 'QualifiedLead')).toBeUndefined();
  });

  it('takes "*" as every conversion name', () => {
    const m = parseMapping('{"destinations":{"meta":"*"}}', KNOWN);

    expect(allowlistReason(m, 'meta', 'Whatever')).toBeUndefined();
  });
});

describe('parseMapping: bad configuration names the bad key', () => {
  it.each([
    ['{"sources":{"strpe":{}}}', /^RELAY_MAPPING\.sources\.strpe: no such source/],
    ['{"destinations":{"metta":["Purchase"]}}', /^RELAY_MAPPING\.destinations\.metta: no such destination/],
    ['{"sources":{"stripe":{"renewal":null}}}', /^RELAY_MAPPING\.sources\.stripe\.renewal: unknown trigger \(stripe triggers: purchase, /],
    ['{"sources":{"hubspot":{"deal.stage won":"Purchase"}}}', /^RELAY_MAPPING\.sources\.hubspot\.deal\.stage won: unknown trigger/],
    ['{"sources":{"stripe":{"purchase":"9lives"}}}', /^RELAY_MAPPING\.sources\.stripe\.purchase: must be a conversion name/],
    ['{"destinations":{"meta":"Purchase"}}', /^RELAY_MAPPING\.destinations\.meta: /],
    ['{"source":{}}', /^RELAY_MAPPING\.source: unknown key/],
    ['{"sources":[]}', /^RELAY_MAPPING\.sources: /],
    ['{not json', /^RELAY_MAPPING is not valid JSON/],
  ])('%s', (raw, message) => {
    expect(parseError(raw).message).toMatch(message);
  });
});

describe('mappingFrom', () => {
  it('reads RELAY_MAPPING from the settings and follows a changed value', () => {
    expect(conversionNameFor(mappingFrom({}), 'stripe', 'subscription.renewal')).toBe('Purchase');
    expect(conversionNameFor(mappingFrom({ RELAY_MAPPING: '{"sources":{"stripe":{"subscription.renewal":null}}}' }), 'stripe', 'subscription.renewal')).toBeNull();
    expect(conversionNameFor(mappingFrom({}), 'stripe', 'subscription.renewal')).toBe('Purchase');
  });

  it('throws on a bad value, so the request fails with 500 and the sender retries after the fix', () => {
    expect(() => mappingFrom({ RELAY_MAPPING: '{"sources":{"stripe":{"nope":null}}}' })).toThrow(MappingError);
  });
});

describe('planRoutes with a mapping', () => {
  it('skips a destination whose allowlist lacks the conversion name, before its own rules', () => {
    const mapping = parseMapping('{"destinations":{"meta":["Lead"]}}');

    const routes = planRoutes(conversionFactory({ eventName: 'Purchase' }), [{ name: 'meta' }, { name: 'ga4' }], mapping);

    expect(routes).toEqual([
      { destination: 'meta', status: 'skipped', reason: expect.stringMatching(/^not in destination allowlist/) },
      { destination: 'ga4', status: 'queued' },
    ]);
  });

  it('queues a conversion the allowlist includes', () => {
    const mapping = parseMapping('{"destinations":{"meta":["Purchase"]}}');

    expect(planRoutes(conversionFactory({ eventName: 'Purchase' }), [{ name: 'meta' }], mapping)).toEqual([{ destination: 'meta', status: 'queued' }]);
  });
});
