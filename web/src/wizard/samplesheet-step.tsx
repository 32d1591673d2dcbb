import Papa from 'papaparse';
import { useEffect, useState } from 'preact/hooks';
import type { BuiltSamplesheet } from '../../../functions/core/benchling/samplesheet-builder';
import { api, errorText, type FieldProblem } from '../api';
import { ErrorNote, Loading } from '../components/ui';
import { latestResult, problemsOf, type StepProps } from './preview';

function parse(csv: string): string[][] {
  return Papa.parse<string[]>(csv.trim(), { skipEmptyLines: true }).data;
}

/** "Row 2, fastq_1: …", unless the message already says where. */
function whereAndWhat(p: FieldProblem): string {
  const where = [p.row ? `Row ${p.row}` : '', p.column ?? ''].filter(Boolean).join(', ');
  return where && !p.message.toLowerCase().startsWith(`row ${p.row}`) ? `${where}: ${p.message}` : p.message;
}

function isSamplesheetProblem(p: FieldProblem): boolean {
  return p.field === 'samplesheet_csv';
}

/** Step 3: the samplesheet built from the selection, editable as a grid or as text, checked as you type. */
const isPath = (value: string) => /^(gs|s3|https?):\/\//.test(value) || value.includes('/');
const fileName = (value: string) => value.slice(value.lastIndexOf('/') + 1) || value;

/** A column as wide as what it holds (in characters), within reason; paths show their file name. */
function columnWidth(values: string[], header: string): number {
  const longest = Math.max(header.length, ...values.map((v) => (isPath(v) ? fileName(v) : v).length));
  return Math.min(48, Math.max(6, longest + 2));
}

/**
 * One cell. A path shows its file name (the part that tells rows apart) with the full URI on
 * hover; focusing it edits the full URI.
 */
function Cell({
  value,
  label,
  width,
  problem,
  warning,
  onInput,
}: {
  value: string;
  label: string;
  width: number;
  problem: FieldProblem | undefined;
  /** A warning about this cell or its row: shown, not refused. */
  warning?: FieldProblem | undefined;
  onInput: (value: string) => void;
}) {
  const [editing, setEditing] = useState(false);
  // A cell with a problem shows all of itself: the problem may be in the part a name would hide.
  const shorten = isPath(value) && !editing && !problem;
  return (
    <input
      value={shorten ? fileName(value) : value}
      size={width}
      aria-label={`${label}${shorten ? `: ${value}` : ''}`}
      aria-invalid={problem ? true : undefined}
      title={problem ? `${problem.message}\n${value}` : warning ? `${warning.message}\n${value}` : value}
      data-full={value}
      onFocus={() => setEditing(true)}
      onBlur={() => setEditing(false)}
      onInput={(e) => onInput(e.currentTarget.value)}
    />
  );
}

export function SamplesheetStep({ draft, update, preview }: StepProps) {
  const [error, setError] = useState<string | null>(null);
  const [warnings, setWarnings] = useState<string[]>([]);
  const [asText, setAsText] = useState(false);
  const ids = Object.values(draft.samples).flat();

  useEffect(() => {
    if (draft.samplesheet || ids.length === 0) return;
    setError(null);
    const body: Record<string, unknown> = { pipeline: draft.pipeline, sample_ids: ids };
    if (draft.version) body.pipeline_version = draft.version;
    api<BuiltSamplesheet>('/api/samplesheets', { method: 'POST', body })
      .then((built) => {
        setWarnings(built.warnings);
        update({
          samplesheet: built.samplesheet_csv,
          samplesheetEdited: false,
          sourceProject: built.source_project,
          ngsRuns: built.source_ngs_runs.length > 0 ? built.source_ngs_runs : draft.ngsRuns,
        });
      })
      .catch((e: unknown) => setError(errorText(e)));
  }, [draft.samplesheet, ids.join(',')]);

  if (ids.length === 0 && !draft.samplesheet)
    return <p class="note">No sample is selected: go back and pick samples, or paste a samplesheet below.</p>;
  if (error) return <ErrorNote title="Could not build the samplesheet.">{error}</ErrorNote>;
  if (!draft.samplesheet) return <Loading what="Building the samplesheet…" />;

  const rows = parse(draft.samplesheet);
  const [header = [], ...data] = rows;
  const problems = problemsOf(preview, isSamplesheetProblem);
  const cellProblem = (row: number, column: string) =>
    problems.find((p) => p.row === row && p.column === column);
  const result = latestResult(preview);
  const sheetWarnings = result?.samplesheet_warnings ?? [];
  /** A warning about the cell, or about its whole row. */
  const cellWarning = (row: number, column: string) =>
    sheetWarnings.find((w) => w.row === row && (w.column === column || w.column === undefined));
  const setCell = (row: number, col: number, value: string) => {
    const next = rows.map((r) => [...r]);
    next[row + 1]![col] = value;
    update({ samplesheet: `${Papa.unparse(next)}\n`, samplesheetEdited: true });
  };
  const addRow = () => {
    const next = [...rows.map((r) => [...r]), header.map(() => '')];
    update({ samplesheet: `${Papa.unparse(next)}\n`, samplesheetEdited: true });
  };
  const widths = header.map((column, c) =>
    columnWidth(
      data.map((cells) => cells[c] ?? ''),
      column,
    ),
  );
  const removeRow = (row: number) => {
    const next = rows.filter((_, i) => i !== row + 1);
    update({ samplesheet: `${Papa.unparse(next)}\n`, samplesheetEdited: true });
  };

  return (
    <div class="stack">
      <p>
        One row per FASTQ pair, as {draft.pipeline} reads it. Edit cells directly; problems are checked as you
        type, by row and column.
      </p>
      {warnings.map((w) => (
        <p class="note">{w}</p>
      ))}
      <div class="buttons">
        <label class="inline">
          <input type="checkbox" checked={asText} onChange={(e) => setAsText(e.currentTarget.checked)} /> Edit
          as text (CSV)
        </label>
        {draft.samplesheetEdited && (
          <button
            type="button"
            class="small"
            onClick={() => update({ samplesheet: '', samplesheetEdited: false })}
          >
            Rebuild from the selected samples
          </button>
        )}
      </div>
      {asText ? (
        <label>
          Samplesheet CSV
          <textarea
            class="mono"
            rows={Math.min(20, rows.length + 2)}
            value={draft.samplesheet}
            aria-invalid={problems.length > 0}
            aria-describedby="samplesheet-problems"
            onInput={(e) => update({ samplesheet: e.currentTarget.value, samplesheetEdited: true })}
          />
        </label>
      ) : (
        <div class="table-wrap">
          <table class="sheet">
            <caption class="visually-hidden">Samplesheet; each cell is editable</caption>
            <thead>
              <tr>
                <th scope="col">Row</th>
                {header.map((h) => {
                  const warning = cellWarning(0, h);
                  return (
                    <th scope="col" class={warning ? 'cell-warning' : ''} title={warning?.message}>
                      {h}
                    </th>
                  );
                })}
                <th scope="col">
                  <span class="visually-hidden">Remove</span>
                </th>
              </tr>
            </thead>
            <tbody>
              {data.map((cells, r) => (
                <tr>
                  <th scope="row">{r + 1}</th>
                  {header.map((column, c) => {
                    const problem = cellProblem(r + 1, column);
                    const warning = problem ? undefined : cellWarning(r + 1, column);
                    return (
                      <td class={problem ? 'cell-invalid' : warning ? 'cell-warning' : ''}>
                        <Cell
                          value={cells[c] ?? ''}
                          label={`Row ${r + 1} ${column}`}
                          width={widths[c]!}
                          problem={problem}
                          warning={warning}
                          onInput={(value) => setCell(r, c, value)}
                        />
                      </td>
                    );
                  })}
                  <td>
                    <button
                      type="button"
                      class="small"
                      aria-label={`Remove row ${r + 1}`}
                      onClick={() => removeRow(r)}
                    >
                      ✕
                    </button>
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
      {/* Outside the table's scroller, so a narrow window shows it whole. */}
      {!asText && (
        <div>
          <button type="button" class="small" onClick={addRow}>
            + Add row
          </button>
        </div>
      )}
      <div id="samplesheet-problems" aria-live="polite">
        {preview.state === 'checking' && <Loading what="Checking the samplesheet…" />}
        {preview.state === 'error' && (
          <ErrorNote title="Could not check the samplesheet.">{preview.message}</ErrorNote>
        )}
        {problems.length > 0 ? (
          <div class="note note-error" role="alert" data-testid="samplesheet-problems">
            <strong>
              {problems.length} problem{problems.length === 1 ? '' : 's'} to fix before launch:
            </strong>
            <ul>
              {problems.slice(0, 50).map((p) => (
                <li>{whereAndWhat(p)}</li>
              ))}
            </ul>
          </div>
        ) : (
          preview.state === 'done' && (
            <>
              <p class="ok" data-testid="samplesheet-ok">
                ✓ {data.length} row{data.length === 1 ? '' : 's'}; the samplesheet is valid
                {preview.result.valid
                  ? ' and every FASTQ it names exists'
                  : ' (its FASTQs are checked once the parameters are valid)'}
                {sheetWarnings.length > 0
                  ? `, with ${sheetWarnings.length} warning${sheetWarnings.length === 1 ? '' : 's'} to read below.`
                  : '.'}
              </p>
              {sheetWarnings.length > 0 && (
                <div class="note" role="status" data-testid="samplesheet-warnings">
                  <strong>Read before launch (marked in the table):</strong>
                  <ul>
                    {sheetWarnings.map((w) => (
                      <li>{w.message}</li>
                    ))}
                  </ul>
                </div>
              )}
            </>
          )
        )}
      </div>
    </div>
  );
}
