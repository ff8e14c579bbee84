// Drives the Vercel AI SDK with @ai-sdk/openai-compatible as its docs show: createOpenAICompatible,
// generateText and streamText (errors of a stream surface through onError, so they are kept and raised).
import { createOpenAICompatible } from '@ai-sdk/openai-compatible';
import { generateText, jsonSchema, streamText, tool } from 'ai';
import { main, outcome } from './_protocol.mjs';

const usageNumbers = (u) =>
  u ? { prompt_tokens: u.inputTokens ?? null, completion_tokens: u.outputTokens ?? null, total_tokens: u.totalTokens ?? null } : null;

function callArgs(job) {
  const req = job.request;
  const includeUsage = Boolean(req.stream_options?.include_usage);
  const provider = createOpenAICompatible({ name: 'maascheck', baseURL: job.base_url, apiKey: job.api_key, includeUsage });
  const args = { maxRetries: 0, abortSignal: AbortSignal.timeout(job.timeout_s * 1000), maxOutputTokens: req.max_tokens };
  if (job.scenario === 'completions') return { ...args, model: provider.completionModel(req.model), prompt: req.prompt };
  args.model = provider.chatModel(req.model);
  args.messages = req.messages;
  if (req.tools) {
    args.tools = Object.fromEntries(
      req.tools.map((t) => [t.function.name, tool({ description: t.function.description, inputSchema: jsonSchema(t.function.parameters) })]),
    );
    args.toolChoice = { type: 'tool', toolName: req.tool_choice.function.name };
  }
  return args;
}

const toolCallsOf = (calls) => (calls || []).map((c) => ({ name: c.toolName, arguments: c.input }));

async function run(job) {
  const args = callArgs(job);
  if (!job.request.stream) {
    const r = await generateText(args);
    return outcome(r.text, { reasoning: r.reasoningText ?? '', toolCalls: toolCallsOf(r.toolCalls), usage: usageNumbers(r.usage) });
  }
  let failure = null;
  const r = streamText({ ...args, onError: ({ error }) => { failure = failure ?? error; } });
  for await (const part of r.fullStream) {
    if (part.type === 'error') failure = failure ?? part.error;
  }
  if (failure) throw failure;
  const [text, reasoning, toolCalls, usage] = await Promise.all([r.text, r.reasoningText, r.toolCalls, r.usage]);
  return outcome(text, { reasoning: reasoning ?? '', toolCalls: toolCallsOf(toolCalls), usage: usageNumbers(usage) });
}

await main('see installed.json', run);
