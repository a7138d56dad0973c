import { App } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { RelayStack } from '../../lib/relay-stack.ts';

/** The mapping configuration at synth: a bad key stops `cdk synth` with its name; a good one reaches the ingest functions. */
const CDK_CONTEXT = JSON.parse(readFileSync(fileURLToPath(new URL('../../cdk.json', import.meta.url)), 'utf8')).context;
const build = (mapping?: string) =>
  new RelayStack(new App({ context: { ...CDK_CONTEXT, 'aws:cdk:bundling-stacks': [] } }), 'ConversionRelay', { mapping });

describe('RelayStack mapping', () => {
  it('fails the synth on a bad mapping, naming the key', () => {
    expect(() => build('{"destinations":{"metaa":["Purchase"]}}')).toThrow(/RELAY_MAPPING\.destinations\.metaa: no such destination/);
    expect(() => build('{"sources":{"stripe":{"renewals":null}}}')).toThrow(/RELAY_MAPPING\.sources\.stripe\.renewals: unknown trigger/);
  });

  it('gives a valid mapping to every ingest function, and to no sender', () => {
    const mapping = '{"sources":{"stripe":{"subscription.renewal":null}}}';
    const resources = Template.fromStack(build(mapping)).toJSON().Resources as Record<string, any>;
    const functions = Object.entries(resources).filter(([, r]) => r.Type === 'AWS::Lambda::Function');
    const withMapping = functions.filter(([, r]) => r.Properties.Environment?.Variables?.RELAY_MAPPING === mapping).map(([id]) => id);

    expect(withMapping.length).toBeGreaterThan(0);
    expect(withMapping.every((id) => /Ingest/.test(id))).toBe(true);
  });
});
