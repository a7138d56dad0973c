import { App } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import { AssetManifestArtifact } from 'aws-cdk-lib/cx-api';
import type { APIGatewayProxyEventV2 } from 'aws-lambda';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { describe, expect, it } from 'vitest';
import { buildSnippet } from '../../functions/snippet/build.ts';
import { RelayStack, type RelayStackProps } from '../../lib/relay-stack.ts';

/** Click capture in the template: the /t.js route and function, CORS from `allowedOrigins`, the optional custom domain. */
type Json = Record<string, any>;
const CDK_CONTEXT: Record<string, unknown> = JSON.parse(readFileSync(fileURLToPath(new URL('../../cdk.json', import.meta.url)), 'utf8')).context;

function template(props: RelayStackProps = {}, bundle = false) {
  const app = new App({ context: { ...CDK_CONTEXT, ...(bundle ? {} : { 'aws:cdk:bundling-stacks': [] }) } });
  const stack = new RelayStack(app, 'ConversionRelay', props);
  return { app, stack, t: Template.fromStack(stack) };
}

/** The function behind a route key, through its integration. */
function functionBehind(t: Template, routeKey: string): string {
  const [route] = Object.values(t.findResources('AWS::ApiGatewayV2::Route', { Properties: { RouteKey: routeKey } }));
  const integration = t.toJSON().Resources[route.Properties.Target['Fn::Join'][1][1].Ref];
  return integration.Properties.IntegrationUri['Fn::GetAtt'][0];
}

describe('GET /t.js in the stack', () => {
  it('is served by its own small function that can touch no table, queue or secret', () => {
    const { t } = template();
    const fn = functionBehind(t, 'GET /t.js');
    const resources: Json = t.toJSON().Resources;
    expect(resources[fn].Properties.MemorySize).toBe(128);
    const roleId: string = resources[fn].Properties.Role['Fn::GetAtt'][0];
    const policies = Object.values(t.findResources('AWS::IAM::Policy')).filter((p) => p.Properties.Roles.some((r: Json) => r.Ref === roleId));
    const actions = [
      ...(resources[roleId].Properties.Policies ?? []).flatMap((p: Json) => p.PolicyDocument.Statement),
      ...policies.flatMap((p) => p.Properties.PolicyDocument.Statement),
    ].flatMap((s: Json) => [s.Action].flat());
    expect(actions.sort()).toEqual(['logs:CreateLogStream', 'logs:PutLogEvents']);
  });

  it('prints the script tag with the versioned URL', () => {
    const { t } = template({ domainName: 't.example.com', certificateArn: 'arn:aws:acm:us-east-1:111111111111:certificate/abc' });
    t.hasOutput('SnippetTag', { Value: `<script async src="https://t.example.com/t.js?v=${buildSnippet().hash}"></script>` });
  });

  it('compiles the snippet into the bundle: the deployed handler serves the same script as the build', async () => {
    const { app, stack } = template({}, true);
    const assembly = app.synth();
    const resources: Json = assembly.getStackArtifact(stack.artifactId).template.Resources;
    const fnId = Object.keys(resources).find((id) => resources[id].Type === 'AWS::Lambda::Function' && /^Snippet/.test(id))!;
    const manifest = assembly.artifacts.find((a): a is AssetManifestArtifact => AssetManifestArtifact.isAssetManifestArtifact(a))!;
    const assetPath: string = manifest.contents.files![resources[fnId].Properties.Code.S3Key.replace(/\.zip$/, '')].source.path!;
    const { handler } = await import(pathToFileURL(path.join(assembly.directory, assetPath, 'index.mjs')).href);
    const res = await handler({ headers: {}, queryStringParameters: { v: buildSnippet().hash } } as unknown as APIGatewayProxyEventV2);
    expect(res.statusCode).toBe(200);
    expect(res.body).toBe(buildSnippet().code);
    expect(res.headers['cache-control']).toBe('public, max-age=31536000, immutable');
    // identify()'s lazily loaded part is compiled in too: without it identify would fail in AWS only.
    const extra = await handler({ headers: {}, queryStringParameters: { part: 'extra', v: buildSnippet().extraHash } } as unknown as APIGatewayProxyEventV2);
    expect(extra.statusCode).toBe(200);
    expect(extra.body).toBe(buildSnippet().extraCode);
  });
});

describe('CORS', () => {
  it('lists the configured origins with credentials, and tells collect to check them too', () => {
    const { t } = template({ allowedOrigins: 'https://shop.example.com, https://*.example.org' });
    t.hasResourceProperties('AWS::ApiGatewayV2::Api', {
      CorsConfiguration: {
        AllowOrigins: ['https://shop.example.com', 'https://*.example.org'],
        AllowCredentials: true,
        AllowMethods: ['POST', 'GET'],
        AllowHeaders: ['content-type'],
        MaxAge: 86400,
      },
    });
    const collect = functionBehind(t, 'POST /collect');
    expect(t.toJSON().Resources[collect].Properties.Environment.Variables.RELAY_ALLOWED_ORIGINS).toBe('https://shop.example.com,https://*.example.org');
  });

  it('has no CORS configuration without allowedOrigins', () => {
    const { t } = template();
    const [api] = Object.values(t.findResources('AWS::ApiGatewayV2::Api'));
    expect(api.Properties.CorsConfiguration).toBeUndefined();
  });
});

describe('custom domain', () => {
  it('maps the API’s $default stage to the domain with the given certificate and prints the DNS target', () => {
    const certificateArn = 'arn:aws:acm:us-east-1:111111111111:certificate/abc';
    const { t } = template({ domainName: 't.example.com', certificateArn });
    t.hasResourceProperties('AWS::ApiGatewayV2::DomainName', {
      DomainName: 't.example.com',
      DomainNameConfigurations: [{ CertificateArn: certificateArn, EndpointType: 'REGIONAL' }],
    });
    t.resourceCountIs('AWS::ApiGatewayV2::ApiMapping', 1);
    t.hasResourceProperties('AWS::ApiGatewayV2::ApiMapping', { Stage: '$default' });
    expect(t.findOutputs('CustomDomainTarget')).not.toEqual({});
  });

  it('has none by default, and refuses half a configuration', () => {
    template().t.resourceCountIs('AWS::ApiGatewayV2::DomainName', 0);
    expect(() => template({ domainName: 't.example.com' })).toThrow(/domainName and certificateArn go together/);
  });
});
