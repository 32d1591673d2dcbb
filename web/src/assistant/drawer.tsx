/**
 * The assistant drawer, on the new-run wizard and on a run's page: ask in words, watch the
 * answer stream in, see each tool it used as a chip, and apply what it proposes (into the
 * draft, or the Recover dialog prefilled; the user still confirms there). Stop ends an answer;
 * History reopens an earlier conversation.
 */
import { useEffect, useRef, useState } from 'preact/hooks';
import type { AssistantStatus, ConversationSummary } from '../../../functions/core/assistant/ports';
import type { Proposal } from '../../../functions/core/assistant/ui-stream';
import { api, errorText } from '../api';
import { renderMarkdown } from '../markdown';
import {
  type ChatContext,
  type ChatMessage,
  type ChatPiece,
  fromStored,
  loadConversation,
  sendChat,
} from './stream';

type Status = AssistantStatus;
type Summary = ConversationSummary;

const newId = () => `c-${crypto.randomUUID().slice(0, 18)}`;
const messageId = () => crypto.randomUUID();

function show(value: unknown): string {
  return value === null ? 'default' : typeof value === 'string' ? value : JSON.stringify(value);
}

function ProposalCard({ proposal, onApply }: { proposal: Proposal; onApply: (p: Proposal) => void }) {
  const [applied, setApplied] = useState(false);
  const title =
    proposal.kind === 'params'
      ? 'Proposed parameter changes'
      : proposal.kind === 'samplesheet'
        ? 'Proposed samplesheet'
        : proposal.kind === 'config'
          ? 'Proposed Nextflow config'
          : `Proposed recovery of ${proposal.run_id}`;
  return (
    <section class="proposal" data-testid="proposal" data-kind={proposal.kind} aria-label={title}>
      <h3>{title}</h3>
      <p class="small">{proposal.reason}</p>
      {proposal.kind === 'params' && (
        <table class="diff">
          <tbody>
            {Object.entries(proposal.changes).map(([name, value]) => (
              <tr key={name}>
                <th scope="row" class="mono">
                  {name}
                </th>
                <td class="del mono">{name in proposal.base ? show(proposal.base[name]) : 'default'}</td>
                <td class="ins mono">{show(value)}</td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
      {proposal.kind === 'samplesheet' && <pre class="log ins">{proposal.csv}</pre>}
      {proposal.kind === 'config' && <pre class="log ins">{proposal.config_content}</pre>}
      {proposal.kind === 'recovery' && (
        <div class="small">
          <p>
            {proposal.reuse_work_dir ? 'Resume with -resume (finished tasks are reused).' : 'Start afresh.'}
          </p>
          {Object.keys(proposal.override_params).length > 0 && (
            <pre class="log ins">{JSON.stringify(proposal.override_params, null, 2)}</pre>
          )}
          {proposal.config_content && <pre class="log ins">{proposal.config_content}</pre>}
        </div>
      )}
      {proposal.problems.length > 0 && (
        <ul class="field-error small">
          {proposal.problems.slice(0, 5).map((p) => (
            <li key={p}>{p}</li>
          ))}
        </ul>
      )}
      <button
        type="button"
        class="primary"
        disabled={applied}
        onClick={() => {
          onApply(proposal);
          setApplied(true);
        }}
      >
        {applied ? 'Applied' : proposal.kind === 'recovery' ? 'Apply: open Recover' : 'Apply to draft'}
      </button>
    </section>
  );
}

function Piece({ piece, onApply }: { piece: ChatPiece; onApply: (p: Proposal) => void }) {
  switch (piece.kind) {
    case 'text':
      // The model writes Markdown. micromark escapes any HTML in it and drops javascript: and
      // other unsafe link targets, so model output cannot script the page.
      return <div class="chat-text" dangerouslySetInnerHTML={{ __html: renderMarkdown(piece.text) }} />;
    case 'tool':
      return (
        <span
          class={`chip${piece.ok === false ? ' chip-failed' : ''}`}
          data-testid="tool-chip"
          data-tool={piece.name}
        >
          {piece.summary ?? `${piece.name.replace(/_/g, ' ')}…`}
        </span>
      );
    case 'proposal':
      return <ProposalCard proposal={piece.proposal} onApply={onApply} />;
    case 'notice':
      return (
        <p class="note small" role="status">
          {piece.notice.text}
        </p>
      );
    case 'error':
      return (
        <p class="field-error" role="alert">
          {piece.text}
        </p>
      );
  }
}

export function AssistantDrawer({
  context,
  onApply,
}: {
  context: () => ChatContext;
  onApply: (proposal: Proposal) => void;
}) {
  const [open, setOpen] = useState(false);
  const [status, setStatus] = useState<Status | null>(null);
  const [conversationId, setConversationId] = useState(newId);
  const [messages, setMessages] = useState<ChatMessage[]>([]);
  const [input, setInput] = useState('');
  const [streaming, setStreaming] = useState<AbortController | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [history, setHistory] = useState<Summary[] | null>(null);
  const log = useRef<HTMLDivElement>(null);
  const box = useRef<HTMLTextAreaElement>(null);
  const toggle = useRef<HTMLButtonElement>(null);
  const wasOpen = useRef(false);

  useEffect(() => {
    if (!open || status) return;
    api<Status>('/api/chat/status').then(setStatus, (e) => setError(errorText(e)));
  }, [open, status]);
  useEffect(() => {
    // Focus goes into the drawer when it opens, and back to its button when it closes.
    if (open) box.current?.focus();
    else if (wasOpen.current) toggle.current?.focus();
    wasOpen.current = open;
    document.body.classList.toggle('assistant-open', open);
    return () => document.body.classList.remove('assistant-open');
  }, [open]);
  useEffect(() => {
    log.current?.scrollTo({ top: log.current.scrollHeight });
  }, [messages]);

  const send = async () => {
    const text = input.trim();
    if (!text || streaming) return;
    const question: ChatMessage = { id: messageId(), role: 'user', pieces: [{ kind: 'text', text }] };
    const answer: ChatMessage = { id: messageId(), role: 'assistant', pieces: [] };
    const sent = [...messages, question];
    setMessages([...sent, answer]);
    setInput('');
    setError(null);
    const controller = new AbortController();
    setStreaming(controller);
    const update = (pieces: ChatPiece[]) => setMessages([...sent, { ...answer, pieces }]);
    try {
      await sendChat(conversationId, sent, context(), update, controller.signal);
    } catch (e) {
      if (controller.signal.aborted)
        setMessages((all) =>
          all.map((m) =>
            m.id === answer.id
              ? {
                  ...m,
                  pieces: [...m.pieces, { kind: 'notice', notice: { kind: 'retried', text: 'Stopped.' } }],
                }
              : m,
          ),
        );
      else {
        setMessages(sent);
        setInput(text);
        setError(errorText(e));
      }
    } finally {
      setStreaming(null);
    }
  };

  const openHistory = async () => {
    try {
      const list = await api<{ conversations: Summary[] }>('/api/chat/conversations');
      setHistory(list.conversations);
    } catch (e) {
      setError(errorText(e));
    }
  };

  const reopen = async (id: string) => {
    try {
      const stored = await loadConversation(id);
      setConversationId(stored.id);
      setMessages(fromStored(stored));
      setHistory(null);
    } catch (e) {
      setError(errorText(e));
    }
  };

  if (!open)
    return (
      <button
        type="button"
        class="assistant-toggle"
        ref={toggle}
        onClick={() => setOpen(true)}
        aria-expanded="false"
      >
        Ask the assistant
      </button>
    );

  return (
    <aside
      class="assistant"
      aria-label="Assistant"
      data-testid="assistant"
      onKeyDown={(e) => {
        if (e.key === 'Escape') setOpen(false);
      }}
    >
      <header class="toolbar">
        <div>
          <h2>Assistant</h2>
          {status && (
            <p class="muted small" data-testid="assistant-model">
              {status.label}
              {status.stand_in && <span class="badge badge-pending"> stand-in</span>}
            </p>
          )}
        </div>
        <div class="buttons">
          <button type="button" class="link" onClick={openHistory}>
            History
          </button>
          <button
            type="button"
            class="link"
            onClick={() => {
              streaming?.abort();
              setConversationId(newId());
              setMessages([]);
              setHistory(null);
            }}
          >
            New
          </button>
          <button type="button" class="link" aria-label="Close the assistant" onClick={() => setOpen(false)}>
            ✕
          </button>
        </div>
      </header>
      {status && !status.enabled && (
        <p class="note" role="status">
          {status.reason}
        </p>
      )}
      {history ? (
        <nav aria-label="Earlier conversations">
          {history.length === 0 && <p class="muted">No earlier conversations.</p>}
          <ul class="plain">
            {history.map((c) => (
              <li key={c.id}>
                <button type="button" class="link" onClick={() => reopen(c.id)}>
                  {c.title}
                </button>{' '}
                <span class="muted small">{new Date(c.updated_at).toLocaleString()}</span>
              </li>
            ))}
          </ul>
          <button type="button" onClick={() => setHistory(null)}>
            Back
          </button>
        </nav>
      ) : (
        <div class="chat-log" ref={log} role="log" aria-live="polite" aria-busy={streaming !== null}>
          {messages.length === 0 && (
            <p class="muted small">
              Ask why a run failed, which parameters to set, or about your Benchling samples. The assistant
              reads; it proposes changes you apply.
            </p>
          )}
          {messages.map((m) => (
            <div key={m.id} class={`chat-message chat-${m.role}`} data-role={m.role}>
              {m.pieces.map((piece, i) => (
                <Piece key={i} piece={piece} onApply={onApply} />
              ))}
              {m.role === 'assistant' && m.pieces.length === 0 && <p class="muted small">Thinking…</p>}
            </div>
          ))}
        </div>
      )}
      {error && (
        <p class="field-error" role="alert">
          {error}
        </p>
      )}
      <form
        class="chat-input"
        onSubmit={(e) => {
          e.preventDefault();
          void send();
        }}
      >
        <label class="visually-hidden" for="assistant-input">
          Message the assistant
        </label>
        <textarea
          id="assistant-input"
          ref={box}
          rows={2}
          maxLength={20_000}
          value={input}
          placeholder="Why did this run fail?"
          onInput={(e) => setInput(e.currentTarget.value)}
          onKeyDown={(e) => {
            if (e.key === 'Enter' && !e.shiftKey) {
              e.preventDefault();
              void send();
            }
          }}
        />
        {streaming ? (
          <button type="button" class="danger" onClick={() => streaming.abort()}>
            Stop
          </button>
        ) : (
          <button type="submit" class="primary" disabled={!input.trim() || status?.enabled === false}>
            Send
          </button>
        )}
      </form>
    </aside>
  );
}
