/**
 * Units used in workflow specs: memory sizes, ISO8601 durations and Slurm walltimes.
 * Every parser takes the path of the field it reads so that its InputError names it.
 */
import { InputError } from '../errors.js';

const KIB = 1024;
const MEMORY_FACTORS: Record<string, number> = { '': 1, b: 1, k: KIB, m: KIB ** 2, g: KIB ** 3, t: KIB ** 4, p: KIB ** 5 };

/**
 * Memory size → bytes, as torc reads it: binary (1024-based) units, case-insensitive suffix
 * k / m / g / t (an optional trailing "b" and "i" are tolerated: "4gb", "4Gi"); a plain number
 * or a suffix-less string is bytes. Fractions are allowed ("1.5t") and rounded up to a byte.
 */
export function parseMemory(s: string | number, path = 'memory'): number {
  if (typeof s === 'number') {
    if (!Number.isFinite(s) || s < 0) throw new InputError(`expected a memory size ≥ 0, got ${s}`, path);
    return Math.ceil(s);
  }
  if (typeof s !== 'string') throw new InputError(`expected a memory size such as "512m" or "4g", got ${typeof s}`, path);
  const m = /^\s*(\d+(?:\.\d+)?|\.\d+)\s*([kmgtpb]?)(i?b?)\s*$/i.exec(s);
  if (!m || (m[2] === '' && m[3] !== '') || (m[2]?.toLowerCase() === 'b' && m[3] !== '')) {
    throw new InputError(`invalid memory size "${s}": expected a number with an optional unit k, m, g or t (e.g. "512m", "4g", "1.5t")`, path);
  }
  const bytes = Math.ceil(Number(m[1]) * MEMORY_FACTORS[m[2]!.toLowerCase()]!);
  if (!Number.isSafeInteger(bytes)) throw new InputError(`memory size "${s}" is too large`, path);
  return bytes;
}

/** Bytes → the shortest exact torc memory string ("4g", "512m", "1536k", "100"). */
export function formatMemory(bytes: number): string {
  for (const [unit, factor] of [['t', KIB ** 4], ['g', KIB ** 3], ['m', KIB ** 2], ['k', KIB]] as const) {
    if (bytes >= factor && bytes % factor === 0) return `${bytes / factor}${unit}`;
  }
  return String(bytes);
}

const SECONDS = { W: 7 * 86400, D: 86400, H: 3600, M: 60, S: 1 } as const;

/**
 * ISO8601 duration → seconds: `PnWnDTnHnMnS` with any subset of parts, decimal fractions
 * allowed ("PT1.5S", "PT0.5H"). Years and months are refused because they have no fixed length;
 * write days instead. A bare number is not accepted: torc's runtime field is ISO8601 only.
 */
export function parseDuration(iso: string, path = 'runtime'): number {
  if (typeof iso !== 'string') throw new InputError(`expected an ISO8601 duration such as "PT30M", got ${typeof iso}`, path);
  const m = /^P(?:(\d+(?:\.\d+)?)W)?(?:(\d+(?:\.\d+)?)D)?(?:T(?:(\d+(?:\.\d+)?)H)?(?:(\d+(?:\.\d+)?)M)?(?:(\d+(?:\.\d+)?)S)?)?$/i.exec(iso.trim());
  if (!m || iso.trim().toUpperCase() === 'P' || /T$/i.test(iso.trim())) {
    const calendar = /^P(\d+(\.\d+)?Y|\d+(\.\d+)?M)/i.test(iso.trim());
    const why = calendar
      ? 'years and months have no fixed length: use weeks or days, e.g. "P30D"'
      : 'expected a duration such as "PT30M", "PT8H" or "P1DT12H"';
    throw new InputError(`invalid ISO8601 duration "${iso}": ${why}`, path);
  }
  const [, w, d, h, min, s] = m;
  const total = num(w) * SECONDS.W + num(d) * SECONDS.D + num(h) * SECONDS.H + num(min) * SECONDS.M + num(s) * SECONDS.S;
  if (!Number.isFinite(total)) throw new InputError(`duration "${iso}" is too large`, path);
  // Round away floating-point noise such as 0.1 * 3600 = 360.00000000000006.
  return Math.round(total * 1e6) / 1e6;
}

function num(v: string | undefined): number {
  return v === undefined ? 0 : Number(v);
}

/** Seconds → canonical ISO8601 duration ("PT1H30M", "P1DT2H", "PT1.5S", "PT0S"). */
export function formatDuration(seconds: number): string {
  if (!Number.isFinite(seconds) || seconds < 0) throw new RangeError(`cannot format duration ${seconds}`);
  let rest = Math.round(seconds * 1e6) / 1e6;
  const days = Math.floor(rest / 86400);
  rest -= days * 86400;
  const hours = Math.floor(rest / 3600);
  rest -= hours * 3600;
  const minutes = Math.floor(rest / 60);
  rest = Math.round((rest - minutes * 60) * 1e6) / 1e6;
  let out = 'P';
  if (days) out += `${days}D`;
  let time = '';
  if (hours) time += `${hours}H`;
  if (minutes) time += `${minutes}M`;
  if (rest) time += `${rest}S`;
  if (time) out += `T${time}`;
  return out === 'P' ? 'PT0S' : out;
}

/**
 * Slurm `--time` value → seconds. Slurm's forms: "M", "M:S", "H:M:S", "D-H", "D-H:M",
 * "D-H:M:S". "UNLIMITED"/"INFINITE" are refused: a runner needs a finite end to plan around.
 */
export function parseSlurmWalltime(s: string, path = 'walltime'): number {
  const fail = (why: string): never => {
    throw new InputError(`invalid Slurm walltime "${s}": ${why} (forms: "30", "30:00", "01:00:00", "1-00:00:00", "1-12")`, path);
  };
  if (typeof s === 'number') return Number.isInteger(s) && s >= 0 ? s * 60 : fail('expected whole minutes');
  if (typeof s !== 'string') return fail(`expected a string, got ${typeof s}`);
  const text = s.trim();
  if (/^(unlimited|infinite)$/i.test(text)) fail('an unlimited walltime cannot be planned around');
  const m = /^(?:(\d+)-)?(\d+)(?::(\d+))?(?::(\d+))?$/.exec(text);
  if (!m) return fail('not a Slurm time');
  const [, days, a, b, c] = m;
  let seconds: number;
  if (days !== undefined) {
    // D-H, D-H:M, D-H:M:S
    seconds = Number(days) * 86400 + Number(a) * 3600 + num(b) * 60 + num(c);
    if (b !== undefined && Number(b) >= 60) fail('minutes must be < 60');
    if (c !== undefined && Number(c) >= 60) fail('seconds must be < 60');
  } else if (c !== undefined) {
    // H:M:S
    if (Number(b) >= 60 || Number(c) >= 60) fail('minutes and seconds must be < 60');
    seconds = Number(a) * 3600 + Number(b) * 60 + Number(c);
  } else if (b !== undefined) {
    // M:S
    if (Number(b) >= 60) fail('seconds must be < 60');
    seconds = Number(a) * 60 + Number(b);
  } else {
    seconds = Number(a) * 60;
  }
  return seconds;
}

/** Seconds → Slurm "D-HH:MM:SS" (or "HH:MM:SS" under a day), rounding up to whole seconds. */
export function formatSlurmWalltime(seconds: number): string {
  let rest = Math.ceil(seconds);
  const days = Math.floor(rest / 86400);
  rest -= days * 86400;
  const pad = (n: number) => String(n).padStart(2, '0');
  const hms = `${pad(Math.floor(rest / 3600))}:${pad(Math.floor((rest % 3600) / 60))}:${pad(rest % 60)}`;
  return days ? `${days}-${hms}` : hms;
}
