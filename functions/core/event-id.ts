/**
 * Event IDs are derived, never random: the browser pixel and the server must send the same one for the
 * platforms to keep a single event (Meta and TikTok de-duplicate on event name + event ID within 48 h).
 *
 * A Purchase uses the order ID itself (what Meta suggests, and what a site already has on its thank-you page:
 * e.g. Stripe's `{CHECKOUT_SESSION_ID}`); any other event name gets it as a suffix so a refund or a lead for the
 * same order never collides with the purchase. The browser snippet implements the same rule.
 */
export function eventIdFor(orderId: string, eventName = 'Purchase'): string {
  const id = orderId.trim();
  if (!id) throw new Error('eventIdFor: empty order ID');
  return eventName === 'Purchase' ? id : `${id}:${eventName.toLowerCase()}`;
}
