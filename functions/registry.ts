import type { Destination } from '#destinations/types.ts';
import { ga4Destination } from '#destinations/ga4/index.ts';
import { metaDestination } from '#destinations/meta/index.ts';
import { googleAdsDestination } from '#destinations/google-ads/index.ts';
import { tiktokDestination } from '#destinations/tiktok/index.ts';
import { linkedinDestination } from '#destinations/linkedin/index.ts';
import { pinterestDestination } from '#destinations/pinterest/index.ts';
import { snapchatDestination } from '#destinations/snapchat/index.ts';
import { microsoftDestination } from '#destinations/microsoft/index.ts';
import { xDestination } from '#destinations/x/index.ts';
import { redditDestination } from '#destinations/reddit/index.ts';

/**
 * The list of sources and destinations. The CDK stack and the local runner both read it: adding a platform or a
 * source is one folder (with its `lambda.ts` entry point) and one line here.
 *
 * Sources are listed by metadata only, so that reading the registry never loads every source's dependencies
 * (each source's Lambda bundles only its own).
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

export const destinations: readonly Destination<any>[] = [
  metaDestination,
  tiktokDestination,
  googleAdsDestination,
  ga4Destination,
  linkedinDestination,
  pinterestDestination,
  snapchatDestination,
  redditDestination,
  microsoftDestination,
  xDestination,
];

/** Where each Lambda's code lives, by convention: one `lambda.ts` per source and destination folder. */
export const sourceEntry = (name: string) => `functions/sources/${name}/lambda.ts`;
export const destinationEntry = (name: string) => `functions/destinations/${name}/lambda.ts`;
export const COLLECT_ENTRY = 'functions/handlers/collect.ts';
export const SNIPPET_ENTRY = 'functions/handlers/snippet.ts';
/** The ledger stream's consumer: puts each accepted conversion on its destinations' queues (the CDK stack and the local runner). */
export const FAN_OUT_ENTRY = 'functions/handlers/fan-out.ts';
