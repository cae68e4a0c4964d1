import { describe, expect, it } from 'vitest';
import { dataLinesOf, encode, fixture, fixtureNames, relay, seededRandom, splitAt } from './test-support.js';

const { createSseParser } = relay;

function parse(chunks) {
  const out = [];
  const parser = createSseParser((text) => out.push(text));
  for (const chunk of chunks) parser.push(chunk);
  parser.end();
  return out;
}

const events = (texts) => texts.map((text) => JSON.parse(text).event);

// Hand-written expectations per fixture, independent of the parser.
const EXPECTED_EVENTS = {
  'advanced-chat.sse': ['workflow_started', 'node_started', 'message', 'message', 'node_finished', 'workflow_finished', 'message_end'],
  'agent-chat.sse': ['agent_thought', 'agent_message', 'agent_message', 'agent_thought', 'message_end'],
  'chat-compact.sse': ['message', 'message', 'message', 'message_end'],
  'chat-crlf.sse': ['message', 'message', 'message', 'message_end'],
  'chat-legacy.sse': ['message', 'message', 'message_end'],
  'completion-no-usage.sse': ['message', 'message', 'message_end'],
  'duplicate-message-end.sse': ['message', 'message_end', 'message_end'],
  'error-frame.sse': ['error'],
  'no-message-end.sse': ['message', 'message'],
  'workflow.sse': ['workflow_started', 'node_started', 'text_chunk', 'text_chunk', 'node_finished', 'workflow_finished'],
};

describe('createSseParser over recorded streams', () => {
  it('has an expectation for every fixture', () => {
    expect(fixtureNames).toEqual(Object.keys(EXPECTED_EVENTS).sort());
  });

  describe.each(fixtureNames)('%s', (name) => {
    const bytes = fixture(name);
    const whole = parse([bytes]);

    it('fed whole, yields every data line and nothing else', () => {
      expect(whole).toEqual(dataLinesOf(bytes));
      expect(events(whole)).toEqual(EXPECTED_EVENTS[name]);
    });

    it('split into two chunks at every byte boundary, yields the same', () => {
      for (let at = 0; at <= bytes.length; at++) {
        const got = parse(splitAt(bytes, [at]));
        if (JSON.stringify(got) !== JSON.stringify(whole)) expect.fail(`differs when split at byte ${at}`);
      }
    });

    it('fed byte by byte, yields the same', () => {
      const offsets = Array.from({ length: bytes.length - 1 }, (_, i) => i + 1);
      expect(parse(splitAt(bytes, offsets))).toEqual(whole);
    });

    it('cut into random partitions (fixed seed), yields the same', () => {
      const random = seededRandom(0x70cde5c);
      for (let round = 0; round < 50; round++) {
        const cuts = new Set();
        const count = 1 + Math.floor(random() * 12);
        for (let i = 0; i < count; i++) cuts.add(1 + Math.floor(random() * (bytes.length - 1)));
        const offsets = [...cuts].sort((a, b) => a - b);
        expect(parse(splitAt(bytes, offsets)), `cuts ${offsets}`).toEqual(whole);
      }
    });
  });

  it('keeps Chinese and 4-byte characters intact in compact frames', () => {
    const answers = parse([fixture('chat-compact.sse')]).map((text) => JSON.parse(text).answer);
    expect(answers.slice(0, 3).join('')).toBe('你好！我是公司的知识库助手🙂，有什么可以帮你？');
  });

  it('passes old-style frames through verbatim, spaces and \\u escapes included', () => {
    const texts = parse([fixture('chat-legacy.sse')]);
    expect(texts[0]).toContain('"event": "message"');
    expect(texts[0]).toContain('"answer": "\\u4f60\\u597d"');
    expect(texts.map((text) => JSON.parse(text).answer).slice(0, 2).join('')).toBe('你好，今天的天气不错 🙂');
  });

  it('yields the same texts for CRLF and LF line ends, without a trailing \\r', () => {
    const crlf = parse([fixture('chat-crlf.sse')]);
    expect(crlf).toEqual(parse([fixture('chat-compact.sse')]));
    expect(crlf.some((text) => text.includes('\r'))).toBe(false);
  });

  it('ignores pings, comments, blank lines and other fields', () => {
    const input = 'event: ping\n\n: keep-alive comment\nid: 7\nretry: 1000\nevent: message\ndata: {"a":1}\n\n\n';
    expect(parse([encode(input)])).toEqual(['{"a":1}']);
  });

  it('strips "data:" and at most one following space', () => {
    expect(parse([encode('data:{"a":1}\ndata:  {"b":2}\n')])).toEqual(['{"a":1}', ' {"b":2}']);
  });

  it('emits a final unterminated data line only on end()', () => {
    const out = [];
    const parser = createSseParser((text) => out.push(text));
    parser.push(encode('data: {"a":1}\n\ndata: {"b":'));
    parser.push(encode('2}'));
    expect(out).toEqual(['{"a":1}']);
    parser.end();
    expect(out).toEqual(['{"a":1}', '{"b":2}']);
  });
});
