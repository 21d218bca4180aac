// The reference app's page behaviour: its Alpine components (chat, image switcher, inline
// notes). fastmango.js (loaded first) sets up htmx, the CSRF header and showToast().
// -- chat helpers (the `chat` component below) --------------------------------------------

// Server-sent events from a fetch response body: yields {event, data} with data parsed as JSON.
async function* readEvents(body) {
  const reader = body.pipeThrough(new TextDecoderStream()).getReader();
  let buffer = "";
  for (;;) {
    const { value, done } = await reader.read();
    if (done) return;
    buffer += value;
    let end;
    while ((end = buffer.indexOf("\n\n")) >= 0) {
      const block = buffer.slice(0, end);
      buffer = buffer.slice(end + 2);
      let event = "message";
      const data = [];
      for (const line of block.split("\n")) {
        const colon = line.indexOf(":");
        if (colon === 0) continue; // a comment (keep-alive ping)
        const field = colon < 0 ? line : line.slice(0, colon);
        const value = colon < 0 ? "" : line.slice(colon + 1).replace(/^ /, "");
        if (field === "event") event = value;
        else if (field === "data") data.push(value);
      }
      if (data.length) yield { event, data: JSON.parse(data.join("\n")) };
    }
  }
}

// A message bubble built on the page while the answer streams (text only, never HTML).
function chatBubble(role, text) {
  const row = document.createElement("div");
  row.className = role === "user" ? "chat chat-end" : "chat chat-start";
  row.dataset.role = role;
  row.dataset.testid = "chat-message";
  const bubble = document.createElement("div");
  if (role === "user") {
    bubble.className = "chat-bubble chat-bubble-primary whitespace-pre-wrap break-words";
    bubble.textContent = text;
  } else {
    bubble.className = "chat-bubble bg-base-200 text-base-content break-words";
    const raw = document.createElement("div");
    raw.className = "whitespace-pre-wrap";
    raw.dataset.raw = "";
    raw.dataset.testid = "chat-streaming";
    const typing = document.createElement("span");
    typing.className = "loading loading-dots loading-sm";
    typing.dataset.typing = "";
    typing.setAttribute("aria-label", "Answering");
    bubble.append(raw, typing);
  }
  row.append(bubble);
  return row;
}

function chatFooter(text) {
  const footer = document.createElement("div");
  footer.className = "chat-footer mt-1 text-xs opacity-70";
  footer.textContent = text;
  return footer;
}

function chatNotice(text) {
  const notice = document.createElement("div");
  notice.className = "alert alert-warning my-2";
  notice.setAttribute("role", "alert");
  notice.dataset.testid = "chat-notice";
  notice.textContent = text;
  return notice;
}

// The server's HTML for a message (sanitised there) in place of the streamed text.
function replaceWithHtml(element, html) {
  const template = document.createElement("template");
  template.innerHTML = html;
  element.replaceWith(template.content);
}

async function errorDetail(response) {
  try {
    const body = await response.json();
    if (body.detail) return body.detail;
  } catch {
    // Not JSON: fall through to the status.
  }
  return `The message could not be sent (${response.status}).`;
}

// After Stop, the server saves what had arrived: show that saved version once it is there.
async function showSaved(element, url, attempts = 10) {
  for (let i = 0; i < attempts; i++) {
    await new Promise((resolve) => setTimeout(resolve, 200 * (i + 1)));
    try {
      const response = await fetch(url, { headers: { Accept: "text/html" } });
      if (!response.ok) return;
      const html = await response.text();
      if (!html.includes('data-pending="true"')) {
        replaceWithHtml(element, html);
        return;
      }
    } catch {
      return; // offline: the streamed text stays
    }
  }
}

document.addEventListener("alpine:init", () => {
  // The design page's image switcher: thumbnails change the large image without a reload.
  Alpine.data("imageSwitcher", () => ({
    current: 0,
    select() {
      this.current = Number(this.$el.dataset.index);
    },
    isCurrent() {
      return this.current === Number(this.$el.dataset.index);
    },
    isHidden() {
      return !this.isCurrent();
    },
    activeClass() {
      return this.isCurrent() ? "btn-active btn-primary" : "";
    },
  }));

  // A registrant card's inline notes editor.
  Alpine.data("inlineEdit", () => ({
    editing: false,
    init() {
      // The server opens the editor again when it sends the form back with an error.
      this.editing = this.$el.dataset.editing === "true";
    },
    get isReading() {
      return !this.editing;
    },
    edit() {
      this.editing = true;
      this.$nextTick(() => this.$root.querySelector("textarea")?.focus());
    },
    cancel() {
      this.editing = false;
    },
  }));

  // The chat page: posts a question with fetch and reads the answer's server-sent events
  // from the response body (so Stop can abort it). Each token is appended as text; at the
  // end the server's sanitised HTML of the answer replaces it (routes/api_chat.py).
  Alpine.data("chat", () => ({
    streaming: false,
    controller: null,
    get idle() {
      return !this.streaming;
    },
    init() {
      this.$refs.thread.scrollTop = this.$refs.thread.scrollHeight;
    },
    onEnter(event) {
      if (event.shiftKey || event.isComposing) return;
      event.preventDefault();
      this.send();
    },
    stop() {
      if (this.controller) this.controller.abort();
    },
    async send() {
      const input = this.$refs.input;
      const text = input.value;
      if (this.streaming || input.disabled || !text.trim()) return;
      const thread = this.$refs.thread;
      thread.querySelector("[data-empty]")?.remove();
      const question = chatBubble("user", text);
      const answer = chatBubble("assistant", "");
      const end = thread.querySelector("#chat-end");
      thread.insertBefore(question, end);
      thread.insertBefore(answer, end);
      // Screen readers announce the answer once it is whole, not token by token.
      answer.setAttribute("aria-busy", "true");
      thread.scrollTop = thread.scrollHeight;
      input.value = "";
      this.streaming = true;
      this.controller = new AbortController();
      let messageId = null;
      try {
        const response = await fetch(this.$root.dataset.sendUrl, {
          method: "POST",
          headers: {
            Accept: "text/event-stream, application/json",
            "X-CSRF-Token": document.querySelector('meta[name="csrf-token"]')?.content || "",
          },
          body: new URLSearchParams({ content: text }),
          signal: this.controller.signal,
        });
        if (!response.ok) {
          // Refused before any answer (rate limit, validation...): nothing was saved.
          question.remove();
          answer.remove();
          input.value = text;
          thread.insertBefore(chatNotice(await errorDetail(response)), end);
          return;
        }
        for await (const { event, data } of readEvents(response.body)) {
          if (event === "start") {
            messageId = data.message_id;
            question.id = `message-${data.question_id}`;
            // The first question names the conversation.
            for (const title of document.querySelectorAll("[data-conversation-title]")) {
              title.textContent = data.title;
            }
          } else if (event === "token") {
            const raw = answer.querySelector("[data-raw]");
            answer.querySelector("[data-typing]")?.remove();
            const nearBottom = thread.scrollHeight - thread.scrollTop - thread.clientHeight < 80;
            raw.append(data.text);
            if (nearBottom) thread.scrollTop = thread.scrollHeight;
          } else if (event === "done" || event === "error") {
            if (data.fragment) replaceWithHtml(answer, data.fragment);
            else answer.replaceWith(chatNotice(data.detail || "No answer."));
          }
        }
        if (answer.isConnected) {
          // The stream ended without its last event (the server went away).
          answer.querySelector("[data-typing]")?.remove();
          answer.removeAttribute("aria-busy");
          answer.append(chatFooter("The answer was interrupted."));
        }
      } catch (error) {
        answer.removeAttribute("aria-busy");
        if (error.name === "AbortError") {
          answer.querySelector("[data-typing]")?.remove();
          answer.append(chatFooter("Stopped."));
          if (messageId) showSaved(answer, `${this.$root.dataset.messageUrl}${messageId}`);
        } else {
          answer.append(chatFooter("The connection was lost."));
        }
      } finally {
        this.streaming = false;
        this.controller = null;
        thread.scrollTop = thread.scrollHeight;
        input.focus();
      }
    },
  }));
});
