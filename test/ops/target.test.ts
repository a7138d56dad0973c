import { App } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { destinations } from '../../functions/registry.ts';
import { RelayStack } from '../../lib/relay-stack.ts';
import { OperatorError, resolveTarget } from '../../lib/ops/target.ts';

/**
 * The CLI against AWS finds the ledger and the queues in the outputs `cdk deploy --outputs-file` writes. The
 * outputs file here is built from the stack's own synthesized outputs (the keys CloudFormation would write), so
 * the CLI and the stack cannot drift apart.
 */
const CDK_CONTEXT = JSON.parse(readFileSync(new URL('../../cdk.json', import.meta.url), 'utf8')).context;
const names = destinations.map((d) => d.name);

describe('operator CLI target resolution (AWS)', () => {
  let dir: string;
  let outputsFile: string;
  const urlFor = (logicalId: string) => `https://sqs.eu-west-1.amazonaws.com/123456789012/${logicalId}`;

  beforeAll(() => {
    const app = new App({ context: { ...CDK_CONTEXT, 'aws:cdk:bundling-stacks': [] } });
    const outputs = Template.fromStack(new RelayStack(app, 'ConversionRelay')).toJSON().Outputs as Record<string, unknown>;
    const deployed = Object.fromEntries(Object.keys(outputs).map((k) => [k, k === 'LedgerTableName' ? 'ConversionRelay-Ledger-ABC' : urlFor(k)]));
    dir = mkdtempSync(path.join(tmpdir(), 'relay-target-'));
    outputsFile = path.join(dir, 'cdk-outputs.json');
    writeFileSync(outputsFile, JSON.stringify({ ConversionRelay: deployed }));
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('reads the ledger table and every destination’s queue and DLQ from the stack outputs, and the region from the queue URLs', async () => {
    const target = await resolveTarget({ aws: true, outputs: outputsFile, cwd: dir, env: {}, destinations: names });
    expect(target.kind).toBe('aws');
    expect(target.ledgerTable).toBe('ConversionRelay-Ledger-ABC');
    expect(Object.keys(target.queues).sort()).toEqual([...names].sort());
    for (const d of names) {
      expect(target.queues[d].url).toBe(urlFor(`${d}QueueUrl`.replace(/[^A-Za-z0-9]/g, '')));
      expect(target.queues[d].dlqUrl).toBe(urlFor(`${d}DeadLetterQueueUrl`.replace(/[^A-Za-z0-9]/g, '')));
    }
    expect(target.description).toMatch(/eu-west-1/);
    expect(await target.sqs.config.region()).toBe('eu-west-1');
    // Each destination's credentials secret, for commands that ask the platform themselves (quality).
    for (const d of names) expect(target.secretArns[d]).toBe(urlFor(`${d}SecretArn`.replace(/[^A-Za-z0-9]/g, '')));
    expect(await target.secrets!.config.region()).toBe('eu-west-1');
  });

  it('finds cdk-outputs.json in the working directory when no local relay runs, and lets the environment override it', async () => {
    const target = await resolveTarget({ cwd: dir, dataDir: path.join(dir, 'no-relay'), env: { LEDGER_TABLE: 'OtherLedger', RELAY_SECRET_ARN_META: 'arn:aws:secretsmanager:eu-west-1:1:secret:other' }, destinations: names });
    expect(target.kind).toBe('aws');
    expect(target.ledgerTable).toBe('OtherLedger');
    expect(target.secretArns.meta).toBe('arn:aws:secretsmanager:eu-west-1:1:secret:other');
  });

  it('says what to do when there is nothing to operate on', async () => {
    const empty = mkdtempSync(path.join(tmpdir(), 'relay-target-empty-'));
    try {
      const err = await resolveTarget({ cwd: empty, env: {}, destinations: names }).catch((e) => e);
      expect(err).toBeInstanceOf(OperatorError);
      expect(err.message).toMatch(/start one with `npm start`/);
      expect(err.message).toMatch(/npx cdk deploy --outputs-file cdk-outputs.json/);
    } finally {
      rmSync(empty, { recursive: true, force: true });
    }
  });

  it('asks which stack when the outputs file holds several', async () => {
    const two = path.join(dir, 'two.json');
    writeFileSync(two, JSON.stringify({ A: { ApiUrl: 'x' }, B: { ApiUrl: 'y' } }));
    const err = await resolveTarget({ aws: true, outputs: two, cwd: dir, env: {}, destinations: names }).catch((e) => e);
    expect(err).toBeInstanceOf(OperatorError);
    expect(err.message).toMatch(/has outputs for A, B; say which with --stack <name>/);
  });
});
