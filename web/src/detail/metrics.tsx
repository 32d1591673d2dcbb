import { useEffect, useRef } from 'preact/hooks';
import uPlot from 'uplot';
import type { RunMetrics } from '../../../functions/core/nextflow/metrics';
import { earlierAttemptsSummary, preemptionSummary } from '../../../functions/core/nextflow/metrics';
import { shortProcessName } from '../../../functions/core/nextflow/process-names';
import type { CostEstimate } from '../../../functions/core/runs/cost-estimate';
import { formatBytes, formatDuration } from '../../../functions/core/shared/format';
import { CostEstimateNote } from './estimate';

const GIB = 1024 ** 3;

/** CPU-hours and peak memory per process, as bars (uPlot: small and fast). */
function ProcessChart({ metrics }: { metrics: RunMetrics }) {
  const host = useRef<HTMLDivElement>(null);
  const processes = metrics.processes.filter((p) => p.cpu_hours > 0 || (p.max_peak_rss_bytes ?? 0) > 0);
  useEffect(() => {
    const element = host.current;
    if (!element || processes.length === 0) return undefined;
    const names = processes.map((p) => shortProcessName(p.process));
    const xs = names.map((_, i) => i);
    const bars = uPlot.paths.bars!({ size: [0.35, 40], align: -1 });
    const bars2 = uPlot.paths.bars!({ size: [0.35, 40], align: 1 });
    const width = Math.max(280, Math.min(element.clientWidth || 720, 960));
    // Room below the axis for the longest (rotated) process name, so none is clipped.
    const longest = Math.max(...names.map((n) => n.length));
    const labelRoom = Math.min(170, 24 + longest * 5.5);
    const chart = new uPlot(
      {
        width,
        // The plot keeps 200 px above the names, however long they are.
        height: 200 + labelRoom,
        title: 'Resources by process',
        scales: { x: { time: false, range: [-0.6, names.length - 0.4] }, cpu: {}, mem: {} },
        axes: [
          {
            values: (_u, ticks) => ticks.map((t) => names[t] ?? ''),
            splits: () => xs,
            rotate: -40,
            size: labelRoom,
          } as uPlot.Axis,
          { scale: 'cpu', label: 'CPU-hours', size: 56 },
          { scale: 'mem', label: 'Peak memory (GiB)', side: 1, grid: { show: false }, size: 56 },
        ],
        // The legend names the series; the figures are in the table below (no "Value: --").
        legend: { live: false },
        series: [
          {},
          {
            label: 'CPU-hours',
            scale: 'cpu',
            fill: '#3b6fd4',
            stroke: '#3b6fd4',
            paths: bars,
            points: { show: false },
          },
          {
            label: 'Peak memory (GiB)',
            scale: 'mem',
            fill: '#d98c2b',
            stroke: '#d98c2b',
            paths: bars2,
            points: { show: false },
          },
        ],
      },
      [xs, processes.map((p) => p.cpu_hours), processes.map((p) => (p.max_peak_rss_bytes ?? 0) / GIB)],
      element,
    );
    return () => chart.destroy();
  }, [metrics.trace_generation]);
  if (processes.length === 0) return null;
  return (
    <figure class="chart">
      <div
        ref={host}
        role="img"
        aria-label="Bar chart of CPU-hours and peak memory by process; the same figures are in the table below"
      />
    </figure>
  );
}

export function MetricsPanel({
  metrics,
  estimate = null,
}: {
  metrics: RunMetrics | null;
  estimate?: CostEstimate | null;
}) {
  return (
    <section aria-labelledby="metrics-heading" class="card">
      <h2 id="metrics-heading">Metrics</h2>
      <CostEstimateNote estimate={estimate} actualUsd={metrics?.cost.estimate} />
      {!metrics ? (
        <p class="muted">
          Duration, CPU-hours, cost and memory are computed from the final trace when the run ends.
        </p>
      ) : (
        <>
          <dl class="stats">
            <div>
              <dt>Wall time</dt>
              <dd>{formatDuration(metrics.wall_ms)}</dd>
            </div>
            <div>
              <dt>CPU-hours</dt>
              <dd>{metrics.cpu_hours.toFixed(2)}</dd>
            </div>
            <div>
              <dt>Estimated cost</dt>
              <dd title={metrics.cost.formula}>${metrics.cost.estimate.toFixed(2)}</dd>
            </div>
            <div>
              <dt>Peak memory</dt>
              <dd>{formatBytes(metrics.peak_rss_bytes)}</dd>
            </div>
            <div>
              <dt>Tasks</dt>
              <dd>
                {metrics.tasks.completed} run, {metrics.tasks.cached} cached, {metrics.tasks.failed} failed
              </dd>
            </div>
          </dl>
          {earlierAttemptsSummary(metrics) && (
            <p class="note" data-testid="earlier-attempts">
              {earlierAttemptsSummary(metrics)}
            </p>
          )}
          {preemptionSummary(metrics) && (
            <p class="note" data-testid="preempted">
              {preemptionSummary(metrics)}
            </p>
          )}
          <p class="muted small">Cost: {metrics.cost.formula}</p>
          <ProcessChart metrics={metrics} />
          <div class="table-wrap">
            <table class="compact">
              <caption>Per process</caption>
              <thead>
                <tr>
                  <th scope="col">Process</th>
                  <th scope="col">Tasks</th>
                  <th scope="col">Mean run time</th>
                  <th scope="col">CPU-hours</th>
                  <th scope="col">Peak memory</th>
                </tr>
              </thead>
              <tbody>
                {metrics.processes.map((p) => (
                  <tr>
                    <td>{shortProcessName(p.process)}</td>
                    <td>
                      {p.count}
                      {p.cached ? <span class="muted"> ({p.cached} cached)</span> : null}
                    </td>
                    <td>{formatDuration(p.mean_realtime_ms)}</td>
                    <td>{p.cpu_hours.toFixed(3)}</td>
                    <td>{formatBytes(p.max_peak_rss_bytes)}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
        </>
      )}
    </section>
  );
}
