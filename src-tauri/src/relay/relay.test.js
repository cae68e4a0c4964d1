import { readFileSync } from 'node:fs';
import vm from 'node:vm';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { dataLinesOf, encode, fixture, fixtureNames, readBytes, relay, settle, sseResponse } from './test-support.js';

const { install } = relay;

const ORIGIN = 'https://dify.example.com';
const PAGE = `${ORIGIN}/chat/AbC123`;
const CHAT_URL = `${ORIGIN}/api/chat-messages`;

function defaultReply(cmd) {
  switch (cmd) {
    case 'check_send':
      return { allowed: true };
    case 'relay_status':
      return { balance: '100', monitor: 'monitoring' };
    case 'report_usage':
      return { outcome: 'charged', amount: '1.5', balance: '98.5' };
    default:
      return {};
  }
}

// A fake page window around a mocked original fetch and a mocked Tauri invoke, with the relay installed.
// A page's localStorage, kept in memory.
function memoryStorage() {
  const items = new Map();
  return {
    getItem: (key) => (items.has(key) ? items.get(key) : null),
    setItem: (key, value) => items.set(key, String(value)),
    removeItem: (key) => items.delete(key),
  };
}

function setup({ fetch, invoke, href = PAGE, language = 'en-US', ...extra } = {}) {
  const originalFetch = vi.fn(fetch ?? (async () => new Response('{}')));
  const invokeMock = vi.fn(invoke ?? (async (cmd) => defaultReply(cmd)));
  const win = { fetch: originalFetch, location: { href }, navigator: { language }, __TAURI_INTERNALS__: { invoke: invokeMock }, ...extra };
  const installed = install(win);
  return {
    win,
    installed,
    originalFetch,
    invoke: invokeMock,
    commands: () => invokeMock.mock.calls.map(([cmd]) => cmd),
    calls: (cmd) => invokeMock.mock.calls.filter(([name]) => name === cmd).map(([, args]) => args),
  };
}

const chatBody = (query) => JSON.stringify({ inputs: {}, query, conversation_id: '', response_mode: 'streaming', files: [] });
const post = (body) => ({ method: 'POST', headers: { 'Content-Type': 'application/json' }, body });

// Sends a request through the wrapped fetch and reads the page's response to the end, as Dify does.
async function send(env, url, init) {
  const response = await env.win.fetch(url, init);
  const bytes = await readBytes(response);
  await settle();
  return { response, bytes };
}

const messageEndsOf = (bytes) => dataLinesOf(bytes).filter((text) => JSON.parse(text).event === 'message_end');

beforeEach(() => {
  vi.spyOn(console, 'debug').mockImplementation(() => {});
});

afterEach(() => {
  vi.restoreAllMocks();
  vi.useRealTimers();
});

describe('streaming replies', () => {
  it.each(fixtureNames)('%s: the page gets the original Response with identical bytes', async (name) => {
    const bytes = fixture(name);
    const env = setup({ fetch: async () => sseResponse(bytes) });
    const { response, bytes: seen } = await send(env, CHAT_URL, post(chatBody('你好')));
    expect(response).toBe(await env.originalFetch.mock.results[0].value);
    expect(seen).toEqual(bytes);
  });

  it.each(['advanced-chat.sse', 'agent-chat.sse', 'chat-compact.sse', 'chat-crlf.sse', 'chat-legacy.sse', 'duplicate-message-end.sse'])(
    '%s: each message_end frame reaches report_usage verbatim',
    async (name) => {
      const bytes = fixture(name);
      const env = setup({ fetch: async () => sseResponse(bytes) });
      await send(env, CHAT_URL, post(chatBody('你好')));
      expect(env.calls('report_usage')).toEqual(messageEndsOf(bytes).map((frame) => ({ frame })));
      expect(env.calls('report_incomplete')).toEqual([]);
    },
  );

  it('sends a 200 KB RAG message_end with its ids and usage only, under Rust\'s limit', async () => {
    const usage = { prompt_tokens: 1200, completion_tokens: 80, total_tokens: 1280, total_price: '0.0012', currency: 'USD', latency: 1.5 };
    const passage = '检索到的段落'.repeat(12_000);
    const end = {
      event: 'message_end',
      task_id: 't1',
      id: 'm-rag',
      message_id: 'm-rag',
      conversation_id: 'c1',
      metadata: { usage, retriever_resources: [{ position: 1, content: passage }] },
    };
    const text = `data: ${JSON.stringify(end)}\n\n`;
    expect(encode(text).length).toBeGreaterThan(200_000);
    const env = setup({ fetch: async () => sseResponse(encode(text)) });
    await send(env, CHAT_URL, post(chatBody('RAG')));
    const [{ frame }] = env.calls('report_usage');
    expect(encode(frame).length).toBeLessThan(64 * 1024);
    expect(JSON.parse(frame)).toEqual({ event: 'message_end', task_id: 't1', id: 'm-rag', message_id: 'm-rag', conversation_id: 'c1', metadata: { usage } });
    expect(env.calls('report_incomplete')).toEqual([]);
  });

  it('forwards a repeated message_end twice (duplicates are for Rust to judge)', async () => {
    const bytes = fixture('duplicate-message-end.sse');
    const env = setup({ fetch: async () => sseResponse(bytes) });
    await send(env, CHAT_URL, post(chatBody('好')));
    const frames = env.calls('report_usage').map(({ frame }) => frame);
    expect(frames).toHaveLength(2);
    expect(frames[0]).toBe(frames[1]);
  });

  it('passes the old-style frame text unchanged, spaces and escapes included', async () => {
    const env = setup({ fetch: async () => sseResponse(fixture('chat-legacy.sse')) });
    await send(env, CHAT_URL, post(chatBody('天气')));
    const [{ frame }] = env.calls('report_usage');
    expect(frame.startsWith('{"event": "message_end", "task_id": ')).toBe(true);
    expect(frame.endsWith('"latency": 1.3810422}}}')).toBe(true);
  });

  it('delivers the first chunk while the reply is still streaming', async () => {
    let source;
    const body = new ReadableStream({ start: (controller) => (source = controller) });
    const env = setup({ fetch: async () => new Response(body) });
    const response = await env.win.fetch(CHAT_URL, post(chatBody('hi')));
    const first = encode('data: {"event":"message","answer":"嗨"}\n\n');
    source.enqueue(first);
    const { value } = await response.body.getReader().read();
    expect(value).toEqual(first);
    source.close();
  });

  it('reports the answer so far when the page aborts the reply', async () => {
    let source;
    const body = new ReadableStream({ start: (controller) => (source = controller) });
    const env = setup({ fetch: async () => new Response(body) });
    const response = await env.win.fetch(CHAT_URL, post(chatBody('讲个故事')));
    const reader = response.body.getReader();
    source.enqueue(encode('data: {"event":"message","conversation_id":"c-1","message_id":"m-1","task_id":"t-1","answer":"从前"}\n\n'));
    await reader.read();
    source.error(new DOMException('The user aborted a request.', 'AbortError'));
    await expect(reader.read()).rejects.toThrow('aborted');
    await settle();
    expect(env.calls('report_incomplete')).toEqual([
      {
        report: {
          message_id: 'm-1',
          conversation_id: 'c-1',
          task_id: 't-1',
          workflow_run_id: null,
          endpoint: 'chat-messages',
          query: '讲个故事',
          answer: '从前',
          reason: 'no_message_end',
        },
      },
    ]);
  });

  it('reports a reply without message_end once, with the query and the whole answer', async () => {
    const env = setup({ fetch: async () => sseResponse(fixture('no-message-end.sse')) });
    await send(env, CHAT_URL, post(chatBody('怎么打开设置？')));
    expect(env.calls('report_usage')).toEqual([]);
    expect(env.calls('report_incomplete')).toEqual([
      {
        report: {
          message_id: '2c3d4e5f-6a7b-4c8d-9e0f-1a2b3c4d5e6f',
          conversation_id: '9b0c1d2e-3f4a-4b5c-8d6e-7f8a9b0c1d2e',
          task_id: '7e8f9a0b-1c2d-4e3f-a4b5-c6d7e8f9a0b1',
          workflow_run_id: null,
          endpoint: 'chat-messages',
          query: '怎么打开设置？',
          answer: '第一步，打开设置页面；',
          reason: 'no_message_end',
        },
      },
    ]);
  });

  it('collects agent_message pieces when an agent reply is cut short', async () => {
    const [end] = messageEndsOf(fixture('agent-chat.sse'));
    const text = new TextDecoder().decode(fixture('agent-chat.sse'));
    const cut = encode(text.slice(0, text.indexOf(`data: ${end}`)));
    const env = setup({ fetch: async () => sseResponse(cut) });
    await send(env, CHAT_URL, post(chatBody('北京明天天气？')));
    expect(env.calls('report_incomplete').map(({ report }) => report.answer)).toEqual(['根据查询结果，北京明天晴，最高 21°C。']);
  });

  it('reports a message_end without usage as incomplete, with the inputs as query', async () => {
    const env = setup({ fetch: async () => sseResponse(fixture('completion-no-usage.sse')) });
    const body = JSON.stringify({ inputs: { customer: '张三', topic: '退款' }, query: '', response_mode: 'streaming' });
    await send(env, `${ORIGIN}/api/completion-messages`, post(body));
    expect(env.calls('report_usage')).toEqual([]);
    expect(env.calls('report_incomplete')).toEqual([
      {
        report: {
          message_id: 'f6a7b8c9-d0e1-4f2a-93b4-c5d6e7f8a9b0',
          conversation_id: null,
          task_id: 'c3d4e5f6-a7b8-4c9d-8e0f-1a2b3c4d5e6f',
          workflow_run_id: null,
          endpoint: 'completion-messages',
          query: '{"customer":"张三","topic":"退款"}',
          answer: '尊敬的客户：感谢您的来信。',
          reason: 'no_usage',
        },
      },
    ]);
  });

  it('reports a workflow run from its text_chunk frames', async () => {
    const env = setup({ fetch: async () => sseResponse(fixture('workflow.sse')) });
    await send(env, `${ORIGIN}/api/workflows/run`, post(JSON.stringify({ inputs: { topic: '春天' }, response_mode: 'streaming', files: [] })));
    expect(env.calls('check_send')).toEqual([{ endpoint: 'workflows/run', query: '{"topic":"春天"}' }]);
    expect(env.calls('report_incomplete')).toEqual([
      {
        report: {
          message_id: null,
          conversation_id: null,
          task_id: 'b2c3d4e5-f6a7-4b8c-9d0e-1f2a3b4c5d6e',
          workflow_run_id: '5f6a7b8c-9d0e-4f1a-b2c3-d4e5f6a7b8c9',
          endpoint: 'workflows/run',
          query: '{"topic":"春天"}',
          answer: '春眠不觉晓，处处闻啼鸟。',
          total_tokens: 57,
          reason: 'no_message_end',
        },
      },
    ]);
  });

  it('reports a workflow run that streamed no text by its total tokens, under its run id', async () => {
    const finished = { event: 'workflow_finished', task_id: 't-wf', workflow_run_id: 'run-1', data: { id: 'run-1', status: 'succeeded', outputs: { result: 42 }, total_tokens: 1234 } };
    const env = setup({ fetch: async () => sseResponse(encode(`data: ${JSON.stringify(finished)}\n\n`)) });
    await send(env, `${ORIGIN}/api/workflows/run`, post(JSON.stringify({ inputs: {}, response_mode: 'streaming' })));
    // Keyed by the run, as Dify's own records of workflow runs are.
    expect(env.calls('report_incomplete').map(({ report }) => [report.task_id, report.workflow_run_id, report.total_tokens, report.answer])).toEqual([['t-wf', 'run-1', 1234, '']]);
  });

  it('reports nothing for an immediate error frame', async () => {
    const env = setup({ fetch: async () => sseResponse(fixture('error-frame.sse')) });
    await send(env, CHAT_URL, post(chatBody('hi')));
    expect(env.commands()).toEqual(['relay_status', 'check_send']);
  });

  it('skips a frame that is not JSON and still reads the frames after it', async () => {
    const [end] = messageEndsOf(fixture('chat-compact.sse'));
    const stream = encode(`data: {"event":"message","answer":"半\n\ndata: {"event":"message","answer":"好"}\n\ndata: ${end}\n\n`);
    const env = setup({ fetch: async () => sseResponse(stream) });
    await send(env, CHAT_URL, post(chatBody('hi')));
    expect(env.calls('report_usage')).toEqual([{ frame: end }]);
  });

  it('uses the replaced answer after message_replace', async () => {
    const stream = encode(
      'data: {"event":"message","message_id":"m-2","answer":"某些内容"}\n\n' +
        'data: {"event":"message_replace","message_id":"m-2","answer":"抱歉，无法回答。"}\n\n',
    );
    const env = setup({ fetch: async () => sseResponse(stream) });
    await send(env, CHAT_URL, post(chatBody('问题')));
    expect(env.calls('report_incomplete').map(({ report }) => report.answer)).toEqual(['抱歉，无法回答。']);
  });

  it('reads the query from a Request object and leaves its body to the real fetch', async () => {
    let forwardedBody;
    const env = setup({
      fetch: async (request) => {
        forwardedBody = await request.text();
        return sseResponse(fixture('no-message-end.sse'));
      },
    });
    const request = new Request(CHAT_URL, post(chatBody('来自 Request 的问题')));
    await send(env, request);
    expect(env.originalFetch.mock.calls[0][0]).toBe(request);
    expect(forwardedBody).toBe(chatBody('来自 Request 的问题'));
    expect(env.calls('report_incomplete')[0].report.query).toBe('来自 Request 的问题');
  });

  it('treats a relative streaming URL like an absolute one', async () => {
    const env = setup({ fetch: async () => sseResponse(fixture('chat-compact.sse')) });
    await send(env, '/api/chat-messages', post(chatBody('hi')));
    expect(env.calls('report_usage')).toHaveLength(1);
  });

  it('relays a workflow reconnect without the gate, replayed message_end included', async () => {
    const env = setup({ fetch: async () => sseResponse(fixture('chat-compact.sse')) });
    await send(env, `${ORIGIN}/api/workflow/d4e5f6a7/events?include_state_snapshot=true`);
    expect(env.calls('check_send')).toEqual([]);
    expect(env.calls('report_usage')).toEqual(messageEndsOf(fixture('chat-compact.sse')).map((frame) => ({ frame })));
  });

  it('labels an incomplete reconnect stream with its own endpoint and an empty query', async () => {
    const env = setup({ fetch: async () => sseResponse(fixture('no-message-end.sse')) });
    await send(env, `${ORIGIN}/api/workflow/d4e5f6a7/events`);
    expect(env.calls('report_incomplete').map(({ report }) => [report.endpoint, report.query])).toEqual([['workflow/events', '']]);
  });

  it.each([
    ['a 400 JSON error', 400, JSON.stringify({ code: 'invalid_param', message: 'Query is required', status: 400 })],
    ['a 502 whose body looks like SSE', 502, new TextDecoder().decode(fixture('chat-compact.sse'))],
  ])('returns %s untouched and reports nothing', async (_, status, body) => {
    const failed = new Response(body, { status, headers: { 'Content-Type': 'application/json' } });
    const env = setup({ fetch: async () => failed });
    const response = await env.win.fetch(CHAT_URL, post(chatBody('')));
    expect(response).toBe(failed);
    expect(response.bodyUsed).toBe(false);
    await settle();
    expect(env.commands()).toEqual(['relay_status', 'check_send']);
  });
});

describe('pre-send gate', () => {
  it.each([
    ['/api/chat-messages', 'chat-messages'],
    ['/api/completion-messages', 'completion-messages'],
    ['/api/workflows/run', 'workflows/run'],
  ])('refuses %s without calling Dify, in a shape Dify shows as a toast', async (path, endpoint) => {
    const verdict = { allowed: false, status: 402, code: 'insufficient_credits', message: '积分不足，请联系管理员充值。' };
    const env = setup({ invoke: async (cmd) => (cmd === 'check_send' ? verdict : defaultReply(cmd)) });
    const response = await env.win.fetch(`${ORIGIN}${path}`, post(chatBody('hi')));
    expect(env.calls('check_send')).toEqual([{ endpoint, query: 'hi' }]);
    expect(env.originalFetch).not.toHaveBeenCalled();
    expect(response.status).toBe(402);
    expect(response.headers.get('Content-Type')).toBe('application/json');
    expect(await response.json()).toEqual({ code: 'insufficient_credits', message: '积分不足，请联系管理员充值。', status: 402 });
  });

  it.each([
    ['zh-CN', '积分不足'],
    ['en-US', 'not enough credits'],
  ])('falls back to a built-in %s message and status 402', async (language, words) => {
    const env = setup({ language, invoke: async (cmd) => (cmd === 'check_send' ? { allowed: false } : defaultReply(cmd)) });
    const response = await env.win.fetch(CHAT_URL, post(chatBody('hi')));
    expect(response.status).toBe(402);
    const body = await response.json();
    expect(body.message).toContain(words);
    expect(body.code).toBe('send_blocked');
  });

  it('keeps Rust\'s own error status', async () => {
    const env = setup({ invoke: async (cmd) => (cmd === 'check_send' ? { allowed: false, status: 429, code: 'budget_exhausted', message: 'x' } : defaultReply(cmd)) });
    const response = await env.win.fetch(CHAT_URL, post(chatBody('hi')));
    expect(response.status).toBe(429);
  });

  const UNCHECKABLE = [
    ['rejects', () => Promise.reject(new Error('check_send not allowed on window "chat"'))],
    ['throws synchronously', () => {
      throw new Error('IPC gone');
    }],
    ['answers nothing useful', () => Promise.resolve(null)],
    ['answers without a verdict', () => Promise.resolve({ allowed: 'yes' })],
    ['answers with a broken object', () => Promise.resolve({
      get allowed() {
        throw new Error('broken verdict');
      },
    })],
  ];
  // Rust's policy for sends the gate cannot check, as relay_status gives it.
  const withPolicy = (whenUnchecked, checkSend) => (cmd, args) => {
    if (cmd === 'relay_status') return Promise.resolve({ ...defaultReply(cmd), when_unchecked: whenUnchecked });
    if (cmd === 'check_send') return checkSend(args);
    return Promise.resolve(defaultReply(cmd));
  };

  it.each(UNCHECKABLE)('lets the send through and reports it when check_send %s and the policy allows it', async (_, checkSend) => {
    const bytes = fixture('chat-compact.sse');
    const env = setup({ fetch: async () => sseResponse(bytes), invoke: withPolicy('allow', checkSend) });
    await settle();
    const init = post(chatBody('hi'));
    const { bytes: seen } = await send(env, CHAT_URL, init);
    expect(env.originalFetch).toHaveBeenCalledTimes(1);
    expect(env.originalFetch.mock.calls[0][1]).toBe(init);
    expect(seen).toEqual(bytes);
    expect(env.calls('report_unchecked_send')).toEqual([{ endpoint: 'chat-messages', reason: 'failed' }]);
  });

  it('names the send Rust let through in each report of its reply, whatever the page does meanwhile', async () => {
    const bytes = fixture('duplicate-message-end.sse');
    const env = setup({
      fetch: async () => sseResponse(bytes),
      invoke: async (cmd) => (cmd === 'check_send' ? { allowed: true, send_id: 'send-1', when_unchecked: 'block' } : defaultReply(cmd)),
    });
    await send(env, CHAT_URL, post(chatBody('hi')));
    expect(env.calls('report_usage')).toEqual(messageEndsOf(bytes).map((frame) => ({ frame, sendId: 'send-1' })));
  });

  it.each([
    ['answers an error', async () => new Response('{"code":"provider_quota_exceeded"}', { status: 400 })],
    ['fails to connect', async () => {
      throw new TypeError('Load failed');
    }],
  ])('tells Rust a let-through send spent nothing when Dify %s', async (_, fetch) => {
    const env = setup({ fetch, invoke: async (cmd) => (cmd === 'check_send' ? { allowed: true, send_id: 'send-3' } : defaultReply(cmd)) });
    await env.win.fetch(CHAT_URL, post(chatBody('hi'))).catch(() => {});
    await settle();
    expect(env.calls('report_send_failed')).toEqual([{ sendId: 'send-3' }]);
    expect(env.calls('report_usage')).toEqual([]);
  });

  it('names the send in the report of a reply without usage too', async () => {
    const env = setup({
      fetch: async () => sseResponse(fixture('no-message-end.sse')),
      invoke: async (cmd) => (cmd === 'check_send' ? { allowed: true, send_id: 'send-2' } : defaultReply(cmd)),
    });
    await send(env, CHAT_URL, post(chatBody('hi')));
    expect(env.calls('report_incomplete').map((args) => args.sendId)).toEqual(['send-2']);
  });

  it.each(UNCHECKABLE)('refuses the send when check_send %s and the policy blocks it', async (_, checkSend) => {
    const env = setup({ language: 'zh-CN', invoke: withPolicy('block', checkSend) });
    await settle();
    const response = await env.win.fetch(CHAT_URL, post(chatBody('hi')));
    expect(env.originalFetch).not.toHaveBeenCalled();
    expect(response.status).toBe(503);
    expect(await response.json()).toEqual({ code: 'send_unchecked', message: 'TokenDesk 暂时无法检查本次发送，消息未发出。请稍后重试。', status: 503 });
    expect(env.calls('report_unchecked_send')).toEqual([]);
  });

  it('blocks what it cannot check until Rust has named a policy', async () => {
    const env = setup({ invoke: () => Promise.reject(new Error('TokenDesk is down')) });
    await settle();
    const response = await env.win.fetch(CHAT_URL, post(chatBody('hi')));
    expect(env.originalFetch).not.toHaveBeenCalled();
    expect(response.status).toBe(503);
    expect((await response.json()).message).toContain('could not check this send');
  });

  it('follows the policy of the latest answer', async () => {
    let verdict = { allowed: true, when_unchecked: 'block' };
    const env = setup({
      fetch: async () => sseResponse(fixture('chat-compact.sse')),
      invoke: withPolicy('allow', () => (verdict ? Promise.resolve(verdict) : Promise.reject(new Error('gone')))),
    });
    await settle();
    await send(env, CHAT_URL, post(chatBody('first')));
    verdict = null;
    const response = await env.win.fetch(CHAT_URL, post(chatBody('second')));
    expect(response.status).toBe(503);
    expect(env.originalFetch).toHaveBeenCalledTimes(1);
  });

  it.each([
    ['allow', 200],
    ['block', 503],
  ])('after ten seconds without an answer, an unchecked send follows the policy (%s)', async (whenUnchecked, status) => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout'] });
    const env = setup({
      fetch: async () => sseResponse(fixture('chat-compact.sse')),
      invoke: withPolicy(whenUnchecked, () => new Promise(() => {})),
    });
    await vi.advanceTimersByTimeAsync(0);
    const pending = env.win.fetch(CHAT_URL, post(chatBody('hi')));
    await vi.advanceTimersByTimeAsync(9000);
    expect(env.originalFetch).not.toHaveBeenCalled();
    await vi.advanceTimersByTimeAsync(1000);
    expect((await pending).status).toBe(status);
    expect(env.originalFetch).toHaveBeenCalledTimes(status === 200 ? 1 : 0);
    expect(env.calls('report_unchecked_send')).toEqual(status === 200 ? [{ endpoint: 'chat-messages', reason: 'no_answer' }] : []);
  });
});

describe("usage from Dify's own message record", () => {
  const STOPPED = encode('data: {"event":"message","conversation_id":"c-1","message_id":"m-1","task_id":"t-1","answer":"从前"}\n\n');
  const record = (fields) => ({ id: 'm-1', conversation_id: 'c-1', query: 'q', answer: '从前', status: 'normal', ...fields });
  const list = (...items) => new Response(JSON.stringify({ limit: 20, has_more: false, data: [record({ id: 'm-0' }), ...items] }));

  // The chat's send streams `reply`; each read of /api/messages takes the next of `records` (the last
  // one repeats).
  function withRecords(records, reply = STOPPED, extra = {}) {
    const reads = [];
    const env = setup({
      ...extra,
      fetch: async (input, init) => {
        if (String(input).includes('/api/messages')) {
          reads.push({ url: String(input), init });
          return records[Math.min(reads.length, records.length) - 1]();
        }
        return sseResponse(reply);
      },
    });
    return { ...env, reads };
  }
  const headers = { 'Content-Type': 'application/json', Authorization: 'Bearer passport-1', 'X-App-Code': 'AbC123' };
  const send = (env) => env.win.fetch(CHAT_URL, { method: 'POST', headers, body: chatBody('讲个故事') }).then(readBytes);
  const reported = async (env, cmd, count = 1) => {
    for (let i = 0; i < 200 && env.calls(cmd).length < count; i++) await new Promise((resolve) => setTimeout(resolve, 10));
    return env.calls(cmd);
  };

  it("charges a stopped reply at its record's usage once Dify fills it in, read as the page reads it", async () => {
    const usage = { prompt_tokens: 812, completion_tokens: 64, total_tokens: 876, total_price: '0.000940', currency: 'USD', latency: 2.1 };
    const env = withRecords([() => list(record({ metadata: {} })), () => list(record({ metadata: { usage } }))]);
    await send(env);
    const [{ frame }] = await reported(env, 'report_usage');
    expect(JSON.parse(frame)).toEqual({
      event: 'message_end',
      id: 'm-1',
      message_id: 'm-1',
      conversation_id: 'c-1',
      metadata: { usage: { prompt_tokens: 812, completion_tokens: 64, total_tokens: 876, total_price: '0.000940', currency: 'USD' } },
    });
    expect(env.calls('report_incomplete')).toEqual([]);
    expect(env.reads).toHaveLength(2);
    const { url, init } = env.reads[0];
    expect(url).toBe(`${ORIGIN}/api/messages?conversation_id=c-1&limit=20`);
    expect(init.credentials).toBe('include');
    expect(Object.fromEntries(init.headers)).toEqual({ authorization: 'Bearer passport-1', 'x-app-code': 'AbC123' });
  });

  it("reads a newer Dify's message_tokens and answer_tokens when the metadata has no usage", async () => {
    const env = withRecords([() => list(record({ message_tokens: 40, answer_tokens: 7, total_price: 0.0001, currency: 'USD', metadata: {} }))]);
    await send(env);
    const [{ frame }] = await reported(env, 'report_usage');
    expect(JSON.parse(frame).metadata.usage).toEqual({ prompt_tokens: 40, completion_tokens: 7, total_tokens: 47, total_price: '0.0001', currency: 'USD' });
  });

  it('estimates at once when Dify keeps no list for the app', async () => {
    const env = withRecords([() => new Response('{"code":"not_chat_app"}', { status: 404 })]);
    await send(env);
    const [{ report }] = await reported(env, 'report_incomplete');
    expect(report).toMatchObject({ message_id: 'm-1', conversation_id: 'c-1', answer: '从前', reason: 'no_message_end' });
    expect(env.reads).toHaveLength(1);
    expect(env.calls('report_usage')).toEqual([]);
  });

  it('estimates while the record stays empty, then trues the estimate up when it is filled in', async () => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout'] });
    let filled = false;
    const env = withRecords([() => list(record(filled ? { message_tokens: 30, answer_tokens: 9 } : { message_tokens: 0, answer_tokens: 0 }))]);
    const sending = send(env);
    await vi.advanceTimersByTimeAsync(12_000);
    await sending;
    expect(env.calls('report_incomplete')).toHaveLength(1);
    expect(env.calls('report_usage')).toEqual([]);
    filled = true;
    await vi.advanceTimersByTimeAsync(15_000);
    expect(env.calls('report_usage').map(({ frame }) => JSON.parse(frame).metadata.usage.total_tokens)).toEqual([39]);
  });

  it('takes a read of the list that never answers as "not yet", and estimates when none answers', async () => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout'] });
    const env = withRecords([() => new Promise(() => {})]);
    const sending = send(env);
    await vi.advanceTimersByTimeAsync(6 * 3000 + 12_000);
    await sending;
    expect(env.reads).toHaveLength(6);
    expect(env.calls('report_incomplete')).toHaveLength(1);
  });

  it('reports the estimate at once when the page goes away while it waits for the record', async () => {
    const listeners = {};
    const env = withRecords([() => list(record({ message_tokens: 0, answer_tokens: 0 }))], STOPPED, {
      addEventListener: (type, listener) => (listeners[type] = listener),
    });
    await send(env);
    expect(env.calls('report_incomplete')).toEqual([]);
    listeners.pagehide();
    await settle();
    expect(env.calls('report_incomplete')).toHaveLength(1);
  });

  it.each([
    ['a completion app', `${ORIGIN}/api/completion-messages`],
    ['a workflow app', `${ORIGIN}/api/workflows/run`],
  ])('reads no record for %s, which keeps no message list', async (_, url) => {
    const env = withRecords([() => list()]);
    await readBytes(await env.win.fetch(url, post(chatBody('hi'))));
    await reported(env, 'report_incomplete');
    expect(env.reads).toEqual([]);
  });
});

describe('answers Rust could not have sent', () => {
  it('never lets an answer that throws when read reject a call or reach the page', async () => {
    const hostile = { get version() { throw new Error('getter'); }, get language() { throw new Error('getter'); } };
    const env = setup({
      fetch: async () => sseResponse(fixture('chat-compact.sse')),
      invoke: async (cmd) => (cmd === 'report_usage' ? hostile : defaultReply(cmd)),
    });
    const { bytes } = await send(env, CHAT_URL, post(chatBody('hi')));
    expect(bytes).toEqual(fixture('chat-compact.sse'));
    expect(env.calls('report_usage')).toHaveLength(1);
  });
});

describe('links the user clicks', () => {
  function withListeners() {
    const listeners = {};
    const env = setup({ addEventListener: (type, listener) => (listeners[type] = listener) });
    return { ...env, listeners };
  }
  const linkClick = (isTrusted, href) => ({ isTrusted, target: { closest: (selector) => (selector === 'a[href]' && href ? { href } : null) } });

  it("tells Rust of a user's click on a link, with the link's full address", async () => {
    const env = withListeners();
    env.listeners.click(linkClick(true, 'https://docs.example.com/guide'));
    await settle();
    expect(env.calls('report_link_click')).toEqual([{ href: 'https://docs.example.com/guide' }]);
  });

  it.each([
    ['a page script made the click', linkClick(false, 'https://ads.example.com/')],
    ['the click was on no link', linkClick(true, null)],
    ['the event is broken', { get isTrusted() { throw new Error('detached'); } }],
  ])('tells Rust nothing when %s', async (_, event) => {
    const env = withListeners();
    expect(() => env.listeners.click(event)).not.toThrow();
    await settle();
    expect(env.calls('report_link_click')).toEqual([]);
  });
});

describe('gate state held from Rust', () => {
  const state = (version, gate, page = PAGE) => ({ version, page, gate, balance: '100', monitor: 'monitoring', language: 'en', when_unchecked: 'block' });
  const ALLOWED = { allowed: true, status: null, code: null, message: null };
  const REFUSED = { allowed: false, status: 402, code: 'insufficient_credits', message: 'TokenDesk: not enough credits.' };

  // relay_status answers `initial`; check_send answers only when the test says so.
  function withState(initial, { fetch = async () => sseResponse(fixture('chat-compact.sse')), href = PAGE, ...extra } = {}) {
    const pending = [];
    const env = setup({
      ...extra,
      href,
      fetch,
      invoke: (cmd, args) => {
        if (cmd === 'relay_status') return Promise.resolve(initial);
        if (cmd === 'check_send') return new Promise((resolve, reject) => pending.push({ args, resolve, reject }));
        return Promise.resolve(defaultReply(cmd));
      },
    });
    return { ...env, pending };
  }

  it('sends at once on a fresh "allowed", binds the send once its reply has ended, and bills the send it binds', async () => {
    let finish;
    const env = withState(state(1, ALLOWED), {
      fetch: async () => {
        const [head, tail] = [fixture('chat-compact.sse').slice(0, 200), fixture('chat-compact.sse').slice(200)];
        const body = new ReadableStream({
          start(controller) {
            controller.enqueue(head);
            finish = () => {
              controller.enqueue(tail);
              controller.close();
            };
          },
        });
        return new Response(body, { headers: { 'Content-Type': 'text/event-stream' } });
      },
    });
    await settle();
    const response = await env.win.fetch(CHAT_URL, post(chatBody('hi')));
    expect(env.originalFetch).toHaveBeenCalledTimes(1);
    const reading = readBytes(response);
    await settle();
    // Nothing asks Rust while the reply streams to the page.
    expect(env.pending).toEqual([]);
    finish();
    await reading;
    await settle();
    // Named by the state it was decided on: Rust binds it to that state's page.
    expect(env.pending.map(({ args }) => args)).toEqual([{ endpoint: 'chat-messages', query: 'hi', sent: true, version: 1, key: expect.any(String) }]);
    expect(env.calls('report_usage')).toEqual([]);
    env.pending[0].resolve({ allowed: true, send_id: 'send-9', when_unchecked: 'block' });
    await settle();
    expect(env.calls('report_usage').map((args) => args.sendId)).toEqual(['send-9']);
  });

  it('binds a send whose reply goes on after a short grace, or at once when the page goes away', async () => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout'] });
    const listeners = {};
    const env = withState(state(1, ALLOWED), { fetch: () => new Promise(() => {}), addEventListener: (type, listener) => (listeners[type] = listener) });
    await vi.advanceTimersByTimeAsync(0);
    env.win.fetch(CHAT_URL, post(chatBody('slow model')));
    await vi.advanceTimersByTimeAsync(240);
    expect(env.pending).toEqual([]);
    await vi.advanceTimersByTimeAsync(10);
    expect(env.pending.map(({ args }) => args.query)).toEqual(['slow model']);

    env.win.fetch(CHAT_URL, post(chatBody('closing')));
    await vi.advanceTimersByTimeAsync(0);
    listeners.pagehide();
    await vi.advanceTimersByTimeAsync(0);
    expect(env.pending.map(({ args }) => args.query)).toEqual(['slow model', 'closing']);
    // Bound once: the grace that follows adds nothing.
    await vi.advanceTimersByTimeAsync(2000);
    expect(env.pending).toHaveLength(2);
  });

  it("keeps a send unbound in the page's storage until Rust binds it, and the next page's relay binds what a closed window left", async () => {
    const localStorage = memoryStorage();
    const env = withState(state(1, ALLOWED), { fetch: () => new Promise(() => {}), localStorage });
    await settle();
    env.win.fetch(CHAT_URL, post(chatBody('closed too soon')));
    await settle();
    // The window closes before the reply began: nothing was bound, the page's storage has the send.
    expect(env.pending).toEqual([]);
    const [[key, send]] = Object.entries(JSON.parse(localStorage.getItem('__tokendesk_unbound_sends__')));
    expect(send).toEqual({ endpoint: 'chat-messages', query: 'closed too soon', version: 1 });

    const next = withState(state(2, ALLOWED), { localStorage });
    await settle();
    expect(next.pending.map(({ args }) => args)).toEqual([{ endpoint: 'chat-messages', query: 'closed too soon', sent: true, version: 1, key }]);
    next.pending[0].resolve({ allowed: true, send_id: key });
    await settle();
    expect(localStorage.getItem('__tokendesk_unbound_sends__')).toBeNull();
  });

  it('refuses at once on a fresh refusal, without calling Dify, and tells the gate it refused', async () => {
    const env = withState(state(1, REFUSED));
    await settle();
    const response = await env.win.fetch(CHAT_URL, post(chatBody('hi')));
    expect(response.status).toBe(402);
    expect(await response.json()).toEqual({ code: 'insufficient_credits', message: 'TokenDesk: not enough credits.', status: 402 });
    expect(env.originalFetch).not.toHaveBeenCalled();
    await settle();
    expect(env.pending.map(({ args }) => args)).toEqual([{ endpoint: 'chat-messages', query: 'hi', sent: false, version: 1 }]);
  });

  it('takes pushed states in version order, whichever arrives first', async () => {
    const env = withState(state(5, ALLOWED));
    await settle();
    env.win.__TOKENDESK_RELAY_STATE__(state(4, REFUSED));
    await env.win.fetch(CHAT_URL, post(chatBody('older push ignored')));
    expect(env.originalFetch).toHaveBeenCalledTimes(1);
    env.win.__TOKENDESK_RELAY_STATE__(state(6, REFUSED));
    expect((await env.win.fetch(CHAT_URL, post(chatBody('newer push taken')))).status).toBe(402);
    expect(env.originalFetch).toHaveBeenCalledTimes(1);
  });

  it('waits for the gate on a page the state is not for (the app may differ)', async () => {
    const env = withState(state(1, ALLOWED, `${ORIGIN}/chat/OtherApp`));
    await settle();
    const sending = env.win.fetch(CHAT_URL, post(chatBody('hi')));
    await settle();
    expect(env.originalFetch).not.toHaveBeenCalled();
    expect(env.pending.map(({ args }) => args.sent)).toEqual([undefined]);
    env.pending[0].resolve({ allowed: false, status: 403, code: 'unknown_app', message: 'not configured' });
    expect((await sending).status).toBe(403);
  });

  it('waits for the gate once the state is older than Rust keeps it', async () => {
    vi.useFakeTimers({ toFake: ['performance'] });
    const env = withState(state(1, ALLOWED));
    await settle();
    vi.advanceTimersByTime(16_000);
    const sending = env.win.fetch(CHAT_URL, post(chatBody('hi')));
    await settle();
    expect(env.originalFetch).not.toHaveBeenCalled();
    env.pending[0].resolve({ allowed: true, send_id: 'send-1' });
    expect((await sending).status).toBe(200);
  });

  it.each([
    ['a send made on the state', () => state(1, ALLOWED)],
    ['a send the relay waited for and then refused', () => ({ balance: '100', monitor: 'monitoring' })],
  ])('hands back a binding that comes after the relay stopped waiting: %s', async (_, initial) => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout'] });
    const env = withState(initial());
    await vi.advanceTimersByTimeAsync(0);
    const sending = env.win.fetch(CHAT_URL, post(chatBody('hi')));
    await vi.advanceTimersByTimeAsync(10_000);
    await sending;
    env.pending[0].resolve({ allowed: true, send_id: 'send-late' });
    await vi.advanceTimersByTimeAsync(0);
    expect(env.calls('report_send_failed')).toEqual([{ sendId: 'send-late' }]);
  });

  it('lets a stale state give way to any newer push, so a forged far-off version blocks nothing', async () => {
    vi.useFakeTimers({ toFake: ['performance'] });
    const env = withState(state(1, ALLOWED));
    await settle();
    env.win.__TOKENDESK_RELAY_STATE__(state(Number.MAX_SAFE_INTEGER, ALLOWED));
    vi.advanceTimersByTime(16_000);
    env.win.__TOKENDESK_RELAY_STATE__(state(2, REFUSED));
    expect((await env.win.fetch(CHAT_URL, post(chatBody('hi')))).status).toBe(402);
  });

  it('records a send made on the state whose binding then failed, and still reports its reply', async () => {
    const env = withState(state(1, ALLOWED));
    await settle();
    const response = await env.win.fetch(CHAT_URL, post(chatBody('hi')));
    await settle();
    env.pending[0].reject(new Error('IPC gone'));
    await readBytes(response);
    await settle();
    expect(env.calls('report_unchecked_send')).toEqual([{ endpoint: 'chat-messages', reason: 'failed' }]);
    expect(env.calls('report_usage')).toHaveLength(1);
    expect(env.calls('report_usage')[0].sendId).toBeUndefined();
  });
});

describe('TokenDesk failures never reach the page', () => {
  it.each([
    ['report_usage rejects', (cmd) => (cmd === 'report_usage' ? Promise.reject(new Error('db locked')) : Promise.resolve(defaultReply(cmd)))],
    ['report_usage throws synchronously', (cmd) => {
      if (cmd === 'report_usage') throw new Error('IPC gone');
      return Promise.resolve(defaultReply(cmd));
    }],
    ['every command but the gate rejects', (cmd) => (cmd === 'check_send' ? Promise.resolve({ allowed: true }) : Promise.reject(new Error('TokenDesk is down')))],
    ['every command but the gate throws synchronously', (cmd) => {
      if (cmd === 'check_send') return Promise.resolve({ allowed: true });
      throw new Error('IPC gone');
    }],
  ])('%s: the page still gets the whole stream, with no unhandled rejection', async (_, invoke) => {
    const unhandled = vi.fn();
    process.on('unhandledRejection', unhandled);
    try {
      const bytes = fixture('duplicate-message-end.sse');
      const env = setup({ fetch: async () => sseResponse(bytes), invoke });
      expect(env.installed).toBe(true);
      const { bytes: seen } = await send(env, CHAT_URL, post(chatBody('hi')));
      expect(seen).toEqual(bytes);
      // A failed report must not stop the relay from reading the frames after it.
      expect(env.calls('report_usage')).toHaveLength(2);
      await settle();
      expect(unhandled).not.toHaveBeenCalled();
    } finally {
      process.off('unhandledRejection', unhandled);
    }
  });
});

describe('reports Rust could not commit', () => {
  const busyFor = (failures) => (cmd) =>
    cmd === 'report_usage' && failures-- > 0 ? Promise.reject({ code: 'database', message: 'database is locked' }) : Promise.resolve(defaultReply(cmd));

  it('sends a report again until Rust answers, the same frame each time, then stops', async () => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout'] });
    const env = setup({ fetch: async () => sseResponse(fixture('chat-compact.sse')), invoke: busyFor(3) });
    await readBytes(await env.win.fetch(CHAT_URL, post(chatBody('hi'))));
    await vi.advanceTimersByTimeAsync(0);
    expect(env.calls('report_usage')).toHaveLength(1);
    await vi.advanceTimersByTimeAsync(500 + 1000 + 2000);
    const frames = env.calls('report_usage').map(({ frame }) => frame);
    expect(frames).toHaveLength(4);
    expect(new Set(frames)).toEqual(new Set(messageEndsOf(fixture('chat-compact.sse'))));
    await vi.advanceTimersByTimeAsync(600_000);
    expect(env.calls('report_usage')).toHaveLength(4);
  });

  it('gives up after about four minutes when Rust never answers', async () => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout'] });
    const env = setup({ fetch: async () => sseResponse(fixture('chat-compact.sse')), invoke: busyFor(Infinity) });
    await readBytes(await env.win.fetch(CHAT_URL, post(chatBody('hi'))));
    await vi.advanceTimersByTimeAsync(200_000);
    expect(env.calls('report_usage').length).toBeLessThan(10);
    await vi.advanceTimersByTimeAsync(100_000);
    expect(env.calls('report_usage')).toHaveLength(10);
    await vi.advanceTimersByTimeAsync(600_000);
    expect(env.calls('report_usage')).toHaveLength(10);
  });
});

describe('pass-through', () => {
  it.each([
    ['a non-streaming API call', [`${ORIGIN}/api/parameters`]],
    ['a relative non-streaming call', ['/api/site', { method: 'GET' }]],
    ['a GET on a streaming path', [CHAT_URL, { method: 'GET' }]],
    ['the stop button', [`${ORIGIN}/api/chat-messages/900b2c6d/stop`, post('{"user":"u"}')]],
    ['a console path that only ends like a streaming one', [`${ORIGIN}/console/api/apps/1/chat-messages`, post('{}')]],
    ['a manual conversation list', [`${ORIGIN}/api/conversations?limit=100`]],
    ['Tauri IPC over ipc://', ['ipc://localhost/plugin%3Aevent%7Clisten', post('{}')]],
    ['a non-http URL with a streaming path', ['ipc://localhost/api/chat-messages', post('{}')]],
    ['Tauri IPC over http://ipc.localhost', ['http://ipc.localhost/report_usage', post('{}')]],
    ['a URL object', [new URL(`${ORIGIN}/api/meta`)]],
    ['a Request object', [new Request(`${ORIGIN}/api/messages?conversation_id=c-1`)]],
    ['no arguments at all', []],
  ])('%s goes to the original fetch untouched', async (_, args) => {
    const result = Promise.resolve(new Response('{}'));
    const env = setup({ fetch: () => result });
    const thisArg = { marker: true };
    expect(env.win.fetch.apply(thisArg, args)).toBe(result);
    expect(env.originalFetch).toHaveBeenCalledTimes(1);
    const forwarded = env.originalFetch.mock.calls[0];
    expect(forwarded).toHaveLength(args.length);
    forwarded.forEach((arg, i) => expect(arg).toBe(args[i]));
    expect(env.originalFetch.mock.contexts[0]).toBe(thisArg);
    await settle();
    expect(env.commands()).toEqual(['relay_status']);
  });
});

describe('side calls (model calls without message_end)', () => {
  const CONVERSATION = '4570f1c8-2d4a-4a5e-9b61-3f0c2a7d9e12';
  const MESSAGE = '5e52a7b0-91c3-4f6e-8d2a-7c1b3e9f0a44';
  const ANSWER = '你好！我是公司的知识库助手🙂，有什么可以帮你？';
  const anyId = expect.stringMatching(/^[\w-]{8,64}$/);

  // A page that streams the chat fixture, then answers a side call with `sideBody`.
  function chatThen(sideBody, extra = {}) {
    return setup({
      fetch: async (input) => (String(input).endsWith('/chat-messages') ? sseResponse(fixture('chat-compact.sse')) : new Response(sideBody)),
      ...extra,
    });
  }

  it('reports auto-naming after the response arrives, with the conversation\'s first query and the name, returning the page its own promise', async () => {
    let respond;
    const result = new Promise((resolve) => (respond = resolve));
    const env = setup({ fetch: async (input) => (String(input).endsWith('/chat-messages') ? sseResponse(fixture('chat-compact.sse')) : result) });
    await send(env, CHAT_URL, post(chatBody('帮我写周报')));
    const url = `${ORIGIN}/api/conversations/${CONVERSATION}/name`;
    const pending = env.win.fetch(url, post('{"auto_generate":true}'));
    await settle();
    expect(env.calls('report_model_call')).toEqual([]);
    respond(new Response('{"id":"x","name":"周报写作"}'));
    expect(await pending).toBeInstanceOf(Response);
    await settle();
    expect(env.calls('report_model_call')).toEqual([
      { call: { call_id: anyId, side_call: 'conversation_name', conversation_id: CONVERSATION, message_id: null, context: '帮我写周报', output: '周报写作' } },
    ]);
  });

  it('reads auto_generate from a Request object (Dify\'s ky client) without using up its body', async () => {
    let forwardedBody;
    const env = setup({
      fetch: async (request) => {
        forwardedBody = await request.text();
        return new Response('{"name":"Weekly report"}');
      },
    });
    await env.win.fetch(new Request(`${ORIGIN}/api/conversations/c-9/name`, post('{"auto_generate":true}')));
    await settle();
    expect(forwardedBody).toBe('{"auto_generate":true}');
    // A conversation this page never streamed: no context, and Rust estimates from Dify's instructions.
    expect(env.calls('report_model_call')).toEqual([
      { call: { call_id: anyId, side_call: 'conversation_name', conversation_id: 'c-9', message_id: null, context: '', output: 'Weekly report' } },
    ]);
  });

  it('does not report a manual rename (no model is called)', async () => {
    const env = setup();
    await env.win.fetch(`${ORIGIN}/api/conversations/c-1/name`, post('{"name":"周报"}'));
    await settle();
    expect(env.calls('report_model_call')).toEqual([]);
  });

  it('reports suggested questions with the reply\'s query and answer, its conversation, and the questions', async () => {
    const env = chatThen('{"result":"success","data":["下一步？","怎么做？"]}');
    await send(env, CHAT_URL, post(chatBody('你好')));
    await env.win.fetch(`${ORIGIN}/api/messages/${MESSAGE}/suggested-questions`);
    await settle();
    expect(env.calls('report_model_call')).toEqual([
      {
        call: {
          call_id: anyId,
          side_call: 'suggested_questions',
          conversation_id: CONVERSATION,
          message_id: MESSAGE,
          context: '你好\n' + ANSWER,
          output: '["下一步？","怎么做？"]',
        },
      },
    ]);
  });

  it('reads the answer from its own copy, though the page reads the response at once', async () => {
    const env = setup({ fetch: async () => new Response('{"data":["Why?"]}') });
    const questions = await env.win.fetch(`${ORIGIN}/api/messages/m-3/suggested-questions`).then((response) => response.json());
    expect(questions).toEqual({ data: ['Why?'] });
    await settle();
    expect(env.calls('report_model_call').map(({ call }) => call.output)).toEqual(['["Why?"]']);
  });

  it('gives each call its own id and keeps it when a report is sent again', async () => {
    vi.useFakeTimers();
    let failures = 1;
    const env = chatThen('{"data":["a?"]}', {
      invoke: async (cmd) => {
        if (cmd === 'report_model_call' && failures-- > 0) throw new Error('ledger busy');
        return defaultReply(cmd);
      },
    });
    await env.win.fetch(`${ORIGIN}/api/messages/m-1/suggested-questions`);
    await vi.advanceTimersByTimeAsync(1000);
    await env.win.fetch(`${ORIGIN}/api/messages/m-1/suggested-questions`);
    await vi.advanceTimersByTimeAsync(1000);
    const ids = env.calls('report_model_call').map(({ call }) => call.call_id);
    expect(ids).toHaveLength(3);
    expect(ids[0]).toBe(ids[1]);
    expect(ids[2]).not.toBe(ids[0]);
  });

  it('reports nothing when the call failed', async () => {
    const env = setup({ fetch: async () => new Response('{"code":"not_enabled"}', { status: 400 }) });
    await env.win.fetch(`${ORIGIN}/api/messages/5e52a7b0/suggested-questions`);
    await settle();
    expect(env.calls('report_model_call')).toEqual([]);
  });

  it('still reports a call whose answer cannot be read, with no output', async () => {
    const env = setup({ fetch: async () => new Response('not json') });
    await env.win.fetch(`${ORIGIN}/api/messages/m-2/suggested-questions`);
    await settle();
    expect(env.calls('report_model_call')).toEqual([
      { call: { call_id: anyId, side_call: 'suggested_questions', conversation_id: null, message_id: 'm-2', context: '', output: '' } },
    ]);
  });
});

describe('install', () => {
  it('asks Rust for the status once at start', () => {
    const env = setup();
    expect(env.installed).toBe(true);
    expect(env.invoke.mock.calls).toEqual([['relay_status', {}]]);
  });

  it('does not wrap fetch twice', async () => {
    const env = setup({ fetch: async () => sseResponse(fixture('chat-compact.sse')) });
    const wrapped = env.win.fetch;
    expect(install(env.win)).toBe(false);
    expect(env.win.fetch).toBe(wrapped);
    await send(env, CHAT_URL, post(chatBody('hi')));
    expect(env.originalFetch).toHaveBeenCalledTimes(1);
    expect(env.calls('report_usage')).toHaveLength(1);
    expect(env.calls('relay_status')).toHaveLength(1);
  });

  it.each([
    ['there is no __TAURI_INTERNALS__', { __TAURI_INTERNALS__: undefined }],
    ['__TAURI_INTERNALS__ has no invoke', { __TAURI_INTERNALS__: {} }],
    ['the page is not http(s)', { location: { href: 'tauri://localhost/index.html' } }],
  ])('leaves the page untouched when %s', (_, overrides) => {
    const originalFetch = vi.fn();
    const win = { fetch: originalFetch, location: { href: PAGE }, navigator: { language: 'en' }, __TAURI_INTERNALS__: { invoke: vi.fn() }, ...overrides };
    const before = Object.getOwnPropertyNames(win);
    expect(install(win)).toBe(false);
    expect(win.fetch).toBe(originalFetch);
    expect(Object.getOwnPropertyNames(win)).toEqual(before);
  });

  it('installs itself when run as a page script, leaking nothing but the guard flag and the state receiver', () => {
    const source = readFileSync(new URL('./relay.js', import.meta.url), 'utf8');
    const originalFetch = vi.fn();
    const document = { readyState: 'loading', addEventListener: vi.fn() };
    const win = { fetch: originalFetch, location: { href: PAGE }, navigator: { language: 'en' }, __TAURI_INTERNALS__: { invoke: vi.fn(async () => ({})) }, document };
    const before = Object.getOwnPropertyNames(win);
    const context = vm.createContext({ window: win, URL, TextDecoder, Response, console, setTimeout, clearTimeout, performance });
    const globalsBefore = Object.getOwnPropertyNames(context);
    vm.runInContext(source, context);
    expect(win.fetch).not.toBe(originalFetch);
    expect(Object.getOwnPropertyNames(win).filter((name) => !before.includes(name))).toEqual(['__TOKENDESK_RELAY__', '__TOKENDESK_RELAY_STATE__']);
    expect(Object.getOwnPropertyNames(context)).toEqual(globalsBefore);
    expect(document.addEventListener).toHaveBeenCalledWith('DOMContentLoaded', expect.any(Function), { once: true });
  });
});
