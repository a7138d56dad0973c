/**
 * Signatures as the senders compute them, written from their documentation (not with the relay's code), so a test
 * signs a request the way the real sender would (bodies as bytes too: the suites sign invalid UTF-8 on purpose) and the relay's verification is checked against an independent
 * oracle.
 */
import { createHmac } from 'node:crypto';

/**
 * The generic CRM webhook's `X-Relay-Signature`, as the README tells a CRM to sign:
 * `sha256=` + hex HMAC-SHA256(secret, `${timestamp}.${body}`).
 */
export const crmSignature = (secret: string, timestamp: string, body: string | Buffer) =>
  `sha256=${createHmac('sha256', secret).update(Buffer.concat([Buffer.from(`${timestamp}.`), Buffer.from(body)])).digest('hex')}`;

/**
 * HubSpot's `X-HubSpot-Signature-v3`, as HubSpot's own SDK computes it:
 * base64 HMAC-SHA256(client secret, method + URI + body + timestamp).
 */
export const hubspotSignatureV3 = (secret: string, method: string, uri: string, body: string | Buffer, timestamp: string) =>
  createHmac('sha256', secret).update(Buffer.concat([Buffer.from(method + uri), Buffer.from(body), Buffer.from(timestamp)])).digest('base64');
