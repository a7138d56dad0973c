/**
 * The Lambda bundles' stand-in for `@aws-sdk/credential-provider-node` (BUNDLING's alias, lib/constructs/relay-function.ts):
 * the execution role's credentials from the environment, which is where Lambda puts them (AWS_ACCESS_KEY_ID,
 * AWS_SECRET_ACCESS_KEY, AWS_SESSION_TOKEN) and the default chain's first link, the one it stops at on Lambda. The
 * rest of the chain (SSO, INI files, web identity, container and instance metadata, with the STS/SSO clients they
 * carry) is ~130 KB of every bundle that a cold start parses for nothing. Only the bundles: the local runner, the tests
 * and the ops CLI run on the SDK's full chain.
 */
export const defaultProvider =
  () =>
  async (): Promise<{ accessKeyId: string; secretAccessKey: string; sessionToken?: string }> => {
    const accessKeyId = process.env.AWS_ACCESS_KEY_ID;
    const secretAccessKey = process.env.AWS_SECRET_ACCESS_KEY;
    if (!accessKeyId || !secretAccessKey) {
      throw new Error('no AWS credentials: this bundle reads them from AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY (and AWS_SESSION_TOKEN), as Lambda sets them');
    }
    const sessionToken = process.env.AWS_SESSION_TOKEN;
    return sessionToken ? { accessKeyId, secretAccessKey, sessionToken } : { accessKeyId, secretAccessKey };
  };
