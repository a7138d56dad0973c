import type { DestinationRoute } from '#destinations/types.ts';
import { ga4Route } from '#destinations/ga4/route.ts';
import { metaRoute } from '#destinations/meta/route.ts';
import { googleAdsRoute } from '#destinations/google-ads/route.ts';
import { tiktokRoute } from '#destinations/tiktok/route.ts';
import { linkedinRoute } from '#destinations/linkedin/route.ts';
import { pinterestRoute } from '#destinations/pinterest/route.ts';
import { snapchatRoute } from '#destinations/snapchat/route.ts';
import { microsoftRoute } from '#destinations/microsoft/route.ts';
import { xRoute } from '#destinations/x/route.ts';
import { redditRoute } from '#destinations/reddit/route.ts';

/**
 * The list of sources and destinations. The CDK stack and the local runner both read it: adding a platform or a
 * source is one folder (with its `lambda.ts` entry point) and one line here.
 *
 * Sources are listed by metadata only, so that reading the registry never loads every source's dependencies
 * (each source's Lambda bundles only its own). Destinations likewise, by their routes (each folder's `route.ts`:
 * name, maximum event age, skip rules), which is all ingest needs: the ingest Lambdas read this list, so it must not
 * pull in payload builders or HTTP clients. A destination's full definition is its folder's `index.ts` (default
 * export), which `destinationDefinitions` (functions/destinations/definitions.ts) loads for the stack, the local
 * runner and the CLI.
 */
export interface SourceEntry {
  name: string;
  routes: { method: 'GET' | 'POST'; path: string }[];
  /** Settings that are secrets: kept in the source's Secrets Manager secret in AWS. */
  secretKeys: string[];
}

export const sources: readonly SourceEntry[] = [
  { name: 'stripe', routes: [{ method: 'POST', path: '/webhooks/stripe' }], secretKeys: ['STRIPE_WEBHOOK_SECRET'] },
  { name: 'clickbank', routes: [{ method: 'POST', path: '/webhooks/clickbank' }], secretKeys: ['CLICKBANK_SECRET_KEY'] },
  {
    name: 'postback',
    routes: [
      { method: 'GET', path: '/postback' },
      { method: 'POST', path: '/postback' },
    ],
    secretKeys: ['POSTBACK_TOKEN'],
  },
  { name: 'hubspot', routes: [{ method: 'POST', path: '/webhooks/hubspot' }], secretKeys: ['HUBSPOT_CLIENT_SECRET', 'HUBSPOT_ACCESS_TOKEN'] },
  { name: 'crm', routes: [{ method: 'POST', path: '/webhooks/crm' }], secretKeys: ['CRM_WEBHOOK_SECRET'] },
];

export const destinations: readonly DestinationRoute<any>[] = [
  metaRoute,
  tiktokRoute,
  googleAdsRoute,
  ga4Route,
  linkedinRoute,
  pinterestRoute,
  snapchatRoute,
  redditRoute,
  microsoftRoute,
  xRoute,
];

/** Where each Lambda's code lives, by convention: one `lambda.ts` per source and destination folder. */
export const sourceEntry = (name: string) => `functions/sources/${name}/lambda.ts`;
export const destinationEntry = (name: string) => `functions/destinations/${name}/lambda.ts`;
export const COLLECT_ENTRY = 'functions/handlers/collect.ts';
export const SNIPPET_ENTRY = 'functions/handlers/snippet.ts';
/** The ledger stream's consumer: puts each accepted conversion on its destinations' queues (the CDK stack and the local runner). */
export const FAN_OUT_ENTRY = 'functions/handlers/fan-out.ts';
