/**
 * Tables that fit the terminal: fixed-width columns, one or more flexible ones that take what is
 * left (names), and columns that are dropped, least important first, when the terminal is too
 * narrow (80 columns keeps the essentials). Row 0 of the selection is drawn with a › cursor.
 */
import { fit } from './text.js';
import { fitLine, restyle, seg, type Line, type Seg } from './style.js';

export interface Column<T> {
  title: string;
  /** Cells; a flexible column's least width. */
  width: number;
  /** Takes a share of the width left over (by this weight). */
  flex?: number;
  right?: boolean;
  /** Dropped first when the terminal is narrow: lower goes first; absent: never dropped. */
  drop?: number;
  cell: (row: T) => Seg | string;
}

const GAP = 1;
/** The selection cursor column. */
const MARK = 2;

/** The columns kept at this width, and each one's width. */
export function layoutColumns<T>(columns: Column<T>[], width: number): { column: Column<T>; width: number }[] {
  let kept = [...columns];
  const need = (cols: Column<T>[]) => MARK + cols.reduce((s, c) => s + c.width, 0) + GAP * Math.max(0, cols.length - 1);
  while (need(kept) > width) {
    const droppable = kept.filter((c) => c.drop !== undefined).sort((a, b) => a.drop! - b.drop!);
    if (droppable.length === 0) break;
    kept = kept.filter((c) => c !== droppable[0]);
  }
  const spare = Math.max(0, width - need(kept));
  const weights = kept.reduce((s, c) => s + (c.flex ?? 0), 0);
  let given = 0;
  const flexCols = kept.filter((c) => c.flex);
  return kept.map((c) => {
    if (!c.flex || weights === 0) return { column: c, width: c.width };
    const last = c === flexCols[flexCols.length - 1];
    const extra = last ? spare - given : Math.floor((spare * c.flex) / weights);
    given += extra;
    return { column: c, width: c.width + extra };
  });
}

export function tableHeader<T>(layout: { column: Column<T>; width: number }[], width: number): Line {
  const parts: Line = [seg(' '.repeat(MARK))];
  layout.forEach(({ column, width: w }, i) => {
    if (i > 0) parts.push(seg(' '.repeat(GAP)));
    parts.push(seg(fit(column.title, w, column.right), 'head'));
  });
  return fitLine(parts, width);
}

export function tableRow<T>(layout: { column: Column<T>; width: number }[], row: T, width: number, selected: boolean, focused = true): Line {
  const parts: Line = [seg(selected ? '› ' : '  ', selected ? 'focus' : undefined)];
  layout.forEach(({ column, width: w }, i) => {
    if (i > 0) parts.push(seg(' '.repeat(GAP)));
    const c = column.cell(row);
    const s = typeof c === 'string' ? seg(c) : c;
    parts.push({ ...s, text: fit(s.text, w, column.right) });
  });
  const line = fitLine(parts, width);
  return selected && focused ? [line[0]!, ...restyle(line.slice(1), 'selected')] : line;
}
