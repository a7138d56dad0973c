import type { Settings } from '#sources/types.ts';

/**
 * Reading a destination's settings, one rule for every destination: surrounding white space is dropped and a blank
 * value counts as unset (an empty line in .env or a secret field left blank must not pass for a credential).
 */

/** The keys among `required` that are unset or blank, in the order given: what `configure` reports as missing. */
export function missingSettings(settings: Settings, required: readonly string[]): string[] {
  return required.filter((key) => !settings[key]?.trim());
}

/** The trimmed value of an optional setting; undefined when unset or blank. */
export function optionalSetting(settings: Settings, key: string): string | undefined {
  return settings[key]?.trim() || undefined;
}

/** The API base URL: the setting (a fake or a proxy, in tests) or the platform's own, without trailing slashes. */
export function baseUrlSetting(settings: Settings, key: string, platformUrl: string): string {
  return (optionalSetting(settings, key) ?? platformUrl).replace(/\/+$/, '');
}

/**
 * A setting that maps Conversion event names to a platform's own IDs, `Purchase=104012,Lead=104013` (LinkedIn
 * conversion rules, X events): one rule for every destination that needs one ID per event. Throws, naming the
 * setting and `example`, when a pair does not fit or an ID does not match `id`.
 */
export function eventNameMap(raw: string, key: string, id: RegExp, example: string): Record<string, string> {
  const map: Record<string, string> = {};
  for (const pair of raw.split(',').map((p) => p.trim()).filter(Boolean)) {
    const m = /^([A-Za-z]\w*)\s*=\s*(\S+)$/.exec(pair);
    if (!m || !id.test(m[2])) throw new Error(`${key} must look like ${example}, got "${pair}"`);
    map[m[1]] = m[2];
  }
  return map;
}
