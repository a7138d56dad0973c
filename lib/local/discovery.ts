/**
 * How tools find a running local relay: its ports are ephemeral, its data directory is not. The runner writes
 * `<dataDir>/runner.json` when it is up and removes it on a clean stop.
 */
export const RUNNER_DISCOVERY_FILE = 'runner.json';

export interface RunnerDiscovery {
  pid: number;
  url: string;
  endpoints: { dynamodb: string; sqs: string };
  queues: Record<string, { url: string; dlqUrl: string }>;
  tables: { visitors: string; ledger: string };
  /** The fan-out's failure queue (the ledger stream's on-failure destination). */
  fanOutFailures?: string;
}
