/**
 * Which web origins may call /collect from a browser (`RELAY_ALLOWED_ORIGINS`, comma-separated): exact origins
 * (`https://shop.example.com`) or one wildcard level of subdomains (`https://*.example.com`, which does not match
 * `https://example.com` itself). Unset or empty: any origin (convenient on a laptop; set it in production).
 */
export type AllowedOrigins = { any: true } | { any: false; exact: Set<string>; suffixes: { scheme: string; suffix: string }[] };

export function parseAllowedOrigins(raw: string | undefined): AllowedOrigins {
  const entries = (raw ?? '').split(',').map((s) => s.trim()).filter(Boolean);
  if (entries.length === 0) return { any: true };
  const exact = new Set<string>();
  const suffixes: { scheme: string; suffix: string }[] = [];
  for (const entry of entries) {
    const wildcard = /^(https?):\/\/\*\.([a-z0-9.-]+(?::\d+)?)$/i.exec(entry);
    if (wildcard) {
      suffixes.push({ scheme: wildcard[1].toLowerCase(), suffix: `.${wildcard[2].toLowerCase()}` });
      continue;
    }
    let url: URL;
    try {
      url = new URL(entry);
    } catch {
      throw new Error(`RELAY_ALLOWED_ORIGINS: "${entry}" is not an origin like https://shop.example.com`);
    }
    if (!/^https?:$/.test(url.protocol) || url.origin !== entry.replace(/\/$/, '').toLowerCase()) {
      throw new Error(`RELAY_ALLOWED_ORIGINS: "${entry}" is not an origin like https://shop.example.com (no path, no trailing parts)`);
    }
    exact.add(url.origin);
  }
  return { any: false, exact, suffixes };
}

export function isOriginAllowed(origin: string, allowed: AllowedOrigins): boolean {
  if (allowed.any) return true;
  const o = origin.toLowerCase();
  if (allowed.exact.has(o)) return true;
  const m = /^(https?):\/\/([^/]+)$/.exec(o);
  return !!m && allowed.suffixes.some((s) => s.scheme === m[1] && m[2].endsWith(s.suffix) && m[2].length > s.suffix.length);
}
