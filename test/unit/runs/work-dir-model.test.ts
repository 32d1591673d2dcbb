import { describe, expect, it } from 'vitest';
import {
  describeWorkDir,
  GIB,
  type WorkDirState,
  workDirFigures,
} from '../../../functions/core/runs/work-dir-model';

const settings = { priceGibMonth: 0.02, retentionDays: 30 };

function state(fields: Partial<WorkDirState> = {}): WorkDirState {
  return {
    bytes: 5 * GIB,
    objects: 1200,
    work_bytes: 4.5 * GIB,
    cache_bytes: 0.5 * GIB,
    oldest_at: '2026-12-01T10:00:00.000Z',
    newest_at: '2026-12-03T12:00:00.000Z',
    measured_at: '2026-12-03T12:05:00.000Z',
    complete: true,
    freeing_since: null,
    freed_at: null,
    freed_by: null,
    expiry_noticed_at: null,
    ...fields,
  };
}

describe('what keeping a work dir costs', () => {
  it('prices GiB-months and dates the resume window from the oldest and newest objects', () => {
    const figures = workDirFigures(state(), settings);
    expect(figures.monthlyUsd).toBeCloseTo(0.1, 12);
    expect(figures.resumableUntil).toBe('2026-12-31T10:00:00.000Z');
    expect(figures.goneBy).toBe('2027-01-02T12:00:00.000Z');
    expect(figures.basis).toBe(
      "5.000 GiB × $0.02 per GiB-month (Cloud Storage Standard storage); the bucket deletes a work dir's objects 30 days after they are written",
    );
  });

  it('costs nothing and resumes nothing once freed', () => {
    const freed = state({
      bytes: 0,
      objects: 0,
      freed_at: '2026-12-04T00:00:00.000Z',
      freed_by: 'ana@example.com',
    });
    expect(workDirFigures(freed, settings)).toMatchObject({
      monthlyUsd: 0,
      resumableUntil: null,
      goneBy: null,
    });
    expect(describeWorkDir(freed, settings, new Date('2026-12-05T00:00:00Z'))).toBe(
      'Freed by ana@example.com: nothing is left to resume from.',
    );
  });

  it('says in words what it holds and until when, a lower bound when counting stopped, and when the window has passed', () => {
    const now = new Date('2026-12-07T00:00:00Z');
    expect(describeWorkDir(state(), settings, now)).toBe(
      '5.0 GB in 1,200 objects, $0.10 a month to keep; can be resumed in full until 2026-12-31.',
    );
    expect(describeWorkDir(state({ complete: false }), settings, now)).toMatch(/^at least 5\.0 GB/);
    expect(describeWorkDir(state(), settings, new Date('2027-01-01T00:00:00Z'))).toContain(
      'its oldest objects were deleted after 2026-12-31, so -resume reruns their tasks',
    );
    expect(describeWorkDir(state({ freeing_since: '2026-12-06T00:00:00.000Z' }), settings, now)).toBe(
      'Being freed since 2026-12-06 00:00 UTC: -resume can no longer use it.',
    );
    expect(describeWorkDir(state({ bytes: 0, objects: 0 }), settings, now)).toMatch(/^Empty/);
  });
});
