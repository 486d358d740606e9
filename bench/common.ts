/**
 * What the side-by-side benchmarks share: command-line options, the description of the machine
 * printed above every table, and the table itself.
 */
import { cpus, release } from 'node:os';

/** The value after `--name` on the command line, or `dflt`. */
export function option(name: string, dflt: string): string {
  const args = process.argv.slice(2);
  const i = args.indexOf(`--${name}`);
  return i >= 0 && i + 1 < args.length ? args[i + 1]! : dflt;
}

/** Prints the title and the machine: date, CPU, kernel, Node. */
export function printMachine(title: string): void {
  console.log(`${title}\n`);
  console.log(`date:    ${new Date().toISOString()}`);
  console.log(`cpu:     ${cpus()[0]?.model ?? '?'}, ${cpus().length} cores`);
  console.log(`kernel:  Linux ${release()}`);
  console.log(`node:    ${process.version}`);
}

/** Prints a table: the first `leftColumns` columns left-aligned, the rest right-aligned. */
export function printTable(head: string[], rows: string[][], leftColumns = 1): void {
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: string[]) =>
    cells.map((c, i) => (i < leftColumns ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join('  ');
  console.log(line(head));
  console.log(widths.map((w) => '-'.repeat(w)).join('  '));
  for (const r of rows) console.log(line(r));
}
