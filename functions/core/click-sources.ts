import type { ClickKey } from './conversion.ts';

/**
 * Where click IDs come from, without any dependency: the server reads them (clicks.ts) and the browser snippet
 * bundles the cookie list from here.
 */

/** URL parameter → click key: each platform's click ID as its ads append it to the landing URL (names are case-sensitive). */
export const URL_CLICK_PARAMS: Readonly<Record<string, ClickKey>> = {
  gclid: 'gclid',
  gbraid: 'gbraid',
  wbraid: 'wbraid',
  ttclid: 'ttclid',
  msclkid: 'msclkid',
  li_fat_id: 'liFatId',
  ScCid: 'scCid',
  epik: 'epik',
  rdt_cid: 'rdtCid',
  twclid: 'twclid',
};

/**
 * First-party cookies the platforms' own tags set, which the snippet forwards in the body (a relay on another site
 * would not receive them in the Cookie header): Meta `_fbp`/`_fbc`, TikTok `_ttp`, Google Analytics `_ga`, Google
 * Ads `_gcl_aw` / `_gcl_gb` (`GCL.<seconds>.<gclid | gbraid>`), Microsoft `_uetmsclkid` (`_uet<msclkid>`),
 * Pinterest `_epik`, LinkedIn `li_fat_id`. Snapchat's `_scid`, Microsoft UET's `_uetvid`, the Reddit Pixel's
 * `_rdt_uuid` / `_rdt_cid` and X's `_twclid` are read from the Cookie header only (a relay on the site's own subdomain
 * receives them): forwarding them too would take the snippet past its 2 KB gzipped budget, and X's twclid already
 * arrives in the landing URL, which the snippet always sends.
 */
export const FORWARDED_COOKIES = ['_fbp', '_fbc', '_ttp', '_ga', '_gcl_aw', '_gcl_gb', '_uetmsclkid', '_epik', 'li_fat_id'] as const;

/** Browser IDs rather than ad clicks: kept per visitor, but not in the click history. */
export const BROWSER_ID_KEYS: readonly ClickKey[] = ['fbp', 'ttp', 'gaClientId', 'scid', 'uetvid', 'rdtUuid'];
