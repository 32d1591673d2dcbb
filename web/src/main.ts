interface RunRow {
  run_id: string;
  pipeline: string;
  pipeline_version: string;
  status: string;
  sample_count: number;
  created_at: string;
}

function cell(text: string, className?: string): HTMLTableCellElement {
  const td = document.createElement('td');
  td.textContent = text;
  if (className) td.className = className;
  return td;
}

async function render(root: HTMLElement): Promise<void> {
  const response = await fetch('/api/runs?page_size=50');
  const body = (await response.json()) as { runs?: RunRow[]; total?: number; error?: { message: string } };
  root.replaceChildren();
  if (!response.ok || !body.runs) {
    const p = document.createElement('p');
    p.className = 'error';
    p.textContent = `Could not load runs: ${body.error?.message ?? response.statusText}`;
    root.append(p);
    return;
  }
  const heading = document.createElement('h2');
  heading.textContent = `Your runs (${body.total ?? body.runs.length})`;
  root.append(heading);
  if (body.runs.length === 0) {
    const p = document.createElement('p');
    p.textContent = 'No runs yet. Launch one with POST /api/runs (see the README).';
    root.append(p);
    return;
  }
  const table = document.createElement('table');
  const head = table.createTHead().insertRow();
  for (const title of ['Run', 'Pipeline', 'Status', 'Samples', 'Created']) {
    const th = document.createElement('th');
    th.scope = 'col';
    th.textContent = title;
    head.append(th);
  }
  const rows = table.createTBody();
  for (const run of body.runs) {
    const row = rows.insertRow();
    row.append(
      cell(run.run_id),
      cell(`${run.pipeline} ${run.pipeline_version}`),
      cell(run.status, 'status'),
      cell(String(run.sample_count)),
      cell(new Date(run.created_at).toLocaleString()),
    );
  }
  root.append(table);
}

const root = document.getElementById('app');
if (root) void render(root);
