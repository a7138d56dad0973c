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
