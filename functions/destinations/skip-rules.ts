import type { Conversion } from '#core/conversion.ts';

/**
 * The skip rule of an ad platform that takes conversions to measure ads (Meta, TikTok): nothing without marketing
 * consent, and no refund or chargeback, which the platform has no way to retract (it is recorded with the reason).
 */
export function adPlatformSkipReason(platform: string): (c: Conversion) => string | undefined {
  return (c) => {
    if (c.consent.marketing === false) return 'consent: marketing not granted';
    if (c.adjustment) return `${platform} has no way to retract a conversion: the ${c.adjustment.kind} is recorded, not sent`;
    return undefined;
  };
}
