// Drives the official `openai` Node SDK as its README shows: new OpenAI({ baseURL }), create, for await.
import OpenAI from 'openai';
import { VERSION } from 'openai/version';
import { main, outcome } from './_protocol.mjs';

const usageNumbers = (u) =>
  u ? { prompt_tokens: u.prompt_tokens ?? null, completion_tokens: u.completion_tokens ?? null, total_tokens: u.total_tokens ?? null } : null;

async function run(job) {
  const client = new OpenAI({ baseURL: job.base_url, apiKey: job.api_key, maxRetries: 0, timeout: job.timeout_s * 1000 });
  const req = job.request;
  if (job.scenario === 'completions') {
    const done = await client.completions.create(req);
    return outcome(done.choices[0].text, { usage: usageNumbers(done.usage) });
  }
  if (!req.stream) {
    const done = await client.chat.completions.create(req);
    const msg = done.choices[0].message;
    const toolCalls = (msg.tool_calls || []).map((c) => ({ name: c.function.name, arguments: JSON.parse(c.function.arguments) }));
    return outcome(msg.content, { reasoning: msg.reasoning_content ?? '', toolCalls, usage: usageNumbers(done.usage) });
  }
  let text = '';
  let reasoning = '';
  let usage = null;
  const calls = new Map();
  const stream = await client.chat.completions.create(req);
  for await (const chunk of stream) {
    if (chunk.usage) usage = usageNumbers(chunk.usage);
    if (!chunk.choices.length && req.stream_options?.include_usage) continue; // the documented usage chunk
    const delta = chunk.choices[0].delta;
    text += delta.content ?? '';
    reasoning += delta.reasoning_content ?? '';
    for (const tc of delta.tool_calls ?? []) {
      if (!calls.has(tc.index)) calls.set(tc.index, { name: '', arguments: '' });
      const call = calls.get(tc.index);
      call.name += tc.function?.name ?? '';
      call.arguments += tc.function?.arguments ?? '';
    }
  }
  const toolCalls = [...calls.keys()].sort((a, b) => a - b).map((k) => calls.get(k))
    .map((c) => ({ name: c.name, arguments: JSON.parse(c.arguments) }));
  return outcome(text, { reasoning, toolCalls, usage });
}

await main(VERSION, run);
