// Why generation stopped, in each wire's vocabulary.

/**
 * OpenAI `finish_reason` → Anthropic `stop_reason`. A reply holding tool calls asks for their results
 * whatever the reason says: some servers finish tool calls with "stop", and an Anthropic client only
 * runs tools on `tool_use`.
 */
export function anthropicStopReason(finishReason: string | undefined, usedTools: boolean): string {
  if (usedTools && finishReason !== 'length' && finishReason !== 'content_filter') return 'tool_use';
  switch (finishReason) {
    case 'length':
      return 'max_tokens';
    case 'tool_calls':
    case 'function_call':
      return 'tool_use';
    case 'content_filter':
      return 'refusal';
    default:
      return 'end_turn';
  }
}

/** Anthropic `stop_reason` → OpenAI `finish_reason`. */
export function openAIFinishReason(stopReason: string | undefined): string {
  switch (stopReason) {
    case 'max_tokens':
    case 'model_context_window_exceeded':
      return 'length';
    case 'tool_use':
      return 'tool_calls';
    case 'refusal':
      return 'content_filter';
    default:
      // end_turn, stop_sequence, and pause_turn (a server-tool pause an OpenAI client cannot resume).
      return 'stop';
  }
}
