/**
 * Replies to bytes, the way a module frames them (V.250 §5.7.1 and the samples of
 * at-commands.md §1.11):
 *
 *   ATV1:  \r\n<info 1>\r\n<info 2>\r\n   \r\nOK\r\n        (one info block per sub-command)
 *   ATV0:  <info 1>\r\n<info 2>\r\n       0\r                (numeric result codes)
 *   URC:   <eol><line><eol>              eol = \r\n, or \r\r\n on SIMCom SIM7xxx (§1.10)
 *   prompt: \r\n>␠                        (no line feed after it, §0 takeaway 1)
 *
 * Output is a list of segments so that faults (faults.ts) can put URCs or delays between them.
 */
import type { FinalCode, Reply } from './types.js';

export interface Segment {
  text: string;
  /** Nothing may be inserted after this segment (a +CMGL/+CMGR header is glued to its PDU line). */
  glued?: boolean;
  /** This segment is the final result code. */
  final?: boolean;
}

const NUMERIC: Record<string, string> = { OK: '0', CONNECT: '1', RING: '2', 'NO CARRIER': '3', ERROR: '4', 'NO DIALTONE': '6', BUSY: '7', 'NO ANSWER': '8' };

function finalText(f: FinalCode): string | undefined {
  switch (f.kind) {
    case 'ok': return 'OK';
    case 'error': return 'ERROR';
    case 'cme': return `+CME ERROR: ${f.code}`;
    case 'cms': return `+CMS ERROR: ${f.code}`;
    case 'text': return f.text;
    case 'none':
    case 'prompt':
      return undefined;
  }
}

/** True when a final result ends the command line (later sub-commands are not run). */
export function stopsLine(f: FinalCode): boolean {
  return f.kind !== 'ok' && f.kind !== 'none';
}

function isHeaderNeedingBody(line: string): boolean {
  return /^\+CMG[LR]:/.test(line);
}

export function renderReplies(replies: readonly Reply[], verbose: boolean, eol: string): Segment[] {
  const out: Segment[] = [];
  for (const r of replies) {
    r.lines.forEach((line, i) => {
      const lead = verbose && i === 0 ? eol : '';
      out.push({ text: `${lead}${line}${eol}`, glued: isHeaderNeedingBody(line) });
    });
  }
  const last = replies[replies.length - 1];
  if (!last) return out;
  if (last.final.kind === 'prompt') {
    out.push({ text: `${eol}> `, final: true });
    return out;
  }
  const text = finalText(last.final);
  if (text === undefined) return out;
  if (verbose) out.push({ text: `${eol}${text}${eol}`, final: true });
  else {
    const code = NUMERIC[text];
    // Extended errors stay textual under ATV0; basic result codes become digits + CR.
    out.push({ text: code !== undefined ? `${code}\r` : `${text}${eol}`, final: true });
  }
  return out;
}

export function renderUrc(lines: readonly string[], eol: string): string {
  return `${eol}${lines.join(eol)}${eol}`;
}
