/** HAYSTACK's Claude interpreter through the real SDK against the local Anthropic twin. */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AnthropicClient } from '../../functions/adapters/anthropic-chat-model';
import { AnthropicQueryInterpreter } from '../../functions/adapters/anthropic-query-interpreter';
import { AnthropicTwin } from '../../scripts/local/anthropic/twin';

const KEY = 'sk-ant-haystack-twin';
let twin: AnthropicTwin;
let interpreter: AnthropicQueryInterpreter;
const fallbacks: string[] = [];

beforeAll(async () => {
  twin = new AnthropicTwin({ apiKey: KEY });
  const url = await twin.start();
  const client = new AnthropicClient({
    apiKey: async () => KEY,
    baseUrl: url,
    maxRetries: 0,
    timeoutMs: 10_000,
  });
  interpreter = new AnthropicQueryInterpreter(client, 'claude-sonnet-4-5-20250929', (reason) =>
    fallbacks.push(reason),
  );
});
afterAll(async () => {
  await twin?.stop();
});

const reading = {
  task_type: 'perturbation_novel_cell_type',
  target_cell_type_id: 'CL:0002553',
  perturbation: 'TGF-beta1',
  dataset: 'openproblems',
  expected_pathways: ['HALLMARK_TGF_BETA_SIGNALING', 'HALLMARK_NOT_A_SET'],
  rationale: 'Lung fibroblasts under TGF-beta1, prompted from PBMCs.',
};

describe('the Claude query interpreter', () => {
  it('forces the structured_query tool and takes its validated answer, with the dataset that holds the condition', async () => {
    twin.script({ tools: [{ name: 'structured_query', input: reading }] });
    const structured = await interpreter.interpret('What would TGF-beta do to fibroblasts in the lung?');
    expect(structured).toMatchObject({
      interpreter: 'claude',
      target_cell_type: 'fibroblast of lung',
      perturbation: 'TGF-beta1',
      dataset: 'parse_pbmc',
      expected_pathways: ['HALLMARK_TGF_BETA_SIGNALING'],
    });
    expect(structured.expected_targets.length).toBeGreaterThan(0);
    const sent = twin.messageRequests().at(-1)!.body as unknown as {
      tool_choice: unknown;
      tools: { name: string }[];
    };
    expect(sent.tool_choice).toEqual({ type: 'tool', name: 'structured_query' });
    expect(sent.tools.map((t) => t.name)).toEqual(['structured_query']);
  });

  it('says what the question names that Claude’s reading leaves out, and keeps a comparison within one dataset', async () => {
    twin.script({
      tools: [
        {
          name: 'structured_query',
          input: {
            ...reading,
            task_type: 'perturbation_response',
            target_cell_type_id: 'CL:0001054',
            perturbation: 'IFN-gamma',
            dataset: 'parse_pbmc',
            rationale: 'CD14 monocytes under IFN-gamma.',
          },
        },
      ],
    });
    const dropped = await interpreter.interpret('How do CD14 monocytes respond to IFN-γ compared to IL-4?');
    expect(dropped).toMatchObject({
      interpreter: 'claude',
      perturbation: 'IFN-gamma',
      comparison_perturbation: null,
      not_used: [{ term: 'IL-4', reason: 'not used in this reading of the question' }],
    });

    twin.script({
      tools: [
        {
          name: 'structured_query',
          input: {
            ...reading,
            task_type: 'perturbation_response',
            target_cell_type_id: 'CL:0000623',
            perturbation: 'IL-15',
            comparison_perturbation: 'Dabrafenib',
            dataset: 'parse_pbmc',
            not_used: [{ term: 'B cells', reason: 'one cell type per question' }],
          },
        },
      ],
    });
    const across = await interpreter.interpret('NK cells and B cells under IL-15 versus Dabrafenib');
    expect(across).toMatchObject({ perturbation: 'IL-15', comparison_perturbation: null });
    expect(across.not_used).toEqual([
      { term: 'B cells', reason: 'one cell type per question' },
      { term: 'Dabrafenib', reason: expect.stringContaining('a comparison needs both in one dataset') },
    ]);
  });

  it('falls back to the rules, labelled, when Claude names something outside the vocabulary', async () => {
    twin.script({
      tools: [{ name: 'structured_query', input: { ...reading, target_cell_type_id: 'CL:9999999' } }],
    });
    const structured = await interpreter.interpret('How would lung fibroblasts respond to TGF-beta1?');
    expect(structured.interpreter).toBe('rules');
    expect(structured.target_cell_type_id).toBe('CL:0002553');
    expect(fallbacks.at(-1)).toMatch(/^Claude's reading did not validate: target_cell_type_id/);
  });

  it('falls back to the rules when Claude is unavailable', async () => {
    twin.failNext({ kind: 'status', status: 529 });
    const structured = await interpreter.interpret('How would NK cells respond to IL-15?');
    expect(structured).toMatchObject({ interpreter: 'rules', perturbation: 'IL-15' });
    expect(fallbacks.at(-1)).toMatch(/overloaded/);
  });
});
