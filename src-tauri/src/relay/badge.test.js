import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { fixture, readBytes, relay, settle, sseResponse } from './test-support.js';

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

function setup({ dom, language = 'en-US', shellLanguage, invoke }) {
  const win = {
    __TOKENDESK_LANGUAGE__: shellLanguage,
    fetch: vi.fn(async () => sseResponse(fixture('chat-compact.sse'))),
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
    setup({ dom, invoke: replies({ relay_status: 100 }) });
    await settle();
    expect(dom.badge()).toBeUndefined();
    dom.domReady();
    const { host, label } = dom.badge();
    expect(host.attributes['data-balance']).toBe('100');
    expect(label.textContent).toBe('100 credits · Monitoring');
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
    const { win } = setup({ dom, language: 'zh-CN', invoke: replies({ relay_status: 1300, report_usage: 1234.5678 }) });
    await settle();
    expect(dom.badge().label.textContent).toBe('1,300 积分 · 监控中');
    await readBytes(await win.fetch('https://dify.example.com/api/chat-messages', { method: 'POST', body: '{"query":"你好"}' }));
    await settle();
    expect(dom.badge().label.textContent).toBe('1,234.57 积分 · 监控中');
    expect(dom.badge().host.attributes['data-balance']).toBe('1234.5678');
  });

  it("speaks the language the shell hands over, over the webview's navigator.language", async () => {
    const dom = fakeDom({ readyState: 'complete' });
    setup({ dom, language: 'en-US', shellLanguage: 'zh', invoke: replies({ relay_status: 5 }) });
    await settle();
    expect(dom.badge().label.textContent).toBe('5 积分 · 监控中');
  });

  it('switches to the language relay_status names, picked after the page loaded', async () => {
    const dom = fakeDom({ readyState: 'complete' });
    setup({ dom, shellLanguage: 'en', invoke: async () => ({ balance: 1234.5, monitor: 'monitoring', language: 'zh' }) });
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
    setup({ dom, invoke: async () => ({ balance: 7, monitor: 'not_metered' }) });
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
      __TAURI_INTERNALS__: { invoke: vi.fn(replies({ relay_status: 5, report_usage: 4 })) },
      document: makeDocument(),
    };
    expect(install(win)).toBe(true);
    await readBytes(await win.fetch('https://dify.example.com/api/chat-messages', { method: 'POST', body: '{"query":"hi"}' }));
    await settle();
    expect(win.__TAURI_INTERNALS__.invoke.mock.calls.map(([cmd]) => cmd)).toEqual(['relay_status', 'check_send', 'report_usage']);
  });
});
