import type { Firestore } from '@google-cloud/firestore';
import type { UIMessage } from '../core/assistant/chat-request';
import type { Conversation, ConversationStore, ConversationSummary } from '../core/assistant/ports';

/** A Firestore document holds at most 1 MiB; the oldest messages give way first. */
const MAX_MESSAGES_BYTES = 900 * 1024;

/**
 * `users/{email}/conversations/{id}`: under the owner, so no query can reach another user's
 * (and the Firestore rules let the page read only its own user's). Messages are kept as one
 * JSON string: tool inputs may nest arrays, which Firestore fields cannot hold.
 */
export class FirestoreConversationStore implements ConversationStore {
  constructor(
    private readonly db: Firestore,
    private readonly users = 'users',
  ) {}

  private collection(owner: string) {
    return this.db.collection(this.users).doc(owner).collection('conversations');
  }

  async get(owner: string, id: string): Promise<Conversation | null> {
    const snapshot = await this.collection(owner).doc(id).get();
    if (!snapshot.exists) return null;
    const data = snapshot.data() as Omit<Conversation, 'messages'> & { messages_json: string };
    const { messages_json, ...rest } = data;
    return { ...summaryFields(rest), messages: JSON.parse(messages_json) as UIMessage[] };
  }

  async save(owner: string, conversation: Conversation): Promise<void> {
    const { messages, ...rest } = conversation;
    let kept = messages;
    let json = JSON.stringify(kept);
    while (Buffer.byteLength(json) > MAX_MESSAGES_BYTES && kept.length > 1) {
      kept = kept.slice(Math.max(1, Math.ceil(kept.length / 10)));
      json = JSON.stringify(kept);
    }
    await this.collection(owner)
      .doc(conversation.id)
      .set({ ...rest, owner, message_count: kept.length, messages_json: json });
  }

  async list(owner: string, limit: number): Promise<ConversationSummary[]> {
    const snapshot = await this.collection(owner)
      .orderBy('updated_at', 'desc')
      .limit(limit)
      .select('id', 'title', 'created_at', 'updated_at', 'page', 'run_id', 'message_count')
      .get();
    return snapshot.docs.map((doc) => {
      const data = doc.data() as ConversationSummary;
      return { ...summaryFields(data), message_count: data.message_count ?? 0 };
    });
  }

  async delete(owner: string, id: string): Promise<boolean> {
    const ref = this.collection(owner).doc(id);
    const existed = (await ref.get()).exists;
    if (existed) await ref.delete();
    return existed;
  }
}

function summaryFields(data: Omit<Conversation, 'messages'>): Omit<Conversation, 'messages'> {
  return {
    id: data.id,
    title: data.title,
    created_at: data.created_at,
    updated_at: data.updated_at,
    page: data.page ?? null,
    run_id: data.run_id ?? null,
  };
}
