#!/usr/bin/env node
// The operator CLI's executable: registers tsx so the TypeScript sources run as they are, then runs bin/cli.ts.
import { register } from 'tsx/esm/api';

process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';
register();
const { run } = await import('./cli.ts');
process.exitCode = await run(process.argv.slice(2));
