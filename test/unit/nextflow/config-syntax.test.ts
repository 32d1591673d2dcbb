import { describe, expect, it } from 'vitest';
import { configSyntaxProblems } from '../../../functions/core/nextflow/config-syntax';

describe('what Nextflow’s config parser would refuse, found before launch', () => {
  it.each([
    ["process { withName: 'STAR_ALIGN' { memory = 64.GB } }"],
    ['process {\n  cpus = 4\n  memory = { 8.GB * task.attempt }\n}\n'],
    ['// a comment with a { brace\nparams.x = "a } string"\n/* and a\n ( block */\n'],
    ["params.list = ['a', 'b']\nparams.map = [a: 1, b: '2']\n"],
    ['executor {\n  queueSize =\n    50\n}\n'],
    ['process.ext.args = """\n  --opt { not a brace }\n"""\n'],
    ["process { withName: 'X' { ext.when = { params.a == 1 && params.b != 2 && params.c >= 3 } } }"],
    [''],
  ])('passes a sound config: %j', (text) => {
    expect(configSyntaxProblems(text)).toEqual([]);
  });

  it.each([
    ['process {\n  memory = 8.GB\n', 1, 'the { opened on line 1 is never closed (} is missing)'],
    ['process {\n  memory = 8.GB\n}}\n', 3, 'line 3: } closes nothing (one { too many)'],
    [
      "process { withName: 'A' ( memory = 8.GB } }",
      1,
      'line 1: } closes the ( opened on line 1; ) was expected',
    ],
    [
      "params.name = 'unterminated\nprocess { }",
      1,
      "the string opened on line 1 (') is not closed on that line; a quote is missing",
    ],
    ['params.x = """\nnever closed\n', 1, 'the string opened on line 1 (""") is never closed'],
    ['process {\n  /* a comment\n', 2, 'the comment opened on line 2 (/*) is never closed with */'],
    ['process {\n  memory =\n}\n', 2, 'line 2: nothing is assigned after ='],
    ['params.x =', 1, 'line 1: nothing is assigned after ='],
  ])('refuses %j at line %i', (text, line, message) => {
    expect(configSyntaxProblems(text)).toContainEqual({ line, message });
  });
});
