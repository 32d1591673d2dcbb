import { describe, expect, it } from 'vitest';
import { renderMarkdown } from '../../../web/src/markdown';

describe("the assistant's Markdown", () => {
  it.each([
    ['raw HTML', 'see <img src=x onerror="alert(1)"> here', /<img/],
    ['a script tag', '<script>alert(1)</script>', /<script/],
    ['a javascript: link', '[click](javascript:alert(1))', /javascript:/],
    ['a data: link', '[click](data:text/html;base64,PHNjcmlwdD4=)', /href="data:/],
  ])('renders %s inert', (_name, text, forbidden) => {
    expect(renderMarkdown(text)).not.toMatch(forbidden);
  });

  it('renders what the model writes: emphasis, code blocks, lists and https links', () => {
    const html = renderMarkdown('**Apply** it:\n\n    exit 137\n\n- one\n\n[docs](https://nf-co.re)');
    expect(html).toContain('<strong>Apply</strong>');
    expect(html).toContain('<pre><code>exit 137');
    expect(html).toContain('<li>one</li>');
    expect(html).toContain('<a href="https://nf-co.re">docs</a>');
  });
});
