/**
 * Kubernetes resource quantities ("3500m", "16Gi", "1.5G", "129e6", "4") ↔ numbers.
 *
 * @kubernetes/client-node ships `quantityToScalar`, but it throws on valid fractional binary
 * quantities ("1.5Gi", "0.5Ki": it feeds them to BigInt) and returns number or bigint depending
 * on the suffix, so we parse the grammar of k8s.io/apimachinery's resource.Quantity ourselves:
 *   <signedNumber><suffix>, suffix = Ki|Mi|Gi|Ti|Pi|Ei | n|u|m|""|k|M|G|T|P|E | e<signedNumber>
 */
import { InputError } from '../../errors.js';

const BINARY: Record<string, number> = { Ki: 2 ** 10, Mi: 2 ** 20, Gi: 2 ** 30, Ti: 2 ** 40, Pi: 2 ** 50, Ei: 2 ** 60 };
/** Decimal suffixes as powers of ten (divided, not multiplied, below one: 2683m is exactly 2.683). */
const DECIMAL: Record<string, number> = { n: -9, u: -6, m: -3, '': 0, k: 3, M: 6, G: 9, T: 12, P: 15, E: 18 };

const QUANTITY = /^([+-]?(?:\d+(?:\.\d*)?|\.\d+))(Ki|Mi|Gi|Ti|Pi|Ei|[eE][+-]?\d+|n|u|m|k|M|G|T|P|E)?$/;

/** A quantity as a plain number (cores for cpu, bytes for memory, a count for devices). */
export function parseQuantity(q: string | number, path = 'quantity'): number {
  if (typeof q === 'number') {
    if (!Number.isFinite(q)) throw new InputError(`invalid quantity ${q}`, path);
    return q;
  }
  const m = typeof q === 'string' ? QUANTITY.exec(q.trim()) : null;
  if (!m) throw new InputError(`invalid quantity ${JSON.stringify(q)}: expected e.g. "500m", "2", "16Gi", "1.5G"`, path);
  const value = Number(m[1]);
  const suffix = m[2] ?? '';
  if (suffix in BINARY) return value * BINARY[suffix]!;
  const exp = suffix in DECIMAL ? DECIMAL[suffix]! : Number(suffix.slice(1)); // or a decimal exponent e<n>
  return exp >= 0 ? value * 10 ** exp : value / 10 ** -exp;
}

/** CPU quantity → cores, rounded to whole millicores as Kubernetes does ("3500m" → 3.5). */
export function parseCpu(q: string | number, path = 'cpu'): number {
  return Math.ceil(Math.round(parseQuantity(q, path) * 1e6) / 1e3) / 1e3;
}

/** Memory (or any byte) quantity → whole bytes, rounded up ("1.5Ki" → 1536, "1k" → 1000). */
export function parseBytes(q: string | number, path = 'memory'): number {
  return Math.ceil(parseQuantity(q, path) - 1e-9);
}

/** Cores → a canonical cpu quantity: whole cores as "2", otherwise millicores "1500m". */
export function formatCpu(cores: number): string {
  const milli = Math.ceil(Math.round(cores * 1e6) / 1e3);
  return milli % 1000 === 0 ? String(milli / 1000) : `${milli}m`;
}

/** Bytes → the largest exact binary unit ("4Gi", "512Mi"), else plain bytes. */
export function formatBytes(bytes: number): string {
  const whole = Math.ceil(bytes);
  for (const unit of ['Ei', 'Pi', 'Ti', 'Gi', 'Mi', 'Ki'] as const) {
    const f = BINARY[unit]!;
    if (whole >= f && whole % f === 0) return `${whole / f}${unit}`;
  }
  return String(whole);
}
