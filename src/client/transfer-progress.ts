// How a snapshot transfer's progress reads to a person: the line `understudy status` prints under
// its table for each replica receiving a snapshot, and what the measurement tool prints from its
// status samples. Decimal units, as disks and networks are sold.

import type { TransferProgress } from '../protocol/messages.js';

/** Made at first use: building a NumberFormat costs tens of milliseconds, at every process start. */
let thousands: Intl.NumberFormat | null = null;

function withThousands(value: number): string {
  thousands ??= new Intl.NumberFormat('en-US');
  return thousands.format(value);
}

/** "receiving snapshot 42,118 of 210,000,000 bytes  0%  105 MB/s  2.0 s left" */
export function formatTransfer({ snapshot, receivedBytes, bytesPerSecond }: TransferProgress): string {
  const sizeBytes = snapshot.sizeBytes;
  const percent = sizeBytes === 0 ? 100 : Math.floor((Math.min(receivedBytes, sizeBytes) / sizeBytes) * 100);
  const parts = [
    `receiving snapshot ${withThousands(receivedBytes)} of ${withThousands(sizeBytes)} bytes`,
    `${percent}%`,
  ];
  if (bytesPerSecond > 0) {
    const leftSeconds = Math.max(0, sizeBytes - receivedBytes) / bytesPerSecond;
    parts.push(`${formatRate(bytesPerSecond)}`, `${formatSeconds(leftSeconds)} left`);
  } else parts.push('rate not known yet');
  return parts.join('  ');
}

/** Decimal units, three significant digits at most: "950 B/s", "12.5 kB/s", "105 MB/s". */
function formatRate(bytesPerSecond: number): string {
  const units = ['B/s', 'kB/s', 'MB/s', 'GB/s'];
  let value = bytesPerSecond;
  let unit = 0;
  while (value >= 1000 && unit < units.length - 1) {
    value /= 1000;
    unit += 1;
  }
  const shown = value >= 100 || unit === 0 ? Math.round(value).toString() : value.toPrecision(3);
  return `${shown} ${units[unit]}`;
}

/** "0.4 s", "12 s", "3 min 20 s" */
function formatSeconds(seconds: number): string {
  if (seconds < 10) return `${seconds.toFixed(1)} s`;
  if (seconds < 60) return `${Math.round(seconds)} s`;
  const whole = Math.round(seconds);
  return `${Math.floor(whole / 60)} min ${whole % 60} s`;
}
