import { describe, expect, it } from 'vitest';
import { onFirstUse } from '../../../functions/adapters/google-sdks';

class Client {
  readonly calls: string[] = [];
  constructor(readonly name: string) {}
  ask(question: string): string {
    this.calls.push(question);
    return `${this.name} answers ${question}`;
  }
}

describe('onFirstUse', () => {
  it('builds the client when it is first used, once, and never when it is not', () => {
    let builds = 0;
    const client = onFirstUse(() => {
      builds++;
      return new Client('batch');
    });
    expect(builds).toBe(0);
    expect(client.ask('a')).toBe('batch answers a');
    expect(client.ask('b')).toBe('batch answers b');
    expect(client.calls).toEqual(['a', 'b']);
    expect(builds).toBe(1);
  });

  it('runs methods on the built client, even detached (as adapters pass them around)', () => {
    const client = onFirstUse(() => new Client('workflows'));
    const { ask } = client;
    expect(ask('c')).toBe('workflows answers c');
    expect(client).toBeInstanceOf(Client);
    expect('ask' in client).toBe(true);
  });

  it('builds again after a build that threw: a failed start is not remembered', () => {
    let attempts = 0;
    const client = onFirstUse(() => {
      attempts++;
      if (attempts === 1) throw new Error('no credentials yet');
      return new Client('logging');
    });
    expect(() => client.name).toThrow('no credentials yet');
    expect(client.name).toBe('logging');
  });
});
