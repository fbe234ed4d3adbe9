// Bedrock's JSON answers to CountTokens and ListFoundationModels, rewritten into the shapes
// Anthropic's `/v1/messages/count_tokens` and `/v1/models` return.
import * as z from 'zod';

const countTokensAnswer = z.object({ inputTokens: z.number().int().nonnegative() });

const foundationModels = z.object({
  modelSummaries: z.array(
    z.object({
      modelId: z.string(),
      modelName: z.string().optional(),
      inferenceTypesSupported: z.array(z.string()).optional(),
    }),
  ),
});

export function anthropicTokenCount(json: unknown): unknown {
  const parsed = countTokensAnswer.safeParse(json);
  return parsed.success ? { input_tokens: parsed.data.inputTokens } : null;
}

export function anthropicModelList(json: unknown): unknown {
  const parsed = foundationModels.safeParse(json);
  if (!parsed.success) return null;
  const data = parsed.data.modelSummaries
    // Context-window variants (`…-v1:0:200k`) serve only provisioned throughput: not callable here.
    .filter((m) => !m.inferenceTypesSupported || m.inferenceTypesSupported.some((t) => t !== 'PROVISIONED'))
    .map((m) => ({
      type: 'model',
      id: m.modelId,
      display_name: m.modelName ?? m.modelId,
      created_at: releaseDate(m.modelId),
    }));
  return { data, has_more: false, first_id: data[0]?.id ?? null, last_id: data.at(-1)?.id ?? null };
}

/** Bedrock lists no dates; Claude ids embed their snapshot date (`claude-3-5-sonnet-20240620`). */
function releaseDate(modelId: string): string {
  const match = /-(\d{4})(\d{2})(\d{2})-/.exec(modelId);
  return match ? `${match[1]}-${match[2]}-${match[3]}T00:00:00Z` : '1970-01-01T00:00:00Z';
}
