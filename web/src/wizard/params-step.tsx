import { useState } from 'preact/hooks';
import { isFormParam } from '../../../functions/core/nextflow/param-names';
import type {
  NfCoreGroup,
  NfCoreParam,
  PipelineDetail,
  PipelineSchemaResponse,
} from '../../../functions/core/nextflow/pipeline-views';
import { enc, useApi } from '../api';
import { ErrorNote, Loading } from '../components/ui';
import { RecommendationsPanel } from '../detail/recommendations';
import { renderMarkdown } from '../markdown';
import { browserPattern } from './patterns';
import { problemsOf, type StepProps } from './preview';

type ParamSchema = NfCoreParam;
type GroupSchema = NfCoreGroup;

function typeOf(schema: ParamSchema): string {
  const type = Array.isArray(schema.type) ? schema.type.find((t) => t !== 'null') : schema.type;
  return type ?? 'string';
}

function ParamField({
  name,
  schema,
  required,
  value,
  problem,
  warning,
  suggestions,
  onChange,
}: {
  name: string;
  schema: ParamSchema;
  required: boolean;
  value: unknown;
  problem: string | undefined;
  /** Something the launch would accept but likely not mean (a genome the config lacks). */
  warning: string | undefined;
  /** Values the pipeline's config knows (its iGenomes keys), offered as the user types. */
  suggestions: readonly string[] | undefined;
  onChange: (value: unknown) => void;
}) {
  const id = `param-${name}`;
  const type = typeOf(schema);
  const set = value !== undefined;
  const shown = set ? value : schema.default;
  const describedBy =
    [schema.description ? `${id}-desc` : '', problem ? `${id}-error` : '', warning ? `${id}-warning` : '']
      .filter(Boolean)
      .join(' ') || undefined;
  const common = {
    id,
    'aria-invalid': problem ? true : undefined,
    'aria-describedby': describedBy,
    required,
  };
  let input: preact.JSX.Element;
  if (type === 'boolean') {
    input = (
      <input
        type="checkbox"
        {...common}
        required={false}
        checked={shown === true}
        onChange={(e) => onChange(e.currentTarget.checked)}
      />
    );
  } else if (schema.enum) {
    input = (
      <select
        {...common}
        value={shown === undefined ? '' : String(shown)}
        onChange={(e) => {
          const text = e.currentTarget.value;
          const option = schema.enum!.find((o) => String(o) === text);
          onChange(text === '' ? undefined : option);
        }}
      >
        {!required && (
          <option value="">
            (default{schema.default !== undefined ? `: ${String(schema.default)}` : ''})
          </option>
        )}
        {schema.enum.map((o) => (
          <option value={String(o)}>{String(o)}</option>
        ))}
      </select>
    );
  } else if (type === 'integer' || type === 'number') {
    input = (
      <input
        type="number"
        {...common}
        step={type === 'integer' ? 1 : 'any'}
        min={schema.minimum}
        max={schema.maximum}
        value={set ? String(value) : ''}
        placeholder={schema.default !== undefined ? String(schema.default) : ''}
        onInput={(e) => {
          const text = e.currentTarget.value;
          onChange(text === '' ? undefined : Number(text));
        }}
      />
    );
  } else if (type === 'object' || type === 'array') {
    input = <JsonField {...common} type={type} value={value} onChange={onChange} />;
  } else {
    input = (
      <input
        type="text"
        {...common}
        list={suggestions ? `${id}-known` : undefined}
        pattern={browserPattern(schema.pattern)}
        value={set ? String(value) : ''}
        placeholder={schema.default !== undefined ? String(schema.default) : ''}
        onInput={(e) => {
          const text = e.currentTarget.value;
          onChange(text === '' ? undefined : text);
        }}
      />
    );
  }
  return (
    <div class={`field field-${type}${problem ? ' field-invalid' : ''}`} data-param={name}>
      <label for={id}>
        <span class="mono">{name}</span>
        {required && (
          <span class="required" aria-hidden="true">
            {' '}
            *
          </span>
        )}
        {set && <span class="tag">changed</span>}
      </label>
      {input}
      {suggestions && type === 'string' && !schema.enum && (
        <datalist id={`${id}-known`}>
          {suggestions.map((s) => (
            <option value={s} />
          ))}
        </datalist>
      )}
      {schema.description && (
        // Descriptions are Markdown too (links to the tools' docs): rendered like the help, wrapped.
        <div
          id={`${id}-desc`}
          class="muted small markdown inline-markdown"
          dangerouslySetInnerHTML={{ __html: renderMarkdown(schema.description) }}
        />
      )}
      {schema.help_text && (
        <details class="help">
          <summary>Help</summary>
          {/* The pipeline's help is Markdown: rendered, with raw HTML escaped and unsafe links dropped. */}
          <div
            class="small markdown"
            dangerouslySetInnerHTML={{ __html: renderMarkdown(schema.help_text) }}
          />
        </details>
      )}
      {problem && (
        <div id={`${id}-error`} class="field-error" role="alert">
          {problem}
        </div>
      )}
      {!problem && warning && (
        <div id={`${id}-warning`} class="field-warning" role="status">
          {warning}
        </div>
      )}
      {set && (
        <button type="button" class="link small" onClick={() => onChange(undefined)}>
          Reset to default
        </button>
      )}
    </div>
  );
}

/** An `object` or `array` param, edited as JSON and checked as typed; the value is the parsed JSON. */
function JsonField({
  id,
  type,
  value,
  required,
  onChange,
  ...aria
}: {
  id: string;
  type: 'object' | 'array';
  value: unknown;
  required: boolean;
  'aria-invalid': boolean | undefined;
  'aria-describedby': string | undefined;
  onChange: (value: unknown) => void;
}) {
  const [text, setText] = useState(value === undefined ? '' : JSON.stringify(value, null, 2));
  const [problem, setProblem] = useState<string | null>(null);
  return (
    <>
      <textarea
        id={id}
        rows={3}
        class="mono"
        required={required}
        aria-invalid={problem ? true : aria['aria-invalid']}
        aria-describedby={aria['aria-describedby']}
        placeholder={type === 'object' ? '{"key": "value"}' : '["a", "b"]'}
        value={text}
        onInput={(e) => {
          const next = e.currentTarget.value;
          setText(next);
          if (next.trim() === '') {
            setProblem(null);
            onChange(undefined);
            return;
          }
          try {
            const parsed = JSON.parse(next) as unknown;
            const isArray = Array.isArray(parsed);
            if ((type === 'array') !== isArray || parsed === null || typeof parsed !== 'object')
              throw new Error(
                `write a JSON ${type === 'array' ? 'list, e.g. ["a", "b"]' : 'map, e.g. {"key": "value"}'}`,
              );
            setProblem(null);
            onChange(parsed);
          } catch (error) {
            setProblem(`Not valid JSON for this ${type} parameter: ${(error as Error).message}`);
          }
        }}
      />
      {problem && (
        <div class="field-error" role="alert">
          {problem}
        </div>
      )}
    </>
  );
}

/** A value as typed: true/false, a number, a JSON list or map, else the text itself. */
function typedValue(text: string): unknown {
  const value = text.trim();
  if (value === 'true' || value === 'false') return value === 'true';
  if (/^-?\d+(\.\d+)?$/.test(value)) return Number(value);
  if (/^[[{]/.test(value)) {
    try {
      return JSON.parse(value) as unknown;
    } catch {
      return value;
    }
  }
  return value;
}

/**
 * A param the schema has no field for (an older version's, one a config reads, the local
 * replay's switches). It joins the list of params that are not the pipeline's, where one that
 * looks like a typo must be confirmed before launch, as the API asks (allow_unknown_params).
 */
function AddParam({
  known,
  onAdd,
}: {
  known: ReadonlySet<string>;
  onAdd: (name: string, value: unknown) => void;
}) {
  const [name, setName] = useState('');
  const [value, setValue] = useState('');
  const [problem, setProblem] = useState<string | null>(null);
  const add = () => {
    const trimmed = name.trim();
    if (!/^[A-Za-z_][A-Za-z0-9_-]*$/.test(trimmed)) {
      setProblem(
        'A parameter name is letters, digits, _ and -, starting with a letter or _ (no leading --).',
      );
    } else if (!isFormParam(trimmed)) {
      setProblem(`${trimmed} is set by the platform, not by you.`);
    } else if (known.has(trimmed)) {
      setProblem(
        `${trimmed} has its own field above (tick "Show hidden parameters" if you do not see it); set it there.`,
      );
    } else if (value.trim() === '') {
      setProblem(`Give ${trimmed} a value.`);
    } else {
      onAdd(trimmed, typedValue(value));
      setName('');
      setValue('');
      setProblem(null);
      return;
    }
  };
  return (
    <fieldset class="card" data-testid="add-param">
      <legend>A parameter the form has no field for (optional)</legend>
      <p class="muted small">
        Passed to Nextflow as written. true/false and numbers are typed; a value in [ ] or {'{ }'} is read as
        JSON. It is listed above with the other parameters the pipeline does not declare.
      </p>
      <div class="filters">
        <label>
          Name
          <input
            class="mono"
            value={name}
            aria-invalid={problem ? true : undefined}
            onInput={(e) => setName(e.currentTarget.value)}
          />
        </label>
        <label>
          Value
          <input
            class="mono"
            value={value}
            onInput={(e) => setValue(e.currentTarget.value)}
            onKeyDown={(e) => {
              if (e.key === 'Enter') {
                e.preventDefault();
                add();
              }
            }}
          />
        </label>
        <button type="button" onClick={add}>
          Add parameter
        </button>
      </div>
      {problem && (
        <p class="field-error" role="alert">
          {problem}
        </p>
      )}
    </fieldset>
  );
}

/** Step 4: the pipeline version and its parameters, a form built from that version's nextflow_schema.json. */
export function ParamsStep({ draft, update, preview }: StepProps) {
  const pipelineRead = useApi<PipelineDetail>(`/api/pipelines/${enc(draft.pipeline)}`);
  const pipeline = pipelineRead.state === 'ready' ? pipelineRead.value : null;
  const [showHidden, setShowHidden] = useState(false);
  const version = draft.version || pipeline?.default_version || '';

  const schemaRead = useApi<PipelineSchemaResponse>(
    version ? `/api/pipelines/${enc(draft.pipeline)}/schema?version=${enc(version)}` : null,
  );
  // The schema of the version chosen now, not the one shown while it loads.
  const current =
    schemaRead.state === 'ready' && schemaRead.value.version === version ? schemaRead.value : null;
  const schema = current?.nextflow_schema ?? null;
  const error =
    pipelineRead.state === 'error'
      ? pipelineRead.message
      : schemaRead.state === 'error'
        ? schemaRead.message
        : null;

  if (error) return <ErrorNote title="Could not load the pipeline's parameters.">{error}</ErrorNote>;
  if (!pipeline || !schema) return <Loading what="Loading the pipeline's parameters…" />;

  const problems = problemsOf(
    preview,
    (p) => p.field === 'params' || (p.field?.startsWith('params.') ?? false),
  );
  const problemFor = (name: string) => problems.find((p) => p.field === `params.${name}`)?.message;
  const general = problems.filter((p) => p.field === 'params');
  // Unknown params that look like typos of known ones: refused until the user says they mean them.
  const typos = problems.filter((p) => p.rule === 'unknown_param');
  const otherProblems = problems.filter((p) => p.rule !== 'unknown_param');
  const configProblems = problemsOf(preview, (p) => p.field === 'config_content');
  // Params the form has no field for (a typo, an old version's param): said here, with a guess.
  const shown =
    preview.state === 'done' ? preview.result : preview.state === 'checking' ? preview.last : null;
  const paramWarnings = shown?.valid ? shown.param_warnings : [];
  const unknown = paramWarnings.filter(
    (w) => w.param in draft.params && w.message.startsWith('Unrecognised param'),
  );
  const warningFor = (name: string) => paramWarnings.find((w) => w.param === name)?.message;
  const suggestionsFor = (name: string) => (name === 'genome' ? (current?.igenomes ?? undefined) : undefined);
  // Every param the schema declares: its groups, then any defined at the top level.
  const groups: [string, GroupSchema][] = Object.entries(schema.$defs ?? schema.definitions ?? {});
  if (schema.properties && Object.keys(schema.properties).length > 0)
    groups.push(['other', { title: 'Other parameters', properties: schema.properties }]);
  const topRequired = new Set(schema.required ?? []);
  const hiddenCount = groups.reduce(
    (n, [, g]) =>
      n + Object.entries(g.properties ?? {}).filter(([name, p]) => p.hidden && isFormParam(name)).length,
    0,
  );
  const setParam = (name: string, value: unknown) => {
    const params = { ...draft.params };
    if (value === undefined) delete params[name];
    else params[name] = value;
    update({ params });
  };

  return (
    <div class="stack">
      <div class="filters">
        <label>
          Pipeline version
          <select
            value={version}
            onChange={(e) =>
              update({
                version: e.currentTarget.value,
                samplesheet: draft.samplesheetEdited ? draft.samplesheet : '',
              })
            }
          >
            {pipeline.versions.map((v) => (
              <option value={v}>
                {v}
                {v === pipeline.default_version ? ' (latest)' : ''}
              </option>
            ))}
          </select>
        </label>
        <label class="inline">
          <input
            type="checkbox"
            checked={showHidden}
            onChange={(e) => setShowHidden(e.currentTarget.checked)}
          />{' '}
          Show {hiddenCount} hidden parameters
        </label>
      </div>
      <p class="muted small">
        The parameters of {pipeline.name} {version}, from its own nextflow_schema.json. Fields marked{' '}
        <span class="required">*</span> are required. Empty fields use the pipeline's default.{' '}
        <span class="mono">input</span> and <span class="mono">outdir</span> are set by the platform.
      </p>
      {general.map((p) => (
        <p class="field-error">{p.message}</p>
      ))}
      {(unknown.length > 0 || typos.length > 0 || draft.allowUnknownParams) && (
        <div
          class={`note${typos.length > 0 ? ' note-error' : ''}`}
          role="status"
          data-testid="unknown-params"
        >
          <strong>
            Not parameters of {pipeline.name} {version}:
          </strong>
          <ul>
            {[
              ...typos.map((p) => ({ param: p.field!.slice('params.'.length), message: p.message })),
              ...unknown,
            ].map((item) => (
              <li>
                <span class="mono">
                  {item.param} = {JSON.stringify(draft.params[item.param])}
                </span>
                {' — '}
                {item.message.replace(
                  / Fix the name, or launch with "allow_unknown_params": true to pass it to Nextflow as written\./,
                  '',
                )}{' '}
                <button type="button" class="link small" onClick={() => setParam(item.param, undefined)}>
                  Remove
                </button>
              </li>
            ))}
          </ul>
          {(typos.length > 0 || draft.allowUnknownParams) && (
            <label class="inline">
              <input
                type="checkbox"
                data-testid="allow-unknown-params"
                checked={draft.allowUnknownParams ?? false}
                onChange={(e) => update({ allowUnknownParams: e.currentTarget.checked })}
              />{' '}
              I mean them as written: launch them unchanged (the parameters they look like keep their
              defaults)
            </label>
          )}
        </div>
      )}
      {otherProblems.length > 0 && (
        <p class="note note-error" role="alert">
          {otherProblems.length} parameter problem{otherProblems.length === 1 ? '' : 's'}:{' '}
          {otherProblems.map((p) => p.message).join('; ')}
        </p>
      )}
      {groups.map(([id, group]) => {
        const fields = Object.entries(group.properties ?? {}).filter(
          ([name, p]) => isFormParam(name) && (showHidden || !p.hidden || draft.params[name] !== undefined),
        );
        if (fields.length === 0) return null;
        const required = new Set([...(group.required ?? []), ...topRequired]);
        return (
          <fieldset class="card group" data-group={id}>
            <legend>{group.title ?? id}</legend>
            {group.description && <p class="muted small">{group.description}</p>}
            <div class="fields">
              {fields.map(([name, p]) => (
                <ParamField
                  name={name}
                  schema={p}
                  required={required.has(name)}
                  value={draft.params[name]}
                  problem={problemFor(name)}
                  warning={warningFor(name)}
                  suggestions={suggestionsFor(name)}
                  onChange={(value) => setParam(name, value)}
                />
              ))}
            </div>
          </fieldset>
        );
      })}
      <AddParam
        known={new Set(groups.flatMap(([, g]) => Object.keys(g.properties ?? {})))}
        onAdd={(name, value) => setParam(name, value)}
      />
      <fieldset class="card">
        <legend>Extra Nextflow config (optional)</legend>
        <label>
          Appended to the platform's config, e.g. resources for one process
          <textarea
            class="mono"
            rows={4}
            value={draft.config}
            placeholder="process { withName: 'STAR_ALIGN' { memory = 64.GB } }"
            aria-invalid={configProblems.length > 0 ? true : undefined}
            onInput={(e) => update({ config: e.currentTarget.value })}
          />
        </label>
        {configProblems.map((p) => (
          <p class="field-error" role="alert" data-testid="config-problem">
            {p.message}
          </p>
        ))}
      </fieldset>
      {draft.pipeline && (
        <RecommendationsPanel
          pipeline={draft.pipeline}
          version={draft.version || null}
          quiet
          currentConfig={draft.config}
          onApply={(snippet) =>
            update({ config: `${draft.config.trimEnd()}${draft.config.trim() ? '\n' : ''}${snippet}` })
          }
        />
      )}
    </div>
  );
}
