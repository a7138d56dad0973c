/**
 * Where the visitor ID must travel for a later conversion to find the clicks (pure; tested in Node):
 * - Stripe Payment Links (`buy.stripe.com`): `client_reference_id`, which Stripe copies to the Checkout Session;
 * - ClickBank hop links (`hop.clickbank.net`, `<aff>.<vendor>.hop.clickbank.net`): the affiliate `tid`, which
 *   comes back in the INS notification's `trackingCodes` — without the UUID's hyphens, as ClickBank allows only
 *   letters, digits and underscores there (the ClickBank source reads the compact form back);
 * - any link the site marks with `data-visitor-param="name"`: that parameter (e.g. the site's own endpoint that
 *   creates a Checkout Session, or a Payment Link on a custom domain).
 * A value already present is left alone. `href` is absolute (an anchor's resolved `href`). Returns the new href, or
 * undefined when nothing changes.
 */
export function decorateHref(href: string, visitorId: string, param?: string): string | undefined {
  const url = new URL(href);
  const host = url.hostname;
  const name = param || (host == 'buy.stripe.com' ? 'client_reference_id' : /(^|\.)hop\.clickbank\.net$/.test(host) ? 'tid' : '');
  if (name && !url.searchParams.get(name)) {
    url.searchParams.set(name, name == 'tid' ? visitorId.replace(/-/g, '') : visitorId);
    return url.href;
  }
}
