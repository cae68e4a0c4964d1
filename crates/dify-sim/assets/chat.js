// dify-sim share page. It streams replies the way Dify's web client does:
// globalThis.fetch, response.body.getReader(), a TextDecoder, the text split on
// "\n" and every "data: " line parsed with JSON.parse. It is an external file so
// the page also works under a strict Content-Security-Policy.
(() => {
  'use strict';

  const page = document.body.dataset;
  const kind = page.kind;
  const isChat = kind === 'chat' || kind === 'chatbot';
  const messages = document.getElementById('messages');
  const form = document.getElementById('composer');
  const query = document.getElementById('query');
  const replay = document.getElementById('replay');
  const toast = document.getElementById('toast');
  const conversationName = document.getElementById('conversation-name');

  let conversationId = '';
  let lastRunId = '';
  const named = new Set();

  function showToast(text) {
    toast.textContent = text;
    toast.classList.add('visible');
  }

  function hideToast() {
    toast.classList.remove('visible');
    toast.textContent = '';
  }

  function scrollDown() {
    messages.scrollTop = messages.scrollHeight;
  }

  function bubble(role, text) {
    const el = document.createElement('div');
    el.className = `message ${role}`;
    el.textContent = text;
    messages.appendChild(el);
    scrollDown();
    return el;
  }

  function answerBubble(extraClass) {
    const el = bubble('answer', '');
    if (extraClass) el.classList.add(extraClass);
    el.dataset.messageId = '';
    el.dataset.done = 'false';
    return el;
  }

  function requestFor(text) {
    if (isChat) {
      return ['/api/chat-messages',
        { inputs: {}, query: text, conversation_id: conversationId, response_mode: 'streaming' }];
    }
    const url = kind === 'completion' ? '/api/completion-messages' : '/api/workflows/run';
    return [url, { inputs: { query: text }, response_mode: 'streaming' }];
  }

  // Like Dify's web app: the end user's id is the share URL's sys.user_id (base64 of its gzip), the passport
  // turns it into an access token, and the token goes with every request.
  async function userIdFromUrl() {
    const value = new URLSearchParams(globalThis.location.search).get('sys.user_id');
    if (!value) return '';
    const bytes = Uint8Array.from(atob(decodeURIComponent(value)), (c) => c.charCodeAt(0));
    const text = new Blob([bytes]).stream().pipeThrough(new DecompressionStream('gzip'));
    return new Response(text).text();
  }

  const accessToken = (async () => {
    const userId = await userIdFromUrl();
    const query = userId ? `?user_id=${encodeURIComponent(userId)}` : '';
    const response = await globalThis.fetch(`/api/passport${query}`, { headers: { 'X-App-Code': page.token } });
    return (await response.json()).access_token || '';
  })().catch(() => '');

  async function postJson(url, body) {
    const token = await accessToken;
    const headers = { 'Content-Type': 'application/json' };
    if (token) headers.Authorization = `Bearer ${token}`;
    return globalThis.fetch(url, { method: 'POST', headers, body: JSON.stringify(body) });
  }

  // Like Dify: a failed request's JSON `message` becomes the error toast.
  async function failureMessage(response) {
    try {
      const body = await response.json();
      if (body && typeof body.message === 'string' && body.message) return body.message;
    } catch (_) {
      // Not JSON: fall through to the status.
    }
    return `Request failed: HTTP ${response.status}`;
  }

  async function readStream(response, onFrame) {
    const reader = response.body.getReader();
    const decoder = new TextDecoder('utf-8');
    let buffer = '';
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      buffer += decoder.decode(value, { stream: true });
      const lines = buffer.split('\n');
      buffer = lines.pop(); // an unfinished line waits for the next chunk
      for (const line of lines) {
        if (!line.startsWith('data: ')) continue; // separators and "event: ping"
        let frame;
        try {
          frame = JSON.parse(line.slice(6));
        } catch (_) {
          continue;
        }
        onFrame(frame);
      }
    }
  }

  function handleFrame(reply, state, frame) {
    const id = frame.message_id || frame.workflow_run_id;
    if (id && !reply.dataset.messageId) reply.dataset.messageId = id;
    if (frame.workflow_run_id) {
      lastRunId = frame.workflow_run_id;
      replay.disabled = false;
    }
    if (isChat && frame.conversation_id) {
      state.conversationId = frame.conversation_id;
      conversationId = frame.conversation_id;
    }
    switch (frame.event) {
      case 'message':
      case 'agent_message':
        if (typeof frame.answer === 'string') reply.textContent += frame.answer;
        scrollDown();
        break;
      case 'text_chunk':
        if (frame.data && typeof frame.data.text === 'string') reply.textContent += frame.data.text;
        scrollDown();
        break;
      case 'message_end':
      case 'workflow_finished':
        state.ended = true;
        break;
      case 'error':
        state.failed = true;
        reply.classList.add('error');
        showToast(frame.message || 'The reply failed.');
        break;
      default:
        break;
    }
  }

  // Streams one response into `reply`; false when the request itself failed.
  async function stream(reply, request, state) {
    try {
      const response = await request();
      if (!response.ok) {
        reply.remove();
        showToast(await failureMessage(response));
        return false;
      }
      await readStream(response, (frame) => handleFrame(reply, state, frame));
      return true;
    } catch (err) {
      reply.classList.add('error');
      showToast(`Network error: ${err && err.message ? err.message : err}`);
      return false;
    } finally {
      reply.dataset.done = 'true';
    }
  }

  function showSuggestions(list) {
    if (!Array.isArray(list) || list.length === 0) return;
    const box = document.createElement('div');
    box.className = 'suggested';
    for (const text of list) {
      const button = document.createElement('button');
      button.type = 'button';
      button.textContent = text;
      button.addEventListener('click', () => send(text));
      box.appendChild(button);
    }
    messages.appendChild(box);
    scrollDown();
  }

  // What Dify does once a reply completes: name a new conversation, then
  // fetch suggested questions when the app has them on. Both call the model.
  async function afterReply(cid, messageId) {
    if (cid && !named.has(cid)) {
      named.add(cid);
      try {
        const response = await postJson(
          `/api/conversations/${encodeURIComponent(cid)}/name`, { auto_generate: true });
        if (response.ok) {
          const body = await response.json();
          if (cid === conversationId) conversationName.textContent = body.name || '';
        }
      } catch (_) {
        // Naming is cosmetic.
      }
    }
    if (page.suggested === 'true' && messageId) {
      try {
        const response = await globalThis.fetch(
          `/api/messages/${encodeURIComponent(messageId)}/suggested-questions`);
        if (response.ok) showSuggestions((await response.json()).data);
      } catch (_) {
        // Suggestions are optional.
      }
    }
  }

  async function send(raw) {
    const text = raw.trim();
    if (!text) return;
    hideToast();
    for (const old of messages.querySelectorAll('.suggested')) old.remove();
    bubble('question', text);
    const reply = answerBubble();
    const [url, body] = requestFor(text);
    const state = {};
    const ok = await stream(reply, () => postJson(url, body), state);
    if (ok && isChat && !state.failed) afterReply(state.conversationId, reply.dataset.messageId);
  }

  function submitQuery() {
    const text = query.value;
    query.value = '';
    send(text);
  }

  form.addEventListener('submit', (event) => {
    event.preventDefault();
    submitQuery();
  });

  query.addEventListener('keydown', (event) => {
    // Enter sends, Shift+Enter breaks the line; never while an IME is composing.
    if (event.key === 'Enter' && !event.shiftKey && !event.isComposing && event.keyCode !== 229) {
      event.preventDefault();
      submitQuery();
    }
  });

  replay.addEventListener('click', () => {
    if (!lastRunId) return;
    hideToast();
    const reply = answerBubble('replay');
    stream(reply, () => globalThis.fetch(`/api/workflow/${encodeURIComponent(lastRunId)}/events`), {});
  });

  toast.addEventListener('click', hideToast);
})();
