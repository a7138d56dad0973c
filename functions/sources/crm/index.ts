import * as z from '#core/zod.ts';
import { RequestError } from '#core/errors.ts';
import { eventIdFor } from '#core/event-id.ts';
import { conversionNameFor, mappingFrom } from '#core/mapping.ts';
import { hashUser } from '#core/normalize.ts';
import { hmacSha256, secretList, signaturesMatch } from '#core/signature.ts';
import { isVisitorId } from '#core/visitor.ts';
import type { ConversionDraft, IncomingRequest, SkippedEvent, Source } from '#sources/types.ts';
import { CrmEventSchema, MAX_EVENTS_PER_REQUEST, type CrmEvent } from './schema.ts';

// Built once, not per request.
const BatchSchema = z.object({ events: z.array(CrmEventSchema).check(z.minLength(1), z.maxLength(MAX_EVENTS_PER_REQUEST)) });

/**
 * Any CRM or backend that can call a URL (Salesforce Flow HTTP callout, Pipedrive / Zoho / GoHighLevel automations,
 * your own code). Authenticity: `X-Relay-Signature: sha256=<hex>` = HMAC-SHA256 keyed by `CRM_WEBHOOK_SECRET`
 * over `<X-Relay-Timestamp> + "." + <raw body>`, the timestamp in Unix seconds within 5 minutes of the relay's
 * clock (either way), so a captured request cannot be replayed later. Several comma-separated secrets are
 * accepted while one is rotated.
 */
export const TIMESTAMP_HEADER = 'x-relay-timestamp';
export const SIGNATURE_HEADER = 'x-relay-signature';
export const REPLAY_WINDOW_SECONDS = 300;
const DEFAULT_CRM_NAME = 'CRM';

/** The string that is signed: the same algorithm as the README's curl and Node examples. */
export function crmSignature(secret: string, timestamp: string, rawBody: string | Buffer): string {
  return `sha256=${hmacSha256(secret, Buffer.concat([Buffer.from(`${timestamp}.`, 'utf8'), Buffer.from(rawBody)]), 'hex')}`;
}

export function verifyCrmSignature(request: IncomingRequest, secrets: string[], now: Date): void {
  const timestamp = request.headers[TIMESTAMP_HEADER]?.trim();
  const signature = request.headers[SIGNATURE_HEADER]?.trim();
  if (!timestamp || !signature) {
    throw new RequestError(401, 'missing_signature', `the ${TIMESTAMP_HEADER} and ${SIGNATURE_HEADER} headers are required`);
  }
  if (!/^\d{1,12}$/.test(timestamp)) throw new RequestError(401, 'invalid_signature', `${TIMESTAMP_HEADER} must be Unix seconds`);
  const age = Math.floor(now.getTime() / 1000) - Number(timestamp);
  if (Math.abs(age) > REPLAY_WINDOW_SECONDS) {
    throw new RequestError(
      401,
      'stale_timestamp',
      `${TIMESTAMP_HEADER} is ${age > 0 ? `${age} s old` : `${-age} s in the future`}; at most ${REPLAY_WINDOW_SECONDS} s either way is accepted (sign each request when you send it, and check the sender's clock)`,
    );
  }
  // Several "sha256=" values may be given (comma-separated) when the sender signs with old and new secret at once.
  const given = signature.split(',').map((s) => s.trim());
  const ok = secrets.some((secret) => {
    const expected = crmSignature(secret, timestamp, request.body);
    return given.some((g) => signaturesMatch(expected, g));
  });
  if (!ok) throw new RequestError(401, 'invalid_signature', `${SIGNATURE_HEADER} does not match the body and timestamp (expected sha256=<hex HMAC-SHA256 of "timestamp.body">)`);
}

function parseBody(request: IncomingRequest): CrmEvent[] {
  const type = request.headers['content-type'] ?? '';
  if (!/^application\/json\s*(;|$)/i.test(type)) {
    throw new RequestError(400, 'unsupported_content_type', `content-type must be application/json, got "${type || 'none'}"`);
  }
  let json: unknown;
  try {
    json = JSON.parse(request.body.toString('utf8'));
  } catch {
    throw new RequestError(400, 'malformed_body', 'the body is not valid JSON');
  }
  const isBatch = typeof json === 'object' && json !== null && !Array.isArray(json) && 'events' in json;
  const parsed = isBatch ? BatchSchema.safeParse(json) : CrmEventSchema.safeParse(json);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    const where = issue.path.length ? issue.path.map(String).join('.') : 'body';
    throw new RequestError(400, 'invalid_event', `${where}: ${issue.message}`);
  }
  return 'events' in parsed.data ? parsed.data.events : [parsed.data];
}

function occurredAt(time: CrmEvent['time'], now: Date): string {
  if (time === undefined) return now.toISOString();
  return new Date(typeof time === 'number' ? time * 1000 : Date.parse(time)).toISOString();
}

function toDraft(e: CrmEvent, eventName: string, crmName: string, now: Date): ConversionDraft {
  const eventId = e.event_id ?? eventIdFor(e.order_id!, eventName);
  return {
    eventId,
    eventName,
    occurredAt: occurredAt(e.time, now),
    value: e.value,
    currency: e.currency?.toUpperCase(),
    orderId: e.order_id,
    // A CRM stage change is not a browser event, even when the visitor's landing is known.
    actionSource: e.action_source ?? 'crm',
    visitorId: isVisitorId(e.visitor_id) ? e.visitor_id : undefined,
    leadId: e.lead_id,
    leadEventSource: e.crm ?? crmName,
    consent: e.consent && {
      marketing: e.consent.marketing,
      adUserData: e.consent.ad_user_data,
      adPersonalization: e.consent.ad_personalization,
      analytics: e.consent.analytics,
    },
    user: hashUser({
      email: e.email,
      phone: e.phone,
      firstName: e.first_name,
      lastName: e.last_name,
      fullName: e.name,
      street: e.street,
      city: e.city,
      state: e.state,
      zip: e.zip,
      country: e.country,
      externalId: e.external_id,
    }),
    source: { name: 'crm', eventId, eventType: e.event },
  };
}

export const crmSource: Source = {
  name: 'crm',
  async read(request, settings, now) {
    const secrets = secretList(settings.CRM_WEBHOOK_SECRET);
    if (secrets.length === 0) throw new Error('CRM_WEBHOOK_SECRET is not configured');
    verifyCrmSignature(request, secrets, now);
    const events = parseBody(request);
    const mapping = mappingFrom(settings);
    const crmName = settings.CRM_NAME?.trim() || DEFAULT_CRM_NAME;

    const conversions: ConversionDraft[] = [];
    const skipped: SkippedEvent[] = [];
    for (const e of events) {
      // The mapping may rename an incoming event name or turn it off; unmapped names pass through as sent.
      const mapped = conversionNameFor(mapping, 'crm', e.event);
      const id = e.event_id ?? eventIdFor(e.order_id!, mapped ?? e.event);
      if (mapped === null) skipped.push({ sourceEventId: id, eventType: e.event, reason: `RELAY_MAPPING turns crm event "${e.event}" off` });
      else conversions.push(toDraft(e, mapped ?? e.event, crmName, now));
    }
    const first = conversions[0]?.eventId ?? skipped[0].sourceEventId;
    const eventType = events.length === 1 ? events[0].event : `batch of ${events.length}`;
    if (conversions.length === 0) {
      return { kind: 'skipped', sourceEventId: first, eventType, reason: skipped.map((s) => s.reason).join('; '), skipped };
    }
    return { kind: 'conversions', sourceEventId: first, eventType, conversions, ...(skipped.length ? { skipped } : {}) };
  },
};
