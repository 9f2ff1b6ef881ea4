/**
 * Timing and summary helpers shared by the benchmarks. Everything is measured with
 * `process.hrtime.bigint()` and reported in nanoseconds internally.
 */

import { Session } from "node:inspector"

export const now = (): bigint => process.hrtime.bigint()

export const quantile = (sorted: ReadonlyArray<number>, q: number): number => {
  if (sorted.length === 0) return Number.NaN
  const pos = (sorted.length - 1) * q
  const lo = Math.floor(pos)
  const hi = Math.ceil(pos)
  return sorted[lo]! + (sorted[hi]! - sorted[lo]!) * (pos - lo)
}

export interface Summary {
  readonly n: number
  readonly median: number
  readonly p95: number
  readonly mean: number
  readonly min: number
  readonly max: number
}

export const summarize = (values: ReadonlyArray<number>): Summary => {
  const sorted = [...values].sort((a, b) => a - b)
  const mean = sorted.reduce((s, x) => s + x, 0) / Math.max(1, sorted.length)
  return { n: sorted.length, median: quantile(sorted, 0.5), p95: quantile(sorted, 0.95), mean, min: sorted[0] ?? Number.NaN, max: sorted[sorted.length - 1] ?? Number.NaN }
}

export const median = (values: ReadonlyArray<number>): number => summarize(values).median

/** The order of `items` for round `r`: rotated by r, and reversed on odd rounds (ABC, CBA, BCA, ACB, …). */
export const roundOrder = <A>(items: ReadonlyArray<A>, r: number): Array<A> => {
  const k = r % items.length
  const rotated = [...items.slice(k), ...items.slice(0, k)]
  return r % 2 === 1 ? rotated.reverse() : rotated
}

/**
 * A bootstrap confidence interval of the median of `values` (percentile method, `iterations`
 * resamples, a fixed-seed generator so a run's output is reproducible from its samples).
 */
export const medianInterval = (values: ReadonlyArray<number>, level = 0.9, iterations = 4000): readonly [number, number] => {
  if (values.length === 0) return [Number.NaN, Number.NaN]
  let seed = 0x9e3779b9
  const random = () => {
    // xorshift32
    seed ^= seed << 13
    seed ^= seed >>> 17
    seed ^= seed << 5
    return (seed >>> 0) / 0x100000000
  }
  const medians = new Array<number>(iterations)
  const sample = new Array<number>(values.length)
  for (let i = 0; i < iterations; i++) {
    for (let j = 0; j < values.length; j++) sample[j] = values[Math.floor(random() * values.length)]!
    medians[i] = median(sample)
  }
  medians.sort((a, b) => a - b)
  return [quantile(medians, (1 - level) / 2), quantile(medians, 1 - (1 - level) / 2)]
}

export const fmt = (x: number, digits = 1): string => (Number.isFinite(x) ? x.toFixed(digits) : "n/a")
export const us = (ns: number, digits = 1): string => fmt(ns / 1000, digits)

/** A plain-text table with aligned columns. */
export const table = (header: ReadonlyArray<string>, rows: ReadonlyArray<ReadonlyArray<string>>): string => {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? "").length)))
  const line = (cells: ReadonlyArray<string>) =>
    "| " + cells.map((c, i) => (i === 0 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join(" | ") + " |"
  const sep = "|" + widths.map((w, i) => (i === 0 ? "-".repeat(w + 1) + "-" : "-".repeat(w + 1) + ":")).join("|") + "|"
  return [line(header), sep, ...rows.map(line)].join("\n")
}

/**
 * A full GC between batches when node runs with `--expose-gc` (not timed), so that one batch does
 * not pay for another's garbage. Used by the HTTP servers (one GC per round per server process);
 * the in-process sections run without `--expose-gc` unless `BENCH_GC=1`.
 */
export const collect = (): void => {
  const gc = (globalThis as { gc?: () => void }).gc
  if (gc !== undefined) gc()
}

export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms))

/**
 * Starts V8's sampling heap profiler in this process (a sample every 256 bytes, with the objects
 * either GC collected, so garbage counts: it is what young-generation GCs cost). `stop` ends it and
 * returns the bytes allocated since, and the raw profile (`.heapprofile`, for DevTools).
 */
export const sampleAllocation = async (): Promise<{ readonly stop: () => Promise<{ readonly bytes: number; readonly profile: unknown }> }> => {
  interface Node {
    readonly selfSize: number
    readonly children: ReadonlyArray<Node>
  }
  const session = new Session()
  const post = <A>(method: string, params?: object) =>
    new Promise<A>((resolve, reject) => session.post(method, params, (error, result) => (error ? reject(error) : resolve(result as A))))
  session.connect()
  await post("HeapProfiler.enable")
  await post("HeapProfiler.startSampling", { samplingInterval: 256, includeObjectsCollectedByMajorGC: true, includeObjectsCollectedByMinorGC: true })
  const total = (n: Node): number => n.children.reduce((sum, c) => sum + total(c), n.selfSize)
  return {
    stop: async () => {
      try {
        const { profile } = await post<{ profile: { head: Node } }>("HeapProfiler.stopSampling")
        return { bytes: total(profile.head), profile }
      } finally {
        session.disconnect()
      }
    }
  }
}
