/**
 * Public AWS list prices the cost model uses: us-east-1, Lambda on arm64, first pricing tiers, on-demand DynamoDB
 * (standard table class), SQS standard queues, Lambda function URLs, API Gateway HTTP APIs. One dated table: update the date with the
 * numbers. The AWS pricing pages render client-side; these figures are those quoted in
 * /work/shared/reference/perf-anchors.md §6.1 and, on the date below, matched by secondary pages that quote them
 * (cloudchipr.com and a Lambda cost note for Lambda arm64; awsforengineers.com and apigatewaycost.com for HTTP vs REST
 * APIs; airbyte.com for on-demand DynamoDB after the November 2024 cut). Cross-check against the live pages.
 */
export const PRICES = {
  asOf: '2026-11-23',
  region: 'us-east-1',
  lambdaGbSecond: { usd: 0.0000133334, source: 'https://aws.amazon.com/lambda/pricing/ (arm64, first 7.5B GB-s/month)' },
  lambdaRequest: { usd: 0.2 / 1e6, source: 'https://aws.amazon.com/lambda/pricing/ ($0.20 per 1M requests)' },
  functionUrlRequest: {
    usd: 0,
    source:
      'https://aws.amazon.com/lambda/pricing/ (a function URL request is billed as the invocation it makes, request + duration, with no fee of its own; ' +
      'that page renders client-side and was not read verbatim here: perf-anchors.md §6.3 says the same, as do secondary pages such as ' +
      'https://dev.to/elifapaydin/fine-details-of-aws-lambda-function-url-feature-21kn; AWS\'s guide calls function URLs "optimized for simplicity and ' +
      'cost-effectiveness": https://docs.aws.amazon.com/lambda/latest/dg/apig-http-invoke-decision.html)',
  },
  httpApiRequest: { usd: 1.0 / 1e6, source: 'https://aws.amazon.com/api-gateway/pricing/ (HTTP APIs, first 300M/month, per 512 KB; /collect and /t.js, per page view, not per conversion)' },
  restApiRequest: { usd: 3.5 / 1e6, source: 'https://aws.amazon.com/api-gateway/pricing/ (REST APIs, first 333M/month), for comparison' },
  dynamoWriteUnit: { usd: 0.625 / 1e6, source: 'https://aws.amazon.com/dynamodb/pricing/on-demand/ ($0.625 per 1M WRU; 1 WRU = one write of up to 1 KB)' },
  dynamoReadUnit: { usd: 0.125 / 1e6, source: 'https://aws.amazon.com/dynamodb/pricing/on-demand/ ($0.125 per 1M RRU; eventually consistent read of up to 4 KB = 0.5 RRU)' },
  sqsRequest: { usd: 0.4 / 1e6, source: 'https://aws.amazon.com/sqs/pricing/ (standard, $0.40 per 1M requests after the first 1M; each 64 KB chunk is a request; a SendMessageBatch of up to 10 is one request)' },
  /**
   * Not priced, and why: "You are not charged for GetRecords API calls invoked by AWS Lambda as part of DynamoDB
   * triggers" (https://aws.amazon.com/dynamodb/pricing/on-demand/, change data capture / DynamoDB Streams), and a
   * record no filter of the event source mapping passes is discarded before any invocation
   * (https://docs.aws.amazon.com/lambda/latest/dg/invocation-eventfiltering.html).
   */
  dynamoStreamReadByLambda: { usd: 0, source: 'https://aws.amazon.com/dynamodb/pricing/on-demand/ (GetRecords by a Lambda trigger: not charged)' },
} as const;

/**
 * Assumptions the model states next to its arithmetic (not prices, and not measured here).
 * - Lambda gives a function CPU in proportion to memory: 1,769 MB = one vCPU.
 * - A same-region DynamoDB/SQS/Secrets Manager call waits this long on the network (TLS connection reused).
 * - A platform API answers a batch in this long (Meta CAPI, per perf-anchors §6.2).
 */
export const ASSUMPTIONS = {
  mbPerVcpu: 1769,
  awsRoundTripMs: 5,
  platformRoundTripMs: 300,
} as const;
