// Tables on the terminal (cli-table3), plain: no colours, so that what a terminal shows is what a
// file or a document gets. Numbers are right-aligned, the first column left.

import Table from 'cli-table3';

export function formatTable(head: readonly string[], rows: readonly (readonly string[])[]): string {
  const table = new Table({
    head: [...head],
    colAligns: head.map((_, column) => (column === 0 ? 'left' : 'right')),
    style: { head: [], border: [], compact: true },
  });
  for (const row of rows) table.push([...row]);
  return table.toString();
}

/** 12345.6 → "12,346". */
export function formatCount(value: number): string {
  return Math.round(value).toLocaleString('en-US');
}

/** Milliseconds with two decimals: "0.84". */
export function formatMs(value: number): string {
  return value.toFixed(2);
}
