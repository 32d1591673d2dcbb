import Anthropic from '@anthropic-ai/sdk';
import { DEFAULT_CLAUDE_MODEL } from '../../../functions/core/shared/claude-models';
import { AnthropicTwin } from '../../local/anthropic/twin';
import { type Backends, benchStack, median, ms, percentile } from '../harness';

const ROUNDS = 30;
const KEY = 'bench-key-5b1c';
const TEXT = 'The run failed in STAR_ALIGN with exit code 137: it ran out of memory.';

/**
 * The assistant: time to the first streamed word through POST /api/chat (sign-in, both rate
 * limits in Firestore, validation, the tools' schemas, the SDK, the UI message stream) against
 * the same SDK call made directly to the same local Anthropic twin. Both stream the same reply.
 */
export async function run(backends: Backends): Promise<Record<string, unknown>> {
  console.log('\n== assistant: first streamed word through /api/chat vs a direct SDK call');
  const twin = new AnthropicTwin({ apiKey: KEY });
  const twinUrl = await twin.start();
  const stack = await benchStack(backends, 'assistant', {
    ANTHROPIC_BASE_URL: twinUrl,
    ANTHROPIC_API_KEY: KEY,
    ANTHROPIC_KEY_REQUESTS_PER_MINUTE: String(ROUNDS * 4),
    RATE_LIMIT_CHAT_PER_MINUTE: String(ROUNDS * 4),
  });
  const client = new Anthropic({ apiKey: KEY, baseURL: twinUrl, maxRetries: 0 });
  const direct: number[] = [];
  const viaApi: number[] = [];
  try {
    for (let i = 0; i < ROUNDS; i++) {
      twin.script({ text: TEXT });
      let started = performance.now();
      const stream = await client.messages.create({
        model: DEFAULT_CLAUDE_MODEL,
        max_tokens: 100,
        messages: [{ role: 'user', content: 'Why did it fail?' }],
        stream: true,
      });
      for await (const event of stream) {
        if (event.type === 'content_block_delta') {
          direct.push(performance.now() - started);
          break;
        }
      }

      twin.script({ text: TEXT });
      started = performance.now();
      const response = await fetch(`${stack.url}/api/chat`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({
          id: `bench-${i}`,
          messages: [{ id: 'm1', role: 'user', parts: [{ type: 'text', text: 'Why did it fail?' }] }],
        }),
      });
      if (response.status !== 200)
        throw new Error(`/api/chat answered ${response.status}: ${await response.text()}`);
      const reader = response.body!.pipeThrough(new TextDecoderStream()).getReader();
      let seen = '';
      for (;;) {
        const { value, done } = await reader.read();
        if (done) throw new Error('the stream ended without text');
        seen += value;
        if (seen.includes('"type":"text-delta"')) {
          viaApi.push(performance.now() - started);
          break;
        }
      }
      await reader.cancel();
    }
  } finally {
    await stack.stop();
    await twin.stop();
  }
  const d = median(direct);
  const a = median(viaApi);
  console.log(
    `first streamed word: /api/chat median ${ms(a)} (p95 ${ms(percentile(viaApi, 95))}) vs the SDK straight to the twin ${ms(d)} (p95 ${ms(percentile(direct, 95))}): ${(a / d).toFixed(1)}× over ${ROUNDS} rounds`,
  );
  return {
    rounds: ROUNDS,
    first_word_api_ms: { p50: a, p95: percentile(viaApi, 95) },
    first_word_direct_ms: { p50: d, p95: percentile(direct, 95) },
    ratio_p50: a / d,
  };
}
