import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import {
  RETRYABLE_EXIT_CODES,
  renderNextflowConfig,
  renderParamsYaml,
  TRACE_FIELDS,
  USER_CONFIG_MARKER,
} from '../../../functions/core/nextflow/nextflow-config';
import { findNextflowFailure, LOG_LINE } from '../../../functions/core/nextflow/nextflow-log';
import { replayErrorStrategy } from '../../../orchestrator/src/replay/error-strategy';
import { configuredMemory } from '../../../orchestrator/src/replay/memory';

const settings = {
  runId: 'run-abc123def456',
  project: 'lab-prod',
  region: 'us-east1',
  tasksServiceAccount: 'arc-tasks@lab-prod.iam.gserviceaccount.com',
};

describe('renderNextflowConfig', () => {
  const config = renderNextflowConfig(settings, '');

  it.each([
    ["executor      = 'google-batch'"],
    [
      "errorStrategy = { task.exitStatus in [104, 130, 131, 132, 133, 134, 135, 136, 137, 138, 139, 140, 141, 142, 143, 144, 145, 175, 50001] ? 'retry' : 'terminate' }",
    ],
    ['maxRetries    = 3'],
    ['scratch       = true'],
    ['resourceLimits = [cpus: 36, memory: 500.GB, time: 48.h]'],
    ['spot                = true'],
    ['maxSpotAttempts     = 3'],
    ['bootDiskSize        = 100.GB'],
    ["serviceAccountEmail = 'arc-tasks@lab-prod.iam.gserviceaccount.com'"],
    ["project  = 'lab-prod'"],
    ["location = 'us-east1'"],
  ])('sets %s', (line) => {
    expect(config).toContain(line);
  });

  it('asks Nextflow for every trace field the platform reads', () => {
    expect(config).toContain(`fields    = '${TRACE_FIELDS.join(',')}'`);
  });

  it("appends the user's config after the platform's, so the user's settings win", () => {
    const withUser = renderNextflowConfig(settings, "process.withName:'STAR_ALIGN' { memory = 100.GB }\n");
    const [platform, user] = withUser.split(USER_CONFIG_MARKER);
    expect(platform).toContain("executor      = 'google-batch'");
    expect(user).toBe("\nprocess.withName:'STAR_ALIGN' { memory = 100.GB }\n");
    expect(renderNextflowConfig(settings, '   \n')).not.toContain(USER_CONFIG_MARKER);
  });

  it('escapes quotes in values', () => {
    expect(renderNextflowConfig({ ...settings, project: "it's" }, '')).toContain("project  = 'it\\'s'");
  });
});

describe('renderParamsYaml', () => {
  it('round-trips params, including strings YAML would otherwise reinterpret', () => {
    const params = {
      input: 'gs://b/runs/r/inputs/samplesheet.csv',
      protocol: '10XV3',
      skip_fastqc: true,
      expected: 5000,
      genome: 'yes',
      version: '1.10',
    };
    expect(parse(renderParamsYaml(params))).toEqual(params);
  });
});

describe('findNextflowFailure', () => {
  const log = readFileSync('test/fixtures/nextflow/ampliseq_resumed_failed.nextflow.log', 'utf8');

  it('finds the failed task and its cause in a real nextflow.log', () => {
    const failure = findNextflowFailure(log)!;
    expect(failure.task).toBe(
      'NFCORE_AMPLISEQ:AMPLISEQ:DADA2_TAXONOMY_WF:DADA2_ADDSPECIES (ASV_seqs.1.ASV_tax.silva_138_2.rds,addSpecies.fna.gz)',
    );
    expect(failure.message).toBe(
      'Process requirement exceeds available memory -- req: 50 GB; avail: 34.3 GB',
    );
    expect(failure.detail).toContain(
      'Work dir:\n  /home/blackboy/nf_amplicon_train/work/51/302451c3787475581992d75b362f2d',
    );
    expect(failure.detail).not.toContain('Execution cancelled');
  });

  it('adds the exit status when the cause does not say it', () => {
    const text = [
      "Nov-23 10:00:00.000 [Task monitor] ERROR nextflow.processor.TaskProcessor - Error executing process > 'A:B (S1)'",
      '',
      'Caused by:',
      '  Essential container in task exited',
      '',
      'Command exit status:',
      '  137',
      '',
      'Nov-23 10:00:01.000 [main] DEBUG nextflow.Session - bye',
    ].join('\n');
    expect(findNextflowFailure(text)).toMatchObject({
      task: 'A:B (S1)',
      message: 'Essential container in task exited (exit status 137)',
    });
  });

  it('falls back to the last ERROR line for a pipeline-level error', () => {
    const text = 'Nov-23 10:00:00.000 [main] ERROR nextflow.cli.Launcher - Unknown config attribute `foo`\n';
    expect(findNextflowFailure(text)).toEqual({
      task: null,
      message: 'Unknown config attribute `foo`',
      detail: 'Unknown config attribute `foo`',
    });
  });

  it('finds nothing in a log without errors', () => {
    expect(findNextflowFailure('Nov-23 10:00:00.000 [main] INFO  nextflow.Nextflow - all good\n')).toBeNull();
  });

  it('parses the fixture line format', () => {
    expect(
      LOG_LINE.exec(
        'Mar-25 09:38:50.568 [main] DEBUG nextflow.Session - Session UUID: 96db9b86-0ec3-4269-a7d5-00a28dcbbcd4',
      )?.slice(1),
    ).toEqual([
      'Mar-25 09:38:50.568',
      'main',
      'DEBUG',
      'nextflow.Session',
      'Session UUID: 96db9b86-0ec3-4269-a7d5-00a28dcbbcd4',
    ]);
  });
});

describe('the retry policy, as the replay executor evaluates a config', () => {
  const platform = renderNextflowConfig(settings, '');
  const attempts = (config: string, exit: number) => {
    const strategy = replayErrorStrategy(config);
    let attempt = 1;
    while (strategy.decide(exit, attempt) === 'retry') attempt++;
    return attempt;
  };

  it.each([
    [1, 1, 'a deterministic failure (a corrupt FASTQ) is not retried'],
    [2, 1, 'nor a usage error'],
    [137, 4, 'out of memory (137) gets 3 retries'],
    [143, 4, 'SIGTERM (143) gets 3 retries'],
    [104, 4, '104 gets 3 retries'],
    [175, 4, '175 gets 3 retries'],
    [50001, 4, 'Spot preemption (50001) gets 3 retries'],
  ])('exit %i runs %i attempt(s): %s', (exit, expected) => {
    expect(attempts(platform, exit)).toBe(expected);
    expect(RETRYABLE_EXIT_CODES.includes(exit)).toBe(expected > 1);
  });

  it("lets the user's config change it: the last errorStrategy and maxRetries win", () => {
    const always = renderNextflowConfig(settings, "process.errorStrategy = 'retry'\nprocess.maxRetries = 1");
    expect(attempts(always, 1)).toBe(2);
    const never = renderNextflowConfig(settings, "process {\n  errorStrategy = 'terminate'\n}");
    expect(attempts(never, 137)).toBe(1);
    const nfCore = renderNextflowConfig(
      settings,
      "process {\n  errorStrategy = { task.exitStatus in ((130..145) + 104) ? 'retry' : 'finish' }\n  maxRetries = 1\n}",
    );
    expect(attempts(nfCore, 137)).toBe(2);
    expect(replayErrorStrategy(nfCore).decide(1, 1)).toBe('finish');
  });

  it('says so when a strategy is not a form it evaluates', () => {
    const odd = renderNextflowConfig(
      settings,
      "process.errorStrategy = { task.attempt < 2 ? 'retry' : 'ignore' }",
    );
    expect(replayErrorStrategy(odd).notUnderstood).toContain('task.attempt');
  });
});

describe('the memory a config gives a process, as the replay executor reads it', () => {
  const names = ['STAR_ALIGN', 'NFCORE_SCRNASEQ:SCRNASEQ:STARSOLO:STAR_ALIGN'];
  const platform = (user: string) => renderNextflowConfig(settings, user);

  it('reads a withName block, by its simple or its fully qualified name, and the assistant’s form', () => {
    expect(
      configuredMemory(platform("process { withName: 'STAR_ALIGN' { memory = 64.GB } }"), names),
    ).toEqual({
      gb: 64,
    });
    expect(
      configuredMemory(
        platform("process {\n  withName: '.*:STARSOLO:STAR_ALIGN' {\n    memory = '96 GB'\n  }\n}"),
        names,
      ).gb,
    ).toBe(96);
    expect(
      configuredMemory(platform("process {\n  withName: 'FASTQC' {\n    memory = 8.GB\n  }\n}"), names).gb,
    ).toBe(null);
    expect(
      configuredMemory(platform("process { withName: '!FASTQC' { memory = 65536.MB } }"), names).gb,
    ).toBe(64);
  });

  it('lets withName beat the generic setting and a later setting beat an earlier one', () => {
    const config = platform(
      "process.memory = 16.GB\nprocess {\n  withName: STAR_ALIGN { memory = 48.GB }\n}\nprocess {\n  withName: 'STAR_.*' { memory = 80.GB }\n}",
    );
    expect(configuredMemory(config, names).gb).toBe(80);
    expect(configuredMemory(config, ['FASTQC']).gb).toBe(16);
  });

  it('multiplies by the attempt where the closure says so, and caps at resourceLimits (500 GB)', () => {
    const config = platform("process { withName: 'STAR_ALIGN' { memory = { 200.GB * task.attempt } } }");
    expect(configuredMemory(config, names, 1).gb).toBe(200);
    expect(configuredMemory(config, names, 2).gb).toBe(400);
    expect(configuredMemory(config, names, 3).gb).toBe(500);
  });

  it('says so when a setting is not a form it evaluates, and reads none where there is none', () => {
    expect(
      configuredMemory(
        platform("process { withName: 'STAR_ALIGN' { memory = { check_max(72.GB) } } }"),
        names,
      ),
    ).toEqual({ gb: null, notUnderstood: '{ check_max(72.GB) }' });
    expect(configuredMemory(platform(''), names)).toEqual({ gb: null });
  });
});
