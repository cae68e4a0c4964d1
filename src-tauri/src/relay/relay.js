// TokenDesk relay. Tauri injects this file into the Dify web app (initialization_script), so it
// runs before any page script. It copies Dify's own SSE replies from fetch and passes the raw facts
// (the message_end frame, or the query and streamed answer when usage is missing) to Rust, which
// validates and prices them. Whatever fails here, the page must keep working exactly as without it.
(function () {
  'use strict';

  const GUARD = '__TOKENDESK_RELAY__';
  // A hung check_send must not freeze the chat; past this, the send is unchecked (see gate()).
  const CHECK_SEND_TIMEOUT_MS = 10000;
  const TIMED_OUT = Symbol('timed out');

  // A report Rust could not commit (the ledger busy, the IPC failing) is sent again after these waits;
  // its idempotency key makes a repeat harmless. About four minutes in all.
  const REPORT_RETRY_MS = [500, 1000, 2000, 4000, 8000, 15000, 30000, 60000, 120000];

  // Rust reads a message_end of up to 64 KiB. A larger one (a RAG reply's retrieved passages, old Dify's
  // six-byte escapes) goes with its ids and usage only, so its size never decides whether it is billed.
  const MAX_FRAME_BYTES = 60 * 1024;

  // POST endpoints that stream a reply; they also pass through the pre-send gate.
  const SEND_ENDPOINTS = ['chat-messages', 'completion-messages', 'workflows/run'];
  // Reconnect to a running workflow; it may replay a message_end already seen (Rust dedups).
  const RECONNECT_PATH = /\/api\/workflow\/[^/]+\/events$/;
  const RECONNECT_ENDPOINT = 'workflow/events';
  // Requests that call the model without a message_end.
  const MODEL_CALLS = [
    { kind: 'conversation_name', method: 'POST', path: /\/api\/conversations\/([^/]+)\/name$/, idField: 'conversation_id' },
    { kind: 'suggested_questions', method: 'GET', path: /\/api\/messages\/([^/]+)\/suggested-questions$/, idField: 'message_id' },
  ];

  const TEXT = {
    en: {
      locale: 'en-US',
      credits: 'credits',
      monitoring: 'Monitoring',
      notMetered: 'Not metered',
      offline: 'TokenDesk offline',
      blocked: 'TokenDesk: sending is blocked (not enough credits or a limit was reached).',
      unchecked: 'TokenDesk could not check this send, so it was not sent. Try again in a moment.',
    },
    zh: {
      locale: 'zh-CN',
      credits: '积分',
      monitoring: '监控中',
      notMetered: '未计量',
      offline: 'TokenDesk 未连接',
      blocked: 'TokenDesk：暂时无法发送（积分不足或已达到限额）。',
      unchecked: 'TokenDesk 暂时无法检查本次发送，消息未发出。请稍后重试。',
    },
  };

  // Kebab-case names work both in a stylesheet and with style.setProperty (the no-CSSOM-sheet fallback).
  const BADGE_STYLE = {
    position: 'fixed',
    // Bottom-left: chat UIs keep their send button at the bottom right.
    left: '8px',
    bottom: '8px',
    'z-index': '2147483647',
    padding: '2px 8px',
    'border-radius': '999px',
    background: 'rgba(17, 24, 39, 0.8)',
    color: '#fff',
    font: '12px/1.5 system-ui, -apple-system, "Segoe UI", sans-serif',
    'white-space': 'nowrap',
    // Never steal clicks from the chat UI underneath.
    'pointer-events': 'none',
    'user-select': 'none',
  };

  function debug(...args) {
    try {
      console.debug('[TokenDesk relay]', ...args);
    } catch (_) {
      // console itself may be unusable; nothing else to do.
    }
  }

  // Splits a byte stream into SSE lines the way Dify's web client does (split on "\n"), and calls
  // onData with the text after "data:" of each data line. Pings, comments and other fields are dropped.
  function createSseParser(onData) {
    const decoder = new TextDecoder('utf-8');
    let partial = '';

    function feed(text, final) {
      const lines = (partial + text).split('\n');
      partial = final ? '' : lines.pop();
      for (const raw of lines) {
        const line = raw.endsWith('\r') ? raw.slice(0, -1) : raw;
        if (line.startsWith('data:')) onData(line.slice(line.startsWith('data: ') ? 6 : 5));
      }
    }

    return {
      push(chunk) {
        // stream: true keeps a multibyte character split across chunks for the next call.
        feed(decoder.decode(chunk, { stream: true }), false);
      },
      end() {
        feed(decoder.decode(), true);
      },
    };
  }

  function isRequestObject(input) {
    return typeof input === 'object' && input !== null && typeof input.url === 'string' && typeof input.method === 'string';
  }

  // Works out what kind of request this is, or null for everything that must pass through untouched.
  function routeOf(input, init, baseHref) {
    const url = new URL(isRequestObject(input) ? input.url : String(input), baseHref);
    if (url.protocol !== 'http:' && url.protocol !== 'https:') return null;
    const path = url.pathname;
    const method = String((init && init.method) || (isRequestObject(input) && input.method) || 'GET').toUpperCase();

    if (method === 'POST') {
      const endpoint = SEND_ENDPOINTS.find((name) => path.endsWith('/api/' + name));
      if (endpoint) return { type: 'stream', endpoint, gated: true };
    }
    if (method === 'GET' && RECONNECT_PATH.test(path)) {
      return { type: 'stream', endpoint: RECONNECT_ENDPOINT, gated: false };
    }
    for (const call of MODEL_CALLS) {
      const match = method === call.method && call.path.exec(path);
      if (match) return { type: 'model_call', call, id: decodeURIComponent(match[1]) };
    }
    return null;
  }

  // Resolves to the request body as text, or null when it is not readable text. A Request input is
  // cloned now, synchronously, because fetch is about to consume its body.
  function readBodyText(input, init) {
    try {
      if (init && init.body != null) return Promise.resolve(typeof init.body === 'string' ? init.body : null);
      if (isRequestObject(input) && !input.bodyUsed) return input.clone().text().catch(() => null);
    } catch (err) {
      debug('cannot read request body', err);
    }
    return Promise.resolve(null);
  }

  function parseObject(text) {
    try {
      const value = JSON.parse(text);
      return value !== null && typeof value === 'object' ? value : null;
    } catch (_) {
      return null;
    }
  }

  // Chat apps send `query`; completion and workflow apps send only `inputs`.
  function queryOf(bodyText) {
    const body = bodyText == null ? null : parseObject(bodyText);
    if (!body) return '';
    if (typeof body.query === 'string' && body.query !== '') return body.query;
    return body.inputs === undefined ? '' : JSON.stringify(body.inputs);
  }

  // Renaming a conversation by hand sends `{name}` and calls no model; Dify's auto-naming sends
  // `{auto_generate: true}`. An unreadable body is reported, so a model call is never lost.
  function isAutoName(bodyText) {
    const body = bodyText == null ? null : parseObject(bodyText);
    return !body || body.auto_generate === true;
  }

  // The frame's text if Rust reads it whole, else the frame with its ids and usage only.
  function pricedPart(frame, jsonText) {
    if (new TextEncoder().encode(jsonText).length <= MAX_FRAME_BYTES) return jsonText;
    const slim = { metadata: { usage: frame.metadata.usage } };
    for (const key of ['event', 'id', 'message_id', 'conversation_id', 'task_id', 'created_at']) {
      if (key in frame) slim[key] = frame[key];
    }
    return JSON.stringify(slim);
  }

  function withTimeout(promise, ms) {
    let timer;
    const timeout = new Promise((resolve) => {
      timer = setTimeout(() => resolve(TIMED_OUT), ms);
    });
    return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
  }

  function refusalResponse(verdict, text) {
    const status = Number.isInteger(verdict.status) && verdict.status >= 400 && verdict.status <= 599 ? verdict.status : 402;
    const body = {
      code: typeof verdict.code === 'string' && verdict.code ? verdict.code : 'send_blocked',
      message: typeof verdict.message === 'string' && verdict.message ? verdict.message : text.blocked,
      status,
    };
    return new Response(JSON.stringify(body), { status, headers: { 'Content-Type': 'application/json' } });
  }

  // Reads one copy of a streamed reply and reports it when it ends. Never throws, never rejects.
  // sendId: the send the gate let through, which Rust bills the reply to (null: a reconnect, no gate).
  async function trackReply(stream, endpoint, queryPromise, report, sendId) {
    const bound = (args) => (sendId ? { ...args, sendId } : args);
    // totalTokens: a workflow run's own count (workflow_finished), which Rust charges when no usage comes.
    const reply = { message_id: null, conversation_id: null, task_id: null, answer: '', sawMessageEnd: false, totalTokens: null };

    function reportIncomplete(reason) {
      const snapshot = { message_id: reply.message_id, conversation_id: reply.conversation_id, task_id: reply.task_id, answer: reply.answer };
      if (reply.totalTokens !== null) snapshot.total_tokens = reply.totalTokens;
      queryPromise.then((query) => report('report_incomplete', bound({ report: { ...snapshot, endpoint, query, reason } })));
    }

    function appendText(piece) {
      if (typeof piece === 'string') reply.answer += piece;
    }

    function onData(jsonText) {
      const frame = parseObject(jsonText);
      if (!frame) return;
      for (const key of ['message_id', 'conversation_id', 'task_id']) {
        if (typeof frame[key] === 'string' && frame[key]) reply[key] = frame[key];
      }
      switch (frame.event) {
        case 'message':
        case 'agent_message':
          appendText(frame.answer);
          break;
        case 'message_replace':
          // Moderation replaced the whole answer; that is what the user sees.
          if (typeof frame.answer === 'string') reply.answer = frame.answer;
          break;
        case 'text_chunk':
          appendText(frame.data && frame.data.text);
          break;
        case 'workflow_finished': {
          const total = frame.data && frame.data.total_tokens;
          if (Number.isSafeInteger(total) && total >= 0) reply.totalTokens = total;
          break;
        }
        case 'message_end': {
          reply.sawMessageEnd = true;
          const usage = frame.metadata && frame.metadata.usage;
          // Rust gets the frame as received (or, past its size limit, what pricing reads of it) and parses
          // and validates it itself.
          if (usage !== null && typeof usage === 'object') report('report_usage', bound({ frame: pricedPart(frame, jsonText) }));
          else reportIncomplete('no_usage');
          break;
        }
      }
    }

    const parser = createSseParser(onData);
    try {
      const reader = stream.getReader();
      for (;;) {
        const { done, value } = await reader.read();
        if (done) break;
        parser.push(value);
      }
    } catch (err) {
      // Aborted by the page (stop button) or a network error: report what was streamed so far.
      debug('reply stream ended early', err);
    }
    try {
      parser.end();
      if (!reply.sawMessageEnd && (reply.answer || reply.totalTokens !== null)) reportIncomplete('no_message_end');
    } catch (err) {
      debug('cannot finish reply', err);
    }
  }

  // textOf() is the current language's texts: the user may switch while the page is open.
  function createBadge(win, textOf) {
    // metered: false once Rust says this page's app is not configured (or metering is off).
    const state = { balance: null, online: true, metered: true };
    let view = null;

    function render() {
      if (!view) return;
      const text = textOf();
      const format = new Intl.NumberFormat(text.locale, { maximumFractionDigits: 2 });
      const parts = [];
      if (state.balance !== null) parts.push(format.format(state.balance) + ' ' + text.credits);
      parts.push(!state.online ? text.offline : state.metered ? text.monitoring : text.notMetered);
      view.label.textContent = parts.join(' · ');
      if (state.balance !== null) view.host.setAttribute('data-balance', String(state.balance));
    }

    function style(root, label) {
      if (typeof win.CSSStyleSheet === 'function' && 'adoptedStyleSheets' in root) {
        const rules = Object.entries(BADGE_STYLE).map(([name, value]) => name + ': ' + value + ';').join(' ');
        const sheet = new win.CSSStyleSheet();
        sheet.replaceSync('.badge { ' + rules + ' }');
        root.adoptedStyleSheets = [sheet];
      } else {
        for (const [name, value] of Object.entries(BADGE_STYLE)) label.style.setProperty(name, value);
      }
    }

    function mount() {
      try {
        const doc = win.document;
        if (!doc.documentElement) return;
        const host = doc.createElement('div');
        host.id = 'tokendesk-badge';
        const root = host.attachShadow({ mode: 'open' });
        const label = doc.createElement('div');
        label.className = 'badge';
        style(root, label);
        root.appendChild(label);
        doc.documentElement.appendChild(host);
        view = { host, label };
        render();
      } catch (err) {
        debug('cannot show badge', err);
      }
    }

    try {
      const doc = win.document;
      // The script runs before the DOM exists; wait for it.
      if (doc && doc.readyState === 'loading') doc.addEventListener('DOMContentLoaded', mount, { once: true });
      else if (doc) mount();
    } catch (err) {
      debug('cannot schedule badge', err);
    }

    return {
      // Called after every invoke: a result may carry a fresh balance; a failure means offline.
      update(result, online) {
        try {
          state.online = online;
          if (result && typeof result.balance === 'number' && Number.isFinite(result.balance)) state.balance = result.balance;
          if (result && typeof result.monitor === 'string') state.metered = result.monitor !== 'not_metered';
          render();
        } catch (err) {
          debug('cannot update badge', err);
        }
      },
    };
  }

  function install(win) {
    try {
      if (!win || win[GUARD]) return false;
      const internals = win.__TAURI_INTERNALS__;
      if (!internals || typeof internals.invoke !== 'function' || typeof win.fetch !== 'function') return false;
      const protocol = new URL(win.location.href).protocol;
      if (protocol !== 'http:' && protocol !== 'https:') return false;
      Object.defineProperty(win, GUARD, { value: true });

      // The shell hands over the language (picked by hand, else the OS's); WebKitGTK's
      // navigator.language does not follow the OS. relay_status may name a newer choice.
      const told = win.__TOKENDESK_LANGUAGE__ || (win.navigator && win.navigator.language) || '';
      let text = /^zh/i.test(String(told)) ? TEXT.zh : TEXT.en;
      const badge = createBadge(win, () => text);
      const originalFetch = win.fetch;

      // What to do with a send the gate cannot check, as Rust last said; until it has, block.
      let whenUnchecked = 'block';

      // Every call to Rust: resolves to the result, or to undefined on any failure (never rejects).
      function call(cmd, args) {
        let pending;
        try {
          pending = Promise.resolve(internals.invoke(cmd, args));
        } catch (err) {
          pending = Promise.reject(err);
        }
        return pending.then(
          (result) => {
            if (result && Object.prototype.hasOwnProperty.call(TEXT, result.language)) text = TEXT[result.language];
            if (result && (result.when_unchecked === 'allow' || result.when_unchecked === 'block')) whenUnchecked = result.when_unchecked;
            badge.update(result, true);
            return result;
          },
          (err) => {
            debug(cmd + ' failed', err);
            badge.update(null, false);
            return undefined;
          },
        );
      }

      // A report: sent until Rust answers (it answers once the charge is committed), with waits between.
      async function report(cmd, args) {
        for (let attempt = 0; ; attempt++) {
          const result = await call(cmd, args);
          if (result !== undefined || attempt >= REPORT_RETRY_MS.length) return result;
          await new Promise((resolve) => setTimeout(resolve, REPORT_RETRY_MS[attempt]));
        }
      }

      // The pre-send gate: { sendId } to send (the send Rust bound to this page, if it answered), or
      // { refusal } for the page instead. Only an answer that says "allowed" lets a send through as
      // checked; a send the gate could not check is refused, or, where the policy allows it, let through
      // and reported. The query goes with the question: a send never reported is charged as its estimate.
      async function gate(endpoint, queryPromise) {
        let verdict;
        let allowed;
        let sendId = null;
        try {
          const asked = queryPromise.then((query) => call('check_send', { endpoint, query }));
          verdict = await withTimeout(asked, CHECK_SEND_TIMEOUT_MS);
          allowed = verdict && verdict !== TIMED_OUT ? verdict.allowed : undefined;
          if (allowed === true && typeof verdict.send_id === 'string') sendId = verdict.send_id;
        } catch (err) {
          debug('pre-send gate failed', err);
        }
        if (allowed === true) return { sendId };
        if (allowed === false) return { refusal: refusalResponse(verdict, text) };
        if (whenUnchecked === 'allow') {
          report('report_unchecked_send', { endpoint, reason: verdict === TIMED_OUT ? 'no_answer' : 'failed' });
          return { sendId };
        }
        return { refusal: refusalResponse({ status: 503, code: 'send_unchecked', message: text.unchecked }, text) };
      }

      async function fetchStream(thisArg, args, route) {
        let query = Promise.resolve('');
        try {
          query = readBodyText(args[0], args[1]).then(queryOf);
        } catch (err) {
          debug('cannot read the query', err);
        }
        const { refusal, sendId } = route.gated ? await gate(route.endpoint, query) : { sendId: null };
        if (refusal) return refusal;
        // A send Dify never answered with a reply spent nothing: Rust stops waiting for its report.
        const failed = () => sendId && report('report_send_failed', { sendId });
        let response;
        try {
          response = await originalFetch.apply(thisArg, args);
        } catch (err) {
          failed();
          throw err;
        }
        try {
          if (response && response.ok && response.body) {
            // clone() tees the body: the page keeps the original Response (same object, byte-identical
            // stream, url and type intact) and the relay reads the copy in the background.
            trackReply(response.clone().body, route.endpoint, query, report, sendId);
          } else {
            failed();
          }
        } catch (err) {
          debug('cannot copy reply stream', err);
        }
        return response;
      }

      function fetchModelCall(thisArg, args, route) {
        const body = route.call.kind === 'conversation_name' ? readBodyText(args[0], args[1]) : Promise.resolve(null);
        const pending = originalFetch.apply(thisArg, args);
        Promise.resolve(pending)
          .then(async (response) => {
            if (!response || !response.ok || !isAutoName(await body)) return;
            const ids = { conversation_id: null, message_id: null, [route.call.idField]: route.id };
            report('report_model_call', { call: { kind: route.call.kind, ...ids } });
          })
          .catch(() => {
            // The page sees its own failure; nothing was spent.
          });
        return pending;
      }

      win.fetch = function fetch(input, init) {
        let route = null;
        try {
          route = routeOf(input, init, win.location.href);
        } catch (err) {
          debug('cannot classify request', err);
        }
        if (!route) return originalFetch.apply(this, arguments);
        if (route.type === 'stream') return fetchStream(this, arguments, route);
        return fetchModelCall(this, arguments, route);
      };

      call('relay_status', {});
      return true;
    } catch (err) {
      debug('install failed', err);
      return false;
    }
  }

  if (typeof window !== 'undefined' && window.document) {
    install(window);
  } else if (typeof module !== 'undefined' && module.exports) {
    module.exports = { createSseParser, install };
  }
})();
