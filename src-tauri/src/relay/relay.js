// TokenDesk relay. Tauri injects this file into the Dify web app (initialization_script), so it
// runs before any page script. It copies Dify's own SSE replies from fetch and passes the raw facts
// (the message_end frame, or the query and streamed answer when usage is missing) to Rust, which
// validates and prices them. Whatever fails here, the page must keep working exactly as without it.
(function () {
  'use strict';

  const GUARD = '__TOKENDESK_RELAY__';
  // Rust pushes the relay's state (the gate's verdict among it) through this function.
  const STATE_RECEIVER = '__TOKENDESK_RELAY_STATE__';
  // Rust pushes a state at least every 5 s; one older than this means Rust is not keeping it fresh, so
  // the gate is asked and waited for instead.
  const STATE_FRESH_MS = 15000;
  // A hung check_send must not freeze the chat; past this, the send is unchecked (see gate()).
  const CHECK_SEND_TIMEOUT_MS = 10000;
  const TIMED_OUT = Symbol('timed out');

  // A report Rust could not commit (the ledger busy, the IPC failing) is sent again after these waits;
  // its idempotency key makes a repeat harmless. About four minutes in all.
  const REPORT_RETRY_MS = [500, 1000, 2000, 4000, 8000, 15000, 30000, 60000, 120000];

  // Rust reads a message_end of up to 64 KiB. A larger one (a RAG reply's retrieved passages, old Dify's
  // six-byte escapes) goes with its ids and usage only, so its size never decides whether it is billed.
  const MAX_FRAME_BYTES = 60 * 1024;

  // A chat reply whose stream carried no usage (stopped, cut, or a Dify that strips it) is charged at the
  // usage of Dify's own record of the message, read from the web app's /api/messages once Dify has
  // filled it in: first after these waits, then, once an estimate was charged, after these (on an island
  // the record's usage replaces the estimate; on an org's device Rust holds it for the admin).
  const RECORD_WAITS_MS = [0, 300, 700, 1500, 3000, 6000];
  const RECORD_LATE_WAITS_MS = [15000, 30000, 60000];
  // Where the page's storage keeps the sends not bound yet.
  const UNBOUND_SENDS_KEY = '__tokendesk_unbound_sends__';
  // The longest a send let through on the held gate state goes unbound while its reply streams: longer
  // than most replies' first token takes, so the call to Rust seldom meets the reply's first bytes.
  const BIND_GRACE_MS = 250;
  // How many conversations and replies the relay remembers for the side calls about them.
  const SIDE_CONTEXTS_KEPT = 64;
  // One read of the list that takes longer than this counts as "not yet".
  const RECORD_READ_TIMEOUT_MS = 3000;
  const GIVE_UP = Symbol('give up');
  // Reply endpoints (a send, a reconnect) whose app keeps a message list; completion and workflow apps
  // keep none.
  const RECORDED_ENDPOINTS = ['chat-messages', 'workflow/events'];

  // The frames that carry answer text, told from their first bytes (compact or spaced JSON).
  const TEXT_FRAME = /^\{\s*"event"\s*:\s*"(message|agent_message|text_chunk)"/;

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
      lastReply: 'last reply',
      thisChat: 'this chat',
      blocked: 'TokenDesk: sending is blocked (not enough credits or a limit was reached).',
      unchecked: 'TokenDesk could not check this send, so it was not sent. Try again in a moment.',
    },
    zh: {
      locale: 'zh-CN',
      credits: '积分',
      monitoring: '监控中',
      notMetered: '未计量',
      offline: 'TokenDesk 未连接',
      lastReply: '上次回复',
      thisChat: '本次对话',
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

  // The usage pricing needs from a message record of Dify's /api/messages, or null while Dify has not
  // filled it in (a record exists with 0 tokens from the start of a reply).
  function usageOfRecord(item) {
    const tokens = (prompt, completion) =>
      Number.isSafeInteger(prompt) && Number.isSafeInteger(completion) && prompt >= 0 && completion >= 0 && prompt + completion > 0;
    const stored = item.metadata && typeof item.metadata === 'object' ? item.metadata.usage : null;
    const [prompt, completion, price, currency] =
      stored && typeof stored === 'object' && tokens(stored.prompt_tokens, stored.completion_tokens)
        ? [stored.prompt_tokens, stored.completion_tokens, stored.total_price, stored.currency]
        : [item.message_tokens, item.answer_tokens, item.total_price, item.currency];
    if (!tokens(prompt, completion)) return null;
    const priced = { prompt_tokens: prompt, completion_tokens: completion, total_tokens: prompt + completion };
    if ((typeof price === 'string' && price) || Number.isFinite(price)) priced.total_price = String(price);
    if (typeof currency === 'string' && currency) priced.currency = currency;
    return priced;
  }

  // Reads message `messageId` of a conversation from Dify's own list, as the page would (same origin
  // and headers: passport, app code, CSRF; cookies included), after each of `waits`. Resolves to a
  // message_end frame's text built from the record's usage, or null: never rejects. A Dify without the
  // list (404), or an answer that is not the list, ends the wait at once.
  async function readRecord(request, ids, waits) {
    const readOnce = async () => {
      const url = new URL(request.apiBase + 'messages');
      url.searchParams.set('conversation_id', ids.conversation_id);
      url.searchParams.set('limit', '20');
      const response = await request.fetch(url.href, { method: 'GET', headers: request.headers, credentials: 'include' });
      if (!response || !response.ok) return GIVE_UP;
      const list = parseObject(await response.text());
      if (!list || !Array.isArray(list.data)) return GIVE_UP;
      const item = list.data.find((message) => message && message.id === ids.message_id);
      const usage = item ? usageOfRecord(item) : null;
      return usage && JSON.stringify({ event: 'message_end', id: ids.message_id, message_id: ids.message_id, conversation_id: ids.conversation_id, metadata: { usage } });
    };
    for (const wait of waits) {
      await new Promise((resolve) => setTimeout(resolve, wait));
      let outcome;
      try {
        outcome = await withTimeout(readOnce(), RECORD_READ_TIMEOUT_MS);
      } catch (err) {
        debug('cannot read the message record', err);
        return null;
      }
      if (outcome === GIVE_UP) return null;
      if (typeof outcome === 'string') return outcome;
    }
    return null;
  }

  // What the page saw of the replies a side call is about, so Rust can estimate the call's prompt: the
  // first query of each conversation (Dify names a conversation from it) and each reply's query and
  // answer (Dify suggests questions from them). Bounded: the oldest are forgotten first.
  function createSideContexts() {
    const firstQueries = new Map();
    const replies = new Map();
    const remember = (map, key, value) => {
      map.set(key, value);
      if (map.size > SIDE_CONTEXTS_KEPT) map.delete(map.keys().next().value);
    };
    return {
      // Called once per reply, when its ids are known; the answer is read only if a side call needs it.
      noteReply(conversationId, messageId, queryPromise, answerOf) {
        if (conversationId && !firstQueries.has(conversationId)) remember(firstQueries, conversationId, queryPromise);
        if (messageId) remember(replies, messageId, { conversationId, queryPromise, answerOf });
      },
      // { context, conversation_id } for a call about a conversation or a message; empty when unseen.
      async of(kind, id) {
        if (kind === 'conversation_name') return { context: (await firstQueries.get(id)) || '', conversation_id: id };
        const reply = replies.get(id);
        if (!reply) return { context: '', conversation_id: null };
        const query = await reply.queryPromise;
        return { context: (query ? query + '\n' : '') + reply.answerOf(), conversation_id: reply.conversationId };
      },
    };
  }

  // An id for one send or side call, so what is sent again about it names the same one.
  function newId(win) {
    if (win.crypto && typeof win.crypto.randomUUID === 'function') return win.crypto.randomUUID();
    return Date.now().toString(36) + '-' + Math.random().toString(36).slice(2, 14);
  }

  // Sends let through but not yet bound by Rust, kept in the page's storage until they are: a window
  // closed before a send's reply began leaves its send there, and the relay of the next page binds it
  // (reading that reply means opening the chat again).
  function createUnboundSends(win) {
    let storage = null;
    try {
      storage = win.localStorage || null;
    } catch (_) {
      // Storage refused (a sandboxed page): nothing is kept.
    }
    const read = () => {
      try {
        const kept = JSON.parse(storage.getItem(UNBOUND_SENDS_KEY) || '{}');
        return kept && typeof kept === 'object' ? kept : {};
      } catch (_) {
        return {};
      }
    };
    const change = (edit) => {
      if (!storage) return;
      try {
        const sends = read();
        edit(sends);
        if (Object.keys(sends).length) storage.setItem(UNBOUND_SENDS_KEY, JSON.stringify(sends));
        else storage.removeItem(UNBOUND_SENDS_KEY);
      } catch (err) {
        debug('cannot keep the unbound sends', err);
      }
    };
    return {
      keep: (key, send) => change((sends) => (sends[key] = send)),
      bound: (key) => change((sends) => delete sends[key]),
      // [key, { endpoint, query }] of each send an earlier page left.
      left: () => (storage ? Object.entries(read()) : []),
    };
  }

  // What a side call answered, from a copy of its response: the name, or the questions.
  async function sideCallOutput(kind, copy) {
    const body = await copy.json();
    if (kind === 'conversation_name') return body && typeof body.name === 'string' ? body.name : '';
    return body && Array.isArray(body.data) ? JSON.stringify(body.data) : '';
  }

  // Reads one copy of a streamed reply and reports it when it ends. Never throws, never rejects.
  // sendIdPromise: the send the gate let through, which Rust bills the reply to (null: a reconnect, no
  // gate, or a send Rust never bound). recordRequest: how to read Dify's record of the message (null:
  // the app keeps none). tally: takes Rust's answer to each report, with the reply's conversation.
  // leaving: what must be reported at once when the page goes away (an estimate waiting for a record).
  // sides: where the reply is noted for the side calls about it. ended: called once the reply's stream
  // has ended, before anything is reported.
  async function trackReply(stream, { endpoint, queryPromise, report, sendIdPromise, recordRequest, tally, leaving, sides, ended }) {
    const sendAs = (cmd, args) =>
      sendIdPromise.then((sendId) => report(cmd, sendId ? { ...args, sendId } : args)).then((result) => tally(reply.conversation_id, result));
    // totalTokens: a workflow run's own count (workflow_finished), which Rust charges when no usage comes.
    // texts: the text frames (the bulk of a stream) kept as received once the reply's ids are known, and
    // read only if an estimate needs the answer; every other frame is parsed once the stream has ended.
    const reply = { message_id: null, conversation_id: null, task_id: null, workflow_run_id: null, answer: '', texts: [], sawMessageEnd: false, totalTokens: null, noted: false };

    // The answer streamed so far, the kept text frames read now.
    function answerOf() {
      for (const text of reply.texts) {
        const frame = parseObject(text);
        if (frame) appendText(frame.event === 'text_chunk' ? frame.data && frame.data.text : frame.answer);
      }
      reply.texts = [];
      return reply.answer;
    }

    function reportEstimate(reason) {
      const snapshot = { message_id: reply.message_id, conversation_id: reply.conversation_id, task_id: reply.task_id, workflow_run_id: reply.workflow_run_id, answer: answerOf() };
      if (reply.totalTokens !== null) snapshot.total_tokens = reply.totalTokens;
      return queryPromise.then((query) => sendAs('report_incomplete', { report: { ...snapshot, endpoint, query, reason } }));
    }

    // A reply without usage: Dify's record of it if it can be had, else an estimate, followed by the
    // record's usage if it comes later (on an island Rust replaces the estimate with it).
    async function reportIncomplete(reason) {
      const ids = { message_id: reply.message_id, conversation_id: reply.conversation_id };
      if (!recordRequest || !ids.message_id || !ids.conversation_id) return reportEstimate(reason);
      let estimated = false;
      const estimate = () => {
        leaving.delete(estimate);
        if (estimated) return undefined;
        estimated = true;
        return reportEstimate(reason);
      };
      leaving.add(estimate);
      const record = await readRecord(recordRequest, ids, RECORD_WAITS_MS);
      if (record && !estimated) {
        leaving.delete(estimate);
        return sendAs('report_usage', { frame: record });
      }
      await estimate();
      const late = await readRecord(recordRequest, ids, RECORD_LATE_WAITS_MS);
      if (late) sendAs('report_usage', { frame: late });
    }

    function appendText(piece) {
      if (typeof piece === 'string') reply.answer += piece;
    }

    function onData(jsonText) {
      const kind = TEXT_FRAME.exec(jsonText);
      // A chat's text frames after the first name no new ids; a workflow's have no message id at all.
      if (kind && reply.task_id && (reply.message_id || kind[1] === 'text_chunk')) {
        reply.texts.push(jsonText);
        return;
      }
      const frame = parseObject(jsonText);
      if (!frame) return;
      for (const key of ['message_id', 'conversation_id', 'task_id', 'workflow_run_id']) {
        if (typeof frame[key] === 'string' && frame[key]) reply[key] = frame[key];
      }
      if (!reply.noted && reply.message_id) {
        reply.noted = true;
        sides.noteReply(reply.conversation_id, reply.message_id, queryPromise, answerOf);
      }
      switch (frame.event) {
        case 'message':
        case 'agent_message':
          appendText(frame.answer);
          break;
        case 'message_replace':
          // Moderation replaced the whole answer; that is what the user sees.
          if (typeof frame.answer === 'string') {
            reply.texts = [];
            reply.answer = frame.answer;
          }
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
          if (usage !== null && typeof usage === 'object') sendAs('report_usage', { frame: pricedPart(frame, jsonText) });
          else reportIncomplete('no_usage');
          break;
        }
      }
    }

    // The chunks are only kept while the reply streams, and read once it has ended and the page has had
    // its last bytes: reading them as they come would take the page's thread from it on every frame.
    const chunks = [];
    try {
      const reader = stream.getReader();
      for (;;) {
        const { done, value } = await reader.read();
        if (done) break;
        chunks.push(value);
      }
    } catch (err) {
      // Aborted by the page (stop button) or a network error: report what was streamed so far.
      debug('reply stream ended early', err);
    }
    ended();
    // After the page's own last read, or at once if the page goes away first.
    let finished = false;
    const finish = () => {
      leaving.delete(finish);
      if (finished) return;
      finished = true;
      try {
        const parser = createSseParser(onData);
        for (const chunk of chunks) parser.push(chunk);
        parser.end();
        if (!reply.sawMessageEnd && (reply.answer || reply.texts.length || reply.totalTokens !== null)) reportIncomplete('no_message_end');
      } catch (err) {
        debug('cannot finish reply', err);
      }
    };
    leaving.add(finish);
    setTimeout(finish, 0);
  }

  // Credits as Rust sends them (a decimal string) shown to two places, rounded half away from zero like
  // the windows: integer arithmetic (BigInt) only, as a float would round some balances wrongly. Null
  // for anything that is not a plain decimal.
  function formatCredits(decimalText, locale) {
    const match = typeof decimalText === 'string' && /^(-?)(\d+)(?:\.(\d+))?$/.exec(decimalText);
    if (!match) return null;
    const [, sign, whole, fraction = ''] = match;
    let hundredths = BigInt(whole + (fraction + '00').slice(0, 2));
    if ((fraction[2] || '0') >= '5') hundredths += 1n;
    const format = new Intl.NumberFormat(locale);
    const integer = format.format(hundredths / 100n);
    const cents = String(hundredths % 100n).padStart(2, '0').replace(/0+$/, '');
    const point = format.formatToParts(0.5).find((part) => part.type === 'decimal');
    const negative = sign && hundredths !== 0n ? '-' : '';
    return negative + integer + (cents ? (point ? point.value : '.') + cents : '');
  }

  // The micro-credits a ChargeResult charged, exactly, from its decimal `amount` (amount_micros, a JSON
  // number, would lose digits past 2^53). Null for anything else.
  function chargedMicros(result) {
    const match = typeof result.amount === 'string' && /^(\d+)(?:\.(\d{1,6}))?$/.exec(result.amount);
    return match ? BigInt(match[1] + (match[2] || '').padEnd(6, '0')) : null;
  }

  // Non-negative micro-credits (a BigInt) as the decimal string formatCredits reads.
  function creditsOfMicros(micros) {
    return String(micros / 1000000n) + '.' + String(micros % 1000000n).padStart(6, '0');
  }

  // textOf() is the current language's texts: the user may switch while the page is open.
  function createBadge(win, textOf) {
    // metered: false once Rust says this page's app is not configured (or metering is off).
    const state = { balance: null, online: true, metered: true };
    let view = null;
    // The charged replies by message id, with their conversation and the order their replies began in.
    // Only this page's replies since it loaded: the relay cannot read a conversation's older charges.
    const charges = new Map();
    // The latest reply Rust answered for (by the order replies began in); its conversation is the current one.
    let latest = { order: 0, conversation: undefined };
    let replies = 0;

    // The current conversation's latest charged reply and total, in micro-credits; null until it has one.
    function costs() {
      let last = null;
      let total = 0n;
      for (const charge of charges.values()) {
        if (charge.conversation !== latest.conversation) continue;
        total += charge.micros;
        if (!last || charge.order >= last.order) last = charge;
      }
      return last && { last: last.micros, total };
    }

    function render() {
      if (!view) return;
      const text = textOf();
      const parts = [];
      const balance = formatCredits(state.balance, text.locale);
      if (balance !== null) parts.push(balance + ' ' + text.credits);
      parts.push(!state.online ? text.offline : state.metered ? text.monitoring : text.notMetered);
      const cost = costs();
      if (cost) {
        parts.push(text.lastReply + ' ' + formatCredits(creditsOfMicros(cost.last), text.locale));
        // A workflow or completion reply has no conversation to total.
        if (typeof latest.conversation === 'string') parts.push(text.thisChat + ' ' + formatCredits(creditsOfMicros(cost.total), text.locale));
      }
      // Written only when changed: a write lays the page out again, while a reply may be streaming.
      const label = parts.join(' · ');
      if (view.label.textContent !== label) view.label.textContent = label;
      if (state.balance !== null && view.host.getAttribute('data-balance') !== state.balance) view.host.setAttribute('data-balance', state.balance);
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
          if (result && formatCredits(result.balance, 'en-US') !== null) state.balance = result.balance;
          if (result && typeof result.monitor === 'string') state.metered = result.monitor !== 'not_metered';
          render();
        } catch (err) {
          debug('cannot update badge', err);
        }
      },
      // A tally for one reply, made as its stream begins; it takes Rust's answer to each report of the
      // reply. A message is charged once: a repeat is answered `duplicate` and adds nothing, and a second
      // `charged` (the real usage superseding an estimate) replaces the first amount. A `duplicate` with
      // an amount for a message not counted yet is a charge the outbox committed before this report.
      // A side call's tally ({ side: true }) adds to its conversation's total but is never its last reply.
      reply({ side = false } = {}) {
        const order = side ? 0 : ++replies;
        return (conversation, result) => {
          try {
            if (!side && order >= latest.order) latest = { order, conversation };
            const id = result && typeof result.message_id === 'string' ? result.message_id : null;
            const counts = id && (result.outcome === 'charged' || (result.outcome === 'duplicate' && !charges.has(id)));
            const micros = counts ? chargedMicros(result) : null;
            if (micros !== null && (micros > 0n || result.outcome === 'charged')) charges.set(id, { order, conversation, ...charges.get(id), micros });
            render();
          } catch (err) {
            debug('cannot count the reply cost', err);
          }
        };
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

      // Estimates still waiting for Dify's record: sent at once when the page goes away.
      const leaving = new Set();
      const sides = createSideContexts();
      const unbound = createUnboundSends(win);
      if (typeof win.addEventListener === 'function') {
        win.addEventListener('pagehide', () => {
          // What one report hands over may leave another (a reply read now waits for its record).
          for (let round = 0; leaving.size && round < 3; round++) {
            for (const report of [...leaving]) report();
          }
        });
        // A click of the user's own on a link (trusted: no page script can make one) is told to Rust,
        // which opens a link the chat window refuses in the system browser only when such a click named it.
        win.addEventListener(
          'click',
          (event) => {
            try {
              const target = event.isTrusted && event.target;
              const link = target && typeof target.closest === 'function' ? target.closest('a[href]') : null;
              if (link && typeof link.href === 'string') call('report_link_click', { href: link.href });
            } catch (err) {
              debug('cannot tell a click', err);
            }
          },
          true,
        );
      }

      // What to do with a send the gate cannot check, as Rust last said; until it has, block.
      let whenUnchecked = 'block';
      // The newest state Rust handed over, with when it came (page clock).
      let held = null;

      // Takes a state from Rust (an answer to relay_status, or a push) unless a newer fresh one is held. A
      // stale state gives way to any: a page that handed over a forged far-off version blocks nothing.
      function adopt(state, receivedAt) {
        if (!state || !Number.isSafeInteger(state.version) || typeof state.page !== 'string') return;
        if (!state.gate || typeof state.gate.allowed !== 'boolean') return;
        if (held && held.state.version >= state.version && isFresh(held)) return;
        held = { state, receivedAt };
      }

      const isFresh = (entry) => performance.now() - entry.receivedAt <= STATE_FRESH_MS;

      // The held state when it is fresh and for this page (origin and path: the app is resolved from
      // them), else null.
      function heldState() {
        if (!held || !isFresh(held)) return null;
        try {
          const page = new URL(held.state.page);
          const here = new URL(win.location.href);
          return page.origin === here.origin && page.pathname === here.pathname ? held.state : null;
        } catch (_) {
          return null;
        }
      }

      // What any answer or push from Rust may carry: a state, the language, the unchecked-send policy, a
      // balance for the badge.
      function take(result) {
        adopt(result, performance.now());
        if (result && Object.prototype.hasOwnProperty.call(TEXT, result.language)) text = TEXT[result.language];
        if (result && (result.when_unchecked === 'allow' || result.when_unchecked === 'block')) whenUnchecked = result.when_unchecked;
        badge.update(result, true);
      }

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
            try {
              take(result);
            } catch (err) {
              debug('cannot take the answer to ' + cmd, err);
            }
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

      // Asks the gate, never longer than CHECK_SEND_TIMEOUT_MS. Resolves to { allowed, sendId, answer }:
      // allowed is true or false only when the gate said so; answer is what came (TIMED_OUT, undefined, or
      // the answer itself), for a refusal's text. A binding that comes after the relay stopped waiting is
      // handed back at once: the send went on without it (its reports name no send) or was refused, and
      // Rust would otherwise charge it again as an unreported send.
      // version: the held state a send was decided on, whose page Rust binds it to; key: the relay's id for
      // the send, which Rust binds it by.
      function askGate(endpoint, queryPromise, sent, version, key) {
        const asked = queryPromise.then((query) => call('check_send', { endpoint, query, sent, version, key }));
        return withTimeout(asked, CHECK_SEND_TIMEOUT_MS)
          .catch(() => undefined)
          .then((answer) => {
            if (answer === TIMED_OUT) {
              asked.then((late) => {
                const sendId = late && typeof late.send_id === 'string' ? late.send_id : null;
                if (sendId) report('report_send_failed', { sendId });
              });
            }
            const reading = { allowed: undefined, sendId: null, answer };
            try {
              if (answer && answer !== TIMED_OUT && typeof answer.allowed === 'boolean') reading.allowed = answer.allowed;
              if (answer && answer !== TIMED_OUT && typeof answer.send_id === 'string') reading.sendId = answer.send_id;
            } catch (err) {
              debug('unreadable gate answer', err);
            }
            return reading;
          });
      }

      // A send let through without a binding from Rust: recorded, and billed to the page it reports from.
      function unchecked(endpoint, answer) {
        report('report_unchecked_send', { endpoint, reason: answer === TIMED_OUT ? 'no_answer' : 'failed' });
        return null;
      }

      // The pre-send gate: { sendId } to send, a promise of the send Rust bound to this page (or null);
      // { bind } to send and then bind; or { refusal } for the page instead. With a fresh state from Rust
      // the relay decides at once and the gate is asked beside the request (a send it lets through is
      // bound even when the gate now disagrees, and that is recorded). Without one it waits for the gate:
      // only an answer that says "allowed" lets a send through as checked; one the gate could not check
      // is refused, or, where the policy allows it, let through and recorded. The query goes with the
      // question: a send never reported is charged as its estimate.
      async function gate(endpoint, queryPromise) {
        const state = heldState();
        if (state && !state.gate.allowed) {
          askGate(endpoint, queryPromise, false, state.version);
          return { refusal: refusalResponse(state.gate, text) };
        }
        if (state) {
          const key = newId(win);
          queryPromise.then((query) => unbound.keep(key, { endpoint, query, version: state.version }));
          const bind = () =>
            askGate(endpoint, queryPromise, true, state.version, key).then((reading) => {
              unbound.bound(key);
              return reading.sendId || unchecked(endpoint, reading.answer);
            });
          return { bind };
        }
        const reading = await askGate(endpoint, queryPromise, undefined);
        if (reading.allowed === true) return { sendId: Promise.resolve(reading.sendId) };
        if (reading.allowed === false) return { refusal: refusalResponse(reading.answer, text) };
        if (whenUnchecked === 'allow') return { sendId: Promise.resolve(unchecked(endpoint, reading.answer)) };
        return { refusal: refusalResponse({ status: 503, code: 'send_unchecked', message: text.unchecked }, text) };
      }

      // A send decided on the held state is bound once its request is on its way, never before it, and
      // not while its reply streams to the page, which a call to Rust slows: when the reply has ended,
      // after BIND_GRACE_MS of it, or as the page goes away, whichever comes first. Until then the page's
      // storage keeps it (a window closed first leaves it to the next page), and Rust binds it to the page
      // the state it was decided on was for (the page may have moved on since).
      function deferredBinding(bind) {
        let bound = false;
        let resolveSendId;
        const sendId = new Promise((resolve) => (resolveSendId = resolve));
        const bindNow = () => {
          if (bound) return;
          bound = true;
          clearTimeout(timer);
          leaving.delete(bindNow);
          resolveSendId(bind());
        };
        const timer = setTimeout(bindNow, BIND_GRACE_MS);
        leaving.add(bindNow);
        return { sendId, bindNow };
      }

      // How to read Dify's records for a reply of this request: the same API base and headers, through
      // the page's own fetch (not the relay's). Null where the app keeps no message list.
      function recordRequestOf(args, route) {
        if (!RECORDED_ENDPOINTS.includes(route.endpoint)) return null;
        try {
          const [input, init] = args;
          const url = new URL(isRequestObject(input) ? input.url : String(input), win.location.href);
          const headers = new Headers(isRequestObject(input) ? input.headers : undefined);
          new Headers(init && init.headers).forEach((value, name) => headers.set(name, value));
          headers.delete('content-type');
          headers.delete('content-length');
          return {
            apiBase: url.origin + url.pathname.slice(0, url.pathname.lastIndexOf('/api/') + 5),
            headers,
            fetch: (target, options) => originalFetch.call(win, target, options),
          };
        } catch (err) {
          debug('cannot tell how to read message records', err);
          return null;
        }
      }

      async function fetchStream(thisArg, args, route) {
        let query = Promise.resolve('');
        try {
          query = readBodyText(args[0], args[1]).then(queryOf);
        } catch (err) {
          debug('cannot read the query', err);
        }
        const gated = route.gated ? await gate(route.endpoint, query) : { sendId: Promise.resolve(null) };
        if (gated.refusal) return gated.refusal;
        let pending;
        try {
          pending = originalFetch.apply(thisArg, args);
        } catch (err) {
          pending = Promise.reject(err);
        }
        const { sendId, bindNow } = gated.bind ? deferredBinding(gated.bind) : { sendId: gated.sendId, bindNow: () => {} };
        // A send Dify never answered with a reply spent nothing: Rust stops waiting for its report.
        const failed = () => sendId.then((id) => id && report('report_send_failed', { sendId: id }));
        let response;
        try {
          response = await pending;
        } catch (err) {
          bindNow();
          failed();
          throw err;
        }
        try {
          if (response && response.ok && response.body) {
            // clone() tees the body: the page keeps the original Response (same object, byte-identical
            // stream, url and type intact) and the relay reads the copy in the background.
            trackReply(response.clone().body, {
              endpoint: route.endpoint,
              queryPromise: query,
              report,
              sendIdPromise: sendId,
              recordRequest: recordRequestOf(args, route),
              leaving,
              sides,
              ended: bindNow,
              tally: badge.reply(),
            });
          } else {
            bindNow();
            failed();
          }
        } catch (err) {
          debug('cannot copy reply stream', err);
        }
        return response;
      }

      // A side call: reported once Dify answered it, with what the page saw of its reply and its answer,
      // so Rust can price it as the policy says.
      function fetchModelCall(thisArg, args, route) {
        const kind = route.call.kind;
        const body = kind === 'conversation_name' ? readBodyText(args[0], args[1]) : Promise.resolve(null);
        const pending = originalFetch.apply(thisArg, args);
        Promise.resolve(pending)
          .then(async (response) => {
            if (!response || !response.ok) return;
            // Copied before anything is awaited: the page reads the original as soon as it has it.
            const copy = response.clone();
            if (!isAutoName(await body)) return;
            const callId = newId(win);
            const output = await sideCallOutput(kind, copy).catch(() => '');
            const seen = await sides.of(kind, route.id);
            const call = { call_id: callId, side_call: kind, message_id: null, [route.call.idField]: route.id, ...seen, output };
            const result = await report('report_model_call', { call });
            badge.reply({ side: true })(call.conversation_id, result);
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

      Object.defineProperty(win, STATE_RECEIVER, {
        value: (state) => {
          try {
            take(state);
          } catch (err) {
            debug('cannot take the state', err);
          }
        },
      });
      call('relay_status', {});
      // Sends an earlier page let through and left unbound (its window closed first): bound to the page
      // their state was for while Rust keeps it, else to this one. However late the answer, it binds.
      for (const [key, send] of unbound.left()) {
        call('check_send', { endpoint: send.endpoint, query: send.query, sent: true, version: send.version, key }).then((answer) => {
          if (answer && typeof answer.send_id === 'string') unbound.bound(key);
        });
      }
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
