/** What every benchmark returns to bench/run.ts. */
export interface Target {
  /** e.g. "(1) ≤ 1.5× xargs wall time". */
  name: string;
  ok: boolean;
  /** The measured figure, e.g. "1.32×". */
  measured: string;
}

export interface BenchSection {
  key: string;
  title: string;
  /** Body of the section (without the title). */
  markdown: string;
  figures: Record<string, number>;
  targets: Target[];
}

export interface BenchContext {
  runs: number;
  log: (line: string) => void;
}
