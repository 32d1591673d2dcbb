import { micromark } from 'micromark';

/**
 * The model's Markdown as HTML. micromark escapes raw HTML and drops unsafe link targets
 * (javascript:, data:, …) by default, so model output — which may quote a log line written to
 * steer it — cannot script the page.
 */
export function renderMarkdown(text: string): string {
  return micromark(text);
}
