import { SHA256_HEX, startConversionApiFake, type ConversionApiFake } from './conversion-api-fake.ts';

/**
 * LinkedIn `POST /rest/conversionEvents` (BATCH_CREATE) as documented (platforms-more.md §1): Bearer token,
 * `LinkedIn-Version: YYYYMM`, `X-Restli-Protocol-Version: 2.0.0`, `X-RestLi-Method: BATCH_CREATE`, `elements` of at
 * most 5000 with the rule URN, conversionHappenedAt in **ms**, eventId, `user.userIds` present (SHA256_EMAIL a
 * SHA-256 hex), amount a string; one invalid element fails the whole batch with 422 "Index: n, ERROR :: …".
 */
export type LinkedInFake = ConversionApiFake<any>;

export function linkedInElementError(e: any): string | undefined {
  if (typeof e?.conversion !== 'string' || !/^urn:lla:llaPartnerConversion:\d+$/.test(e.conversion)) return '/conversion :: invalid urn';
  if (!Number.isInteger(e.conversionHappenedAt) || e.conversionHappenedAt < 1e12) return '/conversionHappenedAt :: must be epoch milliseconds';
  if (e.conversionValue && (typeof e.conversionValue.amount !== 'string' || typeof e.conversionValue.currencyCode !== 'string')) return '/conversionValue/amount :: field is required and must be a string';
  if (!Array.isArray(e.user?.userIds)) return '/user/userIds :: field is required';
  for (const id of e.user.userIds) if (id.idType === 'SHA256_EMAIL' && !SHA256_HEX.test(id.idValue)) return '/user/userIds :: SHA256_EMAIL must be a SHA-256 hex';
  return undefined;
}

export const linkedInError = (status: number, code: string, message: string) => ({ status, code, message });

export function startLinkedInFake(opts: { accessToken: string; refreshToken?: string }): Promise<LinkedInFake> {
  return startConversionApiFake(
    (body) => (Array.isArray(body?.elements) ? body.elements : []),
    ({ url, headers, body }) => {
      if (url.pathname !== '/rest/conversionEvents') return { status: 404, body: linkedInError(404, 'NOT_FOUND', 'no such resource') };
      if (headers.authorization !== `Bearer ${opts.accessToken}`) return { status: 401, body: { ...linkedInError(401, 'INVALID_ACCESS_TOKEN', 'Invalid access token'), serviceErrorCode: 65600 } };
      if (!/^20\d{4}$/.test(String(headers['linkedin-version']))) return { status: 400, body: linkedInError(400, 'VERSION_MISSING', 'A version must be present') };
      if (headers['x-restli-protocol-version'] !== '2.0.0' || headers['x-restli-method'] !== 'BATCH_CREATE') return { status: 400, body: linkedInError(400, 'BAD_REQUEST', 'BATCH_CREATE with Rest.li 2.0.0 expected') };
      if (!Array.isArray(body.elements) || body.elements.length > 5000) return { status: 400, body: linkedInError(400, 'BAD_REQUEST', 'elements must hold at most 5000') };
      const errors = body.elements.map((e: any, i: number) => [i, linkedInElementError(e)] as const).filter(([, m]: readonly [number, string | undefined]) => m);
      if (errors.length) return { status: 422, body: linkedInError(422, 'UNPROCESSABLE_ENTITY', errors.map(([i, m]: readonly [number, string | undefined]) => `Index: ${i}, ERROR :: ${m}\n`).join('')) };
      return { status: 200, body: { elements: body.elements.map(() => ({ status: 201 })) }, accepted: body.elements };
    },
  );
}
