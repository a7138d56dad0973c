import { consentSkipReason, consentTier } from '#core/consent.ts';
import type { Conversion } from '#core/conversion.ts';
import type { Destination } from './types.ts';

/**
 * The skip rule of a platform that matches on identifiers only and cannot take back a conversion (Meta, TikTok):
 * nothing without marketing consent, and refunds / chargebacks recorded but not sent.
 */
export function identifierOnlySkipReason(platform: string): (c: Conversion) => string | undefined {
  return (c) =>
    consentSkipReason(c.consent, { name: platform, acceptsWithoutIdentifiers: false }) ??
    (c.adjustment ? `${platform} has no way to retract a conversion: the ${c.adjustment.kind} is recorded, not sent` : undefined);
}

/**
 * A conversion that carries none of the keys a platform matches on is skipped with the reason, not dead-lettered:
 * no configuration fix or redrive can add an identifier the source never had.
 */
export function unmatchableSkipReason(platform: string, canMatch: (c: Conversion) => boolean, needs: string): (c: Conversion) => string | undefined {
  const base = identifierOnlySkipReason(platform);
  return (c) => base(c) ?? (canMatch(c) ? undefined : `${platform} needs ${needs}; this conversion has none`);
}

/**
 * For a platform with no restricted-processing mode (nothing like Meta's LDU or Pinterest's `opt_out_type: "LDP"`)
 * whose own rules say to leave out users who opted out of the sale / sharing of their data (X's Conversion API
 * guide): a conversion whose visitor refused ad personalization is recorded, not sent.
 */
export function noLimitedModeSkipReason(platform: string): (c: Conversion) => string | undefined {
  return (c) =>
    consentTier(c.consent).limitedDataUse
      ? `consent: ad personalization refused, and ${platform} has no limited-data-use mode; recorded, not sent`
      : undefined;
}

/**
 * Why the platform would refuse this conversion for its age (`maxEventAgeMsFor(config)` where the limit depends on
 * the configuration, else `maxEventAgeMs`), or undefined. The backfill checks it before queuing (without a config).
 */
export function tooOldReason<C>(dest: Pick<Destination<C>, 'name' | 'maxEventAgeMs' | 'maxEventAgeMsFor'>, c: Pick<Conversion, 'occurredAt'>, now: Date, config?: C): string | undefined {
  const age = now.getTime() - Date.parse(c.occurredAt);
  const maxAge = config !== undefined && dest.maxEventAgeMsFor ? dest.maxEventAgeMsFor(config) : dest.maxEventAgeMs;
  if (age <= maxAge) return undefined;
  return `too old for ${dest.name}: occurred ${Math.floor(age / 3600_000)} h ago, the platform accepts at most ${Math.floor(maxAge / 3600_000)} h`;
}
