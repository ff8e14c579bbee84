// The adapter protocol (Node side), as adapters/_protocol.py states it: jobs on stdin, one JSON document out.
import { readFileSync } from 'node:fs';

export function outcome(text, { reasoning = null, toolCalls = null, usage = null } = {}) {
  return { ok: true, text, reasoning, tool_calls: toolCalls, usage };
}

export async function main(version, run) {
  const { jobs } = JSON.parse(readFileSync(0, 'utf8'));
  for (const job of jobs) {
    let result;
    try {
      result = await run(job);
    } catch (err) {
      const type = (err && err.constructor && err.constructor.name) || typeof err;
      const message = String((err && err.message) || err).slice(0, 2000);
      result = { ok: false, error: { type, message, where: String((err && err.stack) || '').slice(0, 1500) } };
    }
    process.stdout.write(JSON.stringify({ scenario: job.scenario, ...result }) + '\n');
  }
}
