import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { encode, fixture, readBytes, relay, settle, sseResponse } from './test-support.js';

const { install } = relay;

const PAGE = 'https://dify.example.com/chat/AbC123';

// Just enough DOM for the badge: elements with an open shadow root, an event hook for DOMContentLoaded.
function fakeDom({ readyState = 'loading', constructableSheets = true } = {}) {
  const listeners = new Map();
  const element = (tagName) => ({
    tagName,
    id: '',
    className: '',
    textContent: '',
    children: [],
    attributes: {},
    style: {
      values: {},
      setProperty(name, value) {
        this.values[name] = value;
      },
    },
    setAttribute(name, value) {
      this.attributes[name] = value;
    },
    getAttribute(name) {
      return name in this.attributes ? this.attributes[name] : null;
    },
    appendChild(child) {
      this.children.push(child);
      return child;
    },
    attachShadow(init) {
      this.shadowRoot = { init, children: [], appendChild: this.appendChild };
      if (constructableSheets) this.shadowRoot.adoptedStyleSheets = [];
      return this.shadowRoot;
    },
  });
  const document = {
    readyState,
    documentElement: element('html'),
    createElement: element,
    addEventListener: (type, listener) => listeners.set(type, listener),
  };
  class CSSStyleSheet {
    replaceSync(text) {
      this.cssText = text;
    }
  }
  return {
    document,
    CSSStyleSheet: constructableSheets ? CSSStyleSheet : undefined,
    domReady() {
      document.readyState = 'interactive';
      listeners.get('DOMContentLoaded')?.();
    },
    badge() {
      const host = document.documentElement.children.find((child) => child.id === 'tokendesk-badge');
      return host && { host, label: host.shadowRoot.children[0] };
    },
  };
}

function setup({ dom, language = 'en-US', shellLanguage, invoke, fetch = async () => sseResponse(fixture('chat-compact.sse')) }) {
  const win = {
    __TOKENDESK_LANGUAGE__: shellLanguage,
    fetch: vi.fn(fetch),
    location: { href: PAGE },
    navigator: { language },
    __TAURI_INTERNALS__: { invoke: vi.fn(invoke) },
    document: dom.document,
    CSSStyleSheet: dom.CSSStyleSheet,
  };
  return { win, installed: install(win) };
}

const replies = (balances) => async (cmd) => (cmd in balances ? { balance: balances[cmd] } : { allowed: true });

beforeEach(() => {
  vi.spyOn(console, 'debug').mockImplementation(() => {});
});

afterEach(() => {
  vi.restoreAllMocks();
});

describe('badge', () => {
  it('appears once the DOM is ready, with the balance and the monitor status', async () => {
    const dom = fakeDom();
    setup({ dom, invoke: replies({ relay_status: '100' }) });
    await settle();
    expect(dom.badge()).toBeUndefined();
    dom.domReady();
    const { host, label } = dom.badge();
    expect(host.attributes['data-balance']).toBe('100');
    expect(label.textContent).toBe('100 credits · Monitoring');
  });

  it('writes to the page only what changed, so a state pushed again lays nothing out', async () => {
    const dom = fakeDom({ readyState: 'complete' });
    const { win } = setup({ dom, invoke: replies({ relay_status: '100' }) });
    await settle();
    const { label } = dom.badge();
    let writes = 0;
    let text = label.textContent;
    Object.defineProperty(label, 'textContent', {
      get: () => text,
      set: (value) => {
        writes += 1;
        text = value;
      },
    });
    const state = { version: 2, page: PAGE, balance: '100', monitor: 'monitoring', gate: { allowed: true } };
    win.__TOKENDESK_RELAY_STATE__(state);
    win.__TOKENDESK_RELAY_STATE__({ ...state, version: 3 });
    expect(writes).toBe(0);
    win.__TOKENDESK_RELAY_STATE__({ ...state, version: 4, balance: '99.5' });
    expect(text).toBe('99.5 credits · Monitoring');
    expect(writes).toBe(1);
  });

  it('is styled through an adopted stylesheet, not inline', () => {
    const dom = fakeDom({ readyState: 'complete' });
    setup({ dom, invoke: replies({}) });
    const { host, label } = dom.badge();
    expect(host.shadowRoot.adoptedStyleSheets).toHaveLength(1);
    expect(host.shadowRoot.adoptedStyleSheets[0].cssText).toMatch(/^\.badge \{ position: fixed;/);
    expect(label.className).toBe('badge');
    expect(label.style.values).toEqual({});
  });

  it('falls back to element.style without constructable stylesheets', () => {
    const dom = fakeDom({ readyState: 'complete', constructableSheets: false });
    setup({ dom, invoke: replies({}) });
    const { host, label } = dom.badge();
    expect(host.shadowRoot.adoptedStyleSheets).toBeUndefined();
    expect(label.style.values).toMatchObject({ position: 'fixed', 'pointer-events': 'none' });
  });

  it('refreshes the balance from report_usage, in Chinese with two decimals', async () => {
    const dom = fakeDom({ readyState: 'complete' });
    const { win } = setup({ dom, language: 'zh-CN', invoke: replies({ relay_status: '1300', report_usage: '1234.5678' }) });
    await settle();
    expect(dom.badge().label.textContent).toBe('1,300 积分 · 监控中');
    await readBytes(await win.fetch('https://dify.example.com/api/chat-messages', { method: 'POST', body: '{"query":"你好"}' }));
    await settle();
    expect(dom.badge().label.textContent).toBe('1,234.57 积分 · 监控中');
    expect(dom.badge().host.attributes['data-balance']).toBe('1234.5678');
  });

  it.each([
    ['12345678901234.567891', '12,345,678,901,234.57'],
    ['0.005', '0.01'],
    ['-0.004', '0'],
    ['-1.5', '-1.5'],
    ['9007199254740993.25', '9,007,199,254,740,993.25'],
  ])('shows %s credits exactly as %s, with no float in between', async (balance, shown) => {
    const dom = fakeDom({ readyState: 'complete' });
    setup({ dom, invoke: replies({ relay_status: balance }) });
    await settle();
    expect(dom.badge().label.textContent).toBe(`${shown} credits · Monitoring`);
  });

  it('ignores a balance that is not a decimal string', async () => {
    const dom = fakeDom({ readyState: 'complete' });
    setup({ dom, invoke: replies({ relay_status: 1e21 }) });
    await settle();
    expect(dom.badge().label.textContent).toBe('Monitoring');
  });

  it("speaks the language the shell hands over, over the webview's navigator.language", async () => {
    const dom = fakeDom({ readyState: 'complete' });
    setup({ dom, language: 'en-US', shellLanguage: 'zh', invoke: replies({ relay_status: '5' }) });
    await settle();
    expect(dom.badge().label.textContent).toBe('5 积分 · 监控中');
  });

  it('switches to the language relay_status names, picked after the page loaded', async () => {
    const dom = fakeDom({ readyState: 'complete' });
    setup({ dom, shellLanguage: 'en', invoke: async () => ({ balance: '1234.5', monitor: 'monitoring', language: 'zh' }) });
    await settle();
    expect(dom.badge().label.textContent).toBe('1,234.5 积分 · 监控中');
  });

  it.each([
    ['en-US', 'TokenDesk offline'],
    ['zh-TW', 'TokenDesk 未连接'],
  ])('says offline (%s) after a failed invoke', async (language, words) => {
    const dom = fakeDom({ readyState: 'complete' });
    setup({ dom, language, invoke: () => Promise.reject(new Error('not allowed')) });
    await settle();
    expect(dom.badge().label.textContent).toBe(words);
    expect(dom.badge().host.attributes['data-balance']).toBeUndefined();
  });

  it('says "not metered" when Rust does not meter this page', async () => {
    const dom = fakeDom({ readyState: 'complete' });
    setup({ dom, invoke: async () => ({ balance: '7', monitor: 'not_metered' }) });
    await settle();
    expect(dom.badge().label.textContent).toBe('7 credits · Not metered');
  });

  it('does not throw out of DOMContentLoaded when the DOM refuses the badge', () => {
    const dom = fakeDom();
    dom.document.createElement = () => {
      throw new Error('blocked');
    };
    expect(setup({ dom, invoke: replies({}) }).installed).toBe(true);
    expect(() => dom.domReady()).not.toThrow();
  });

  it.each([
    ['an empty object', () => ({})],
    ['no documentElement', () => ({ readyState: 'complete', documentElement: null })],
    ['createElement throwing', () => ({ readyState: 'complete', documentElement: {}, createElement: () => { throw new Error('no'); } })],
    ['addEventListener throwing', () => ({ readyState: 'loading', addEventListener: () => { throw new Error('frozen'); } })],
    ['readyState throwing', () => Object.defineProperty({}, 'readyState', { get: () => { throw new Error('detached'); } })],
    ['a number', () => 42],
  ])('never throws with a document that is %s, and the relay still works', async (_, makeDocument) => {
    const win = {
      fetch: vi.fn(async () => sseResponse(fixture('chat-compact.sse'))),
      location: { href: PAGE },
      navigator: { language: 'en-US' },
      __TAURI_INTERNALS__: { invoke: vi.fn(replies({ relay_status: '5', report_usage: '4' })) },
      document: makeDocument(),
    };
    expect(install(win)).toBe(true);
    await readBytes(await win.fetch('https://dify.example.com/api/chat-messages', { method: 'POST', body: '{"query":"hi"}' }));
    await settle();
    expect(win.__TAURI_INTERNALS__.invoke.mock.calls.map(([cmd]) => cmd)).toEqual(['relay_status', 'check_send', 'report_usage']);
  });
});

describe('badge costs', () => {
  afterEach(() => {
    vi.useRealTimers();
  });

  // A ChargeResult as Rust answers a report: amount_micros is what JSON.parse makes of Rust's integer.
  const result = (outcome, message, amount, micros = Math.round(Number(amount) * 1e6)) => ({
    outcome,
    message_id: message,
    amount,
    amount_micros: micros,
    balance: '100',
    estimated: false,
  });
  const charged = (message, amount, micros) => result('charged', message, amount, micros);

  // A chat page whose Dify replies with a message_end for the ids `reply` names (`frames` times, as a
  // replayed message_end does), and whose Rust answers the reports in turn with `replies` (a value, a
  // promise the test settles, or a function called for the answer).
  function chatPage({ language = 'en-US' } = {}) {
    const dom = fakeDom({ readyState: 'complete' });
    const answers = [];
    let stream = null;
    const { win } = setup({
      dom,
      language,
      fetch: async () => sseResponse(stream),
      invoke: async (cmd) => {
        if (cmd === 'relay_status') return { balance: '100', monitor: 'monitoring' };
        if (cmd === 'check_send') return { allowed: true };
        const next = answers.length ? answers.shift() : result('rejected', null, '0');
        return typeof next === 'function' ? next() : next;
      },
    });
    return {
      text: () => dom.badge().label.textContent,
      async reply(conversation, message, replies, { frames = 1, url = 'https://dify.example.com/api/chat-messages' } = {}) {
        const end = { event: 'message_end', message_id: message, id: message, metadata: { usage: { prompt_tokens: 9, completion_tokens: 3, total_tokens: 12 } } };
        if (conversation) end.conversation_id = conversation;
        stream = encode(`data: ${JSON.stringify(end)}\n\n`.repeat(frames));
        answers.push(...replies);
        await readBytes(await win.fetch(url, { method: 'POST', body: '{"query":"hi"}' }));
        await settle();
      },
      // Dify's suggested questions after the reply `message`.
      async suggest(message, replies) {
        answers.push(...replies);
        await win.fetch(`https://dify.example.com/api/messages/${message}/suggested-questions`);
        await settle();
      },
    };
  }

  it("adds a side call's charge to the conversation's total, never as its last reply", async () => {
    const page = chatPage();
    await page.reply('c-1', 'm-1', [charged('m-1', '1.5')]);
    await page.suggest('m-1', [charged('suggested_questions:s-1', '0.25')]);
    expect(page.text()).toBe('100 credits · Monitoring · last reply 1.5 · this chat 1.75');
    await page.reply('c-1', 'm-2', [charged('m-2', '0.5')]);
    expect(page.text()).toBe('100 credits · Monitoring · last reply 0.5 · this chat 2.25');
  });

  it("shows the last reply's cost and the conversation's exact total once a reply is charged", async () => {
    const page = chatPage();
    await settle();
    expect(page.text()).toBe('100 credits · Monitoring');
    await page.reply('c-1', 'm-1', [charged('m-1', '1.234')]);
    expect(page.text()).toBe('100 credits · Monitoring · last reply 1.23 · this chat 1.23');
    await page.reply('c-1', 'm-2', [charged('m-2', '2.004')]);
    // 1.234 + 2.004 = 3.238: summed before rounding, not 1.23 + 2.00.
    expect(page.text()).toBe('100 credits · Monitoring · last reply 2 · this chat 3.24');
  });

  it('counts a message once when a repeat of its report is answered duplicate', async () => {
    const page = chatPage();
    // Rust answers a repeat with the amount first charged; it must not add again.
    await page.reply('c-1', 'm-1', [charged('m-1', '1.5'), result('duplicate', 'm-1', '1.5')], { frames: 2 });
    expect(page.text()).toBe('100 credits · Monitoring · last reply 1.5 · this chat 1.5');
    await page.reply('c-1', 'm-1', [result('duplicate', 'm-1', '1.5')]);
    expect(page.text()).toBe('100 credits · Monitoring · last reply 1.5 · this chat 1.5');
    // A repeat of conflicting content is answered duplicate with 0; the charge stands.
    await page.reply('c-1', 'm-1', [result('duplicate', 'm-1', '0')]);
    expect(page.text()).toBe('100 credits · Monitoring · last reply 1.5 · this chat 1.5');
  });

  it("replaces an estimate's amount when the real usage of the same message is charged", async () => {
    const page = chatPage();
    await page.reply('c-1', 'm-1', [charged('m-1', '4'), charged('m-1', '0.75')], { frames: 2 });
    expect(page.text()).toBe('100 credits · Monitoring · last reply 0.75 · this chat 0.75');
  });

  it.each(['held', 'rejected', 'conflict'])('adds nothing for a reply answered %s', async (outcome) => {
    const page = chatPage();
    await page.reply('c-1', 'm-1', [result(outcome, 'm-1', '5')]);
    expect(page.text()).toBe('100 credits · Monitoring');
    await page.reply('c-1', 'm-2', [charged('m-2', '1')]);
    await page.reply('c-1', 'm-3', [result(outcome, 'm-3', '5')]);
    expect(page.text()).toBe('100 credits · Monitoring · last reply 1 · this chat 1');
  });

  it('starts the total again with a reply in a new conversation', async () => {
    const page = chatPage();
    await page.reply('c-1', 'm-1', [charged('m-1', '1')]);
    await page.reply('c-1', 'm-2', [charged('m-2', '2')]);
    expect(page.text()).toBe('100 credits · Monitoring · last reply 2 · this chat 3');
    await page.reply('c-2', 'm-3', [charged('m-3', '0.5')]);
    expect(page.text()).toBe('100 credits · Monitoring · last reply 0.5 · this chat 0.5');
  });

  it("keeps the newer reply and conversation when an older reply's charge answers late", async () => {
    const page = chatPage();
    const late = [];
    const answerLate = () => new Promise((resolve) => late.push(resolve));
    await page.reply('c-1', 'm-1', [answerLate]);
    await page.reply('c-1', 'm-2', [charged('m-2', '2')]);
    late[0](charged('m-1', '7'));
    await settle();
    expect(page.text()).toBe('100 credits · Monitoring · last reply 2 · this chat 9');
    await page.reply('c-1', 'm-3', [answerLate]);
    await page.reply('c-2', 'm-4', [charged('m-4', '0.5')]);
    late[1](charged('m-3', '4'));
    await settle();
    expect(page.text()).toBe('100 credits · Monitoring · last reply 0.5 · this chat 0.5');
  });

  it('shows no conversation total for a workflow run, which has no conversation', async () => {
    const page = chatPage();
    await page.reply(null, 'm-1', [charged('m-1', '1.5')], { url: 'https://dify.example.com/api/workflows/run' });
    expect(page.text()).toBe('100 credits · Monitoring · last reply 1.5');
  });

  it('speaks Chinese', async () => {
    const page = chatPage({ language: 'zh-CN' });
    await page.reply('c-1', 'm-1', [charged('m-1', '1234.5')]);
    await page.reply('c-1', 'm-2', [charged('m-2', '1.23')]);
    expect(page.text()).toBe('100 积分 · 监控中 · 上次回复 1.23 · 本次对话 1,235.73');
  });

  it('shows amounts past 2^53 micro-credits exactly, from the decimal amount', async () => {
    const page = chatPage();
    // 9007199254734999 micro-credits: as a JSON number it arrives as 9007199254735000, which would show .74.
    await page.reply('c-1', 'm-1', [charged('m-1', '9007199254.734999', 9007199254735000)]);
    expect(page.text()).toBe('100 credits · Monitoring · last reply 9,007,199,254.73 · this chat 9,007,199,254.73');
    // The total, 9007199254744999, is no float either (a float sum would show .75).
    await page.reply('c-1', 'm-2', [charged('m-2', '0.01')]);
    expect(page.text()).toBe('100 credits · Monitoring · last reply 0.01 · this chat 9,007,199,254.74');
  });

  it('counts a reply the outbox committed before its report, answered duplicate with its amount', async () => {
    const page = chatPage();
    await page.reply('c-1', 'm-1', [result('duplicate', 'm-1', '2.5')]);
    expect(page.text()).toBe('100 credits · Monitoring · last reply 2.5 · this chat 2.5');
  });

  it.each([
    ['no message id', charged(null, '1')],
    ['an amount that is not a decimal', charged('m-1', '1e3', 1e21)],
    ['a negative amount', charged('m-1', '-1', -1000000)],
  ])('shows no cost for a charge with %s', async (_, answer) => {
    const page = chatPage();
    await page.reply('c-1', 'm-1', [answer]);
    expect(page.text()).toBe('100 credits · Monitoring');
  });

  it('shows no cost for a report that never reaches Rust, and keeps the last one', async () => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout'] });
    const page = chatPage();
    const first = page.reply('c-1', 'm-1', [charged('m-1', '3')]);
    await vi.advanceTimersByTimeAsync(100);
    await first;
    const failing = () => Promise.reject(new Error('ledger busy'));
    // The first try and every retry fail (about four minutes of waits).
    const second = page.reply('c-1', 'm-2', Array(10).fill(failing));
    await vi.advanceTimersByTimeAsync(300_000);
    await second;
    expect(page.text()).toBe('100 credits · TokenDesk offline · last reply 3 · this chat 3');
  });
});
