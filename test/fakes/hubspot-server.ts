/**
 * Local fake of the three HubSpot CRM API endpoints the HubSpot source reads, answering as HubSpot documents them
 * (developers.hubspot.com → CRM API → objects "batch read", associations v4 "batch read"):
 *   POST /crm/v3/objects/{deals|contacts}/batch/read  { properties, inputs: [{ id }] } → { status, results: [{ id, properties, … }] }
 *     (207 with `errors` when some IDs do not exist)
 *   POST /crm/v4/associations/deal/contact/batch/read { inputs: [{ id }] } → { status, results: [{ from: { id }, to: [{ toObjectId, associationTypes }] }] }
 * Requests need `Authorization: Bearer <token>`; a wrong token gets HubSpot's 401 error envelope. Property values
 * are strings (or null), as HubSpot returns them.
 */
import { createServer, type IncomingMessage } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface HubSpotFake {
  baseUrl: string;
  requests: { path: string; body: any; authorization?: string }[];
  deals: Map<string, { properties: Record<string, string | null>; contactIds: string[] }>;
  contacts: Map<string, Record<string, string | null>>;
  close(): Promise<void>;
}

function read(req: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    req.on('error', reject);
  });
}

export async function startHubSpotFake(opts: { token: string }): Promise<HubSpotFake> {
  const fake: Omit<HubSpotFake, 'baseUrl' | 'close'> = { requests: [], deals: new Map(), contacts: new Map() };
  const server = createServer(async (req, res) => {
    const reply = (status: number, body: unknown) => res.writeHead(status, { 'content-type': 'application/json;charset=utf-8' }).end(JSON.stringify(body));
    const path = new URL(req.url ?? '/', 'http://x').pathname;
    let body: any;
    try {
      body = JSON.parse((await read(req)) || '{}');
    } catch {
      return reply(400, { status: 'error', message: 'Invalid input JSON', category: 'VALIDATION_ERROR' });
    }
    fake.requests.push({ path, body, authorization: req.headers.authorization });
    if (req.headers.authorization !== `Bearer ${opts.token}`) {
      return reply(401, { status: 'error', message: 'Authentication credentials not found.', category: 'INVALID_AUTHENTICATION' });
    }
    if (req.method !== 'POST' || !Array.isArray(body.inputs)) return reply(400, { status: 'error', message: 'inputs is required', category: 'VALIDATION_ERROR' });
    const ids: string[] = body.inputs.map((i: { id: unknown }) => String(i.id));
    const now = new Date().toISOString();

    const objects = /^\/crm\/v3\/objects\/(deals|contacts)\/batch\/read$/.exec(path);
    if (objects) {
      const wanted: string[] = body.properties ?? [];
      const found = ids.filter((id) => (objects[1] === 'deals' ? fake.deals.has(id) : fake.contacts.has(id)));
      const results = found.map((id) => {
        const all = objects[1] === 'deals' ? fake.deals.get(id)!.properties : fake.contacts.get(id)!;
        // HubSpot returns the requested properties that exist, plus hs_object_id, createdate, lastmodifieddate.
        const properties = Object.fromEntries(wanted.filter((p) => p in all).map((p) => [p, all[p]]));
        return { id, properties: { ...properties, hs_object_id: id }, createdAt: now, updatedAt: now, archived: false };
      });
      const missing = ids.filter((id) => !found.includes(id));
      if (missing.length) {
        return reply(207, { status: 'COMPLETE', results, numErrors: 1, errors: [{ status: 'error', category: 'OBJECT_NOT_FOUND', message: 'Could not get some objects', context: { ids: missing } }] });
      }
      return reply(200, { status: 'COMPLETE', results, startedAt: now, completedAt: now });
    }
    if (path === '/crm/v4/associations/deal/contact/batch/read') {
      const results = ids
        .filter((id) => fake.deals.has(id))
        .map((id) => ({
          from: { id },
          to: fake.deals.get(id)!.contactIds.map((c) => ({ toObjectId: Number(c), associationTypes: [{ category: 'HUBSPOT_DEFINED', typeId: 3, label: null }] })),
        }));
      return reply(200, { status: 'COMPLETE', results, startedAt: now, completedAt: now });
    }
    return reply(404, { status: 'error', message: `Unable to infer object type from: ${path}`, category: 'OBJECT_NOT_FOUND' });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    ...fake,
    baseUrl: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}
