import { describe, expect, it } from 'vitest';
import { NOW, conversionFactory } from '../../../test/support/factories.ts';
import { metaDestination } from './index.ts';
import { toMetaEvent } from './payload.ts';

/** Conversions API for CRM (Conversion Leads) payload specification: lead_id, system_generated, event_source, lead_event_source. */
const crmLead = (overrides: Parameters<typeof conversionFactory>[0] = {}) =>
  conversionFactory({
    eventId: 'crm-lead-1:qualifiedlead',
    eventName: 'QualifiedLead',
    actionSource: 'crm',
    eventSourceUrl: undefined,
    value: undefined,
    currency: undefined,
    orderId: undefined,
    leadId: '1234567890123456',
    leadEventSource: 'Salesforce',
    source: { name: 'crm', eventId: 'crm-lead-1:qualifiedlead', eventType: 'QualifiedLead' },
    ...overrides,
  });

describe('toMetaEvent: CRM lead events', () => {
  it('sends the lead ID unhashed in user_data', () => {
    expect(toMetaEvent(crmLead(), NOW).user_data.lead_id).toBe('1234567890123456');
  });

  it('sets action_source system_generated and custom_data event_source crm with the CRM’s name', () => {
    const event = toMetaEvent(crmLead(), NOW);

    expect(event.action_source).toBe('system_generated');
    expect(event.custom_data).toMatchObject({ event_source: 'crm', lead_event_source: 'Salesforce' });
  });

  it('forces system_generated even when the conversion says website', () => {
    expect(toMetaEvent(crmLead({ actionSource: 'website' }), NOW).action_source).toBe('system_generated');
  });

  it('names the source as the lead_event_source when the CRM gave no name', () => {
    expect(toMetaEvent(crmLead({ leadEventSource: undefined, source: { name: 'hubspot', eventId: 'e', eventType: 't' } }), NOW).custom_data?.lead_event_source).toBe('hubspot');
  });

  it('adds none of the CRM fields to a conversion without a lead ID', () => {
    const event = toMetaEvent(crmLead({ leadId: undefined }), NOW);

    expect(event.user_data.lead_id).toBeUndefined();
    expect(event.custom_data?.event_source).toBeUndefined();
    expect(event.custom_data?.lead_event_source).toBeUndefined();
    expect(event.action_source).toBe('system_generated'); // crm → system_generated: Meta has no "crm" action source
  });
});

describe('metaDestination.skipReason: refunds and chargebacks', () => {
  it.each(['refund', 'chargeback'] as const)('skips a %s, saying Meta cannot retract a conversion', (kind) => {
    const adjustment = conversionFactory({ eventName: kind === 'refund' ? 'Refund' : 'Chargeback', adjustment: { kind, originalOrderId: 'pi_1', full: true } });

    expect(metaDestination.skipReason!(adjustment)).toMatch(new RegExp(`no way to retract.*${kind}`));
  });
});
