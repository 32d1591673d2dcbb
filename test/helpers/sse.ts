export interface SseEvent {
  event: string;
  id: string | null;
  data: string;
}

/**
 * Reads Server-Sent Events from a fetch response until `stop` returns true or the stream
 * ends. A small parser of the text/event-stream format (fields event, id, data; comments).
 */
export async function readEvents(
  response: Response,
  stop: (event: SseEvent, all: SseEvent[]) => boolean,
  controller?: AbortController,
): Promise<{ events: SseEvent[]; comments: number; ended: boolean }> {
  const reader = response.body!.pipeThrough(new TextDecoderStream()).getReader();
  const events: SseEvent[] = [];
  let comments = 0;
  let buffer = '';
  for (;;) {
    let chunk: ReadableStreamReadResult<string>;
    try {
      chunk = await reader.read();
    } catch {
      return { events, comments, ended: false };
    }
    if (chunk.done) return { events, comments, ended: true };
    buffer += chunk.value;
    let boundary = buffer.indexOf('\n\n');
    while (boundary !== -1) {
      const block = buffer.slice(0, boundary);
      buffer = buffer.slice(boundary + 2);
      boundary = buffer.indexOf('\n\n');
      const event: SseEvent = { event: 'message', id: null, data: '' };
      let fields = 0;
      for (const line of block.split('\n')) {
        if (line.startsWith(':')) {
          comments++;
          continue;
        }
        const colon = line.indexOf(':');
        const field = colon === -1 ? line : line.slice(0, colon);
        const value = colon === -1 ? '' : line.slice(colon + 1).replace(/^ /, '');
        if (field === 'event') event.event = value;
        else if (field === 'id') event.id = value;
        else if (field === 'data') event.data += (event.data ? '\n' : '') + value;
        else continue;
        fields++;
      }
      if (fields === 0 || (event.data === '' && event.event === 'message')) continue;
      events.push(event);
      if (stop(event, events)) {
        controller?.abort();
        await reader.cancel().catch(() => {});
        return { events, comments, ended: false };
      }
    }
  }
}
