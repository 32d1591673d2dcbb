/**
 * The one way a CloudEvent entry file registers its function: the configuration is read when
 * the module loads (a misconfigured instance stops there); the handler and its clients are
 * built on the first event. Eventarc redelivers what the handler throws (events/batch-job-events.ts).
 */
import * as functions from '@google-cloud/functions-framework';
import { type Config, loadConfig } from '../config';
import type { IncomingCloudEvent } from '../events/batch-job-events';

type EventHandler = (event: IncomingCloudEvent) => Promise<void>;

export function eventFunction(name: string, build: (config: Config) => () => EventHandler): void {
  const create = build(loadConfig(process.env));
  let handler: EventHandler | undefined;
  functions.cloudEvent(name, (event: Parameters<functions.CloudEventFunction>[0]) => {
    handler ??= create();
    return handler(event);
  });
}
