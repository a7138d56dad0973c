import path from 'node:path';
import { fileURLToPath } from 'node:url';

/** The checkout's root. Its own module so the local runner finds it without loading aws-cdk-lib (lib/constructs). */
export const PROJECT_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
