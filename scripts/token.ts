/**
 * `npm run token -- alice@example.com [--minutes 60]`: an IAP token for that user, signed with the
 * key of the local stack started with `AUTH_MODE=iap npm start` (the same ARC_DATA_DIR). The
 * token is the last line, so `TOKEN=$(npm run -s token -- alice@example.com | tail -1)` works.
 */
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Command, InvalidArgumentError } from 'commander';
import { z } from 'zod';
import { localIapToken } from './lib/local-iap';

const root = join(fileURLToPath(import.meta.url), '..', '..');

const program = new Command('token')
  .description('Print a local IAP token for a user (AUTH_MODE=iap npm start)')
  .argument('<email>', 'who the token identifies', (value) => {
    if (!z.email().safeParse(value).success) throw new InvalidArgumentError('not an email address.');
    return value.toLowerCase();
  })
  .option(
    '--minutes <n>',
    'how long it is valid',
    (value) => {
      const n = Number(value);
      if (!Number.isInteger(n) || n < 1 || n > 1440)
        throw new InvalidArgumentError('a whole number from 1 to 1440.');
      return n;
    },
    60,
  )
  .action(async (email: string, options: { minutes: number }) => {
    const token = await localIapToken(
      process.env.ARC_DATA_DIR ?? join(root, '.data'),
      email,
      options.minutes,
    );
    console.error(
      `IAP token for ${email}, valid ${options.minutes} min. Send it as: -H "X-Goog-IAP-JWT-Assertion: $TOKEN"`,
    );
    console.log(token);
  });

program.parseAsync().catch((error: unknown) => {
  console.error(`token: ${error instanceof Error ? error.message : String(error)}`);
  process.exit(1);
});
