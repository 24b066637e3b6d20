/** A small parser for the TAP that pgTAP prints (plan line, ok / not ok lines, # diagnostics). */
export interface TapAssertion {
  number: number;
  ok: boolean;
  description: string;
  diagnostics: string;
}

export interface TapResult {
  planned: number;
  assertions: TapAssertion[];
}

export function parseTap(text: string): TapResult {
  const result: TapResult = { planned: -1, assertions: [] };
  let current: TapAssertion | undefined;
  for (const line of text.split('\n')) {
    const plan = /^1\.\.(\d+)/.exec(line);
    const test = /^(not )?ok (\d+)(?: - (.*))?/.exec(line);
    if (plan) {
      result.planned = Number(plan[1]);
    } else if (test) {
      current = { number: Number(test[2]), ok: !test[1], description: test[3] ?? '', diagnostics: '' };
      result.assertions.push(current);
    } else if (line.startsWith('#') && current) {
      current.diagnostics += line + '\n';
    }
  }
  return result;
}
