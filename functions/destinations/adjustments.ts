import type { Conversion } from '#core/conversion.ts';
import { eventIdFor } from '#core/event-id.ts';
import type { DependencyDecision, PriorDelivery } from './types.ts';

/**
 * The event IDs an adjustment's original may have (`Destination.dependsOn`): its own, when the source knows it, else
 * the order ID and the IDs an order's conversion gets (`eventIdFor`) for each conversion name the platform is set up
 * for — the only ones that can have been uploaded.
 */
export function originalEventIds(c: Conversion, uploadedNames: readonly string[]): string[] {
  const adj = c.adjustment!;
  const order = adj.originalOrderId;
  return [...new Set([adj.originalEventId, order, ...uploadedNames.map((n) => eventIdFor(order, n))].filter((id): id is string => !!id))];
}

/**
 * `Destination.afterDependencies` of a platform that adjusts (retracts, restates) its own earlier upload — Google Ads,
 * Microsoft offline conversions: with the original delivered, `send` decides (an age limit, details to copy from the
 * ledger row); an original still on its way, or in the DLQ waiting for a redrive, makes the refund wait (out of
 * attempts it lands in the DLQ next to it, saying why); anything else is skipped with the reason.
 */
export function afterOriginalUpload(
  platform: string,
  c: Conversion,
  originals: (PriorDelivery | undefined)[],
  send: (delivered: PriorDelivery) => DependencyDecision,
): DependencyDecision {
  const known = originals.filter((o): o is PriorDelivery => o !== undefined);
  const delivered = known.find((o) => o.status === 'delivered');
  if (delivered) return send(delivered);
  const pending = known.find((o) => o.status === 'queued' || o.status === 'retrying' || o.status === 'dead_lettered');
  if (pending) return { wait: `the original conversion ${pending.eventId} is ${pending.status} at ${platform}, not delivered yet` };
  const other = known[0];
  if (other) return { skip: `the original conversion ${other.eventId} was never uploaded to ${platform} (${other.status}${other.reason ? `: ${other.reason}` : ''})` };
  return { skip: `the original conversion (order ${c.adjustment!.originalOrderId}) has no row in the ledger for ${platform}: only conversions this relay uploaded are adjusted` };
}
