/**
 * Section `gc` (7): the young-generation GC cost of concurrent root fibers, reduced to its cause
 * (see `rootSet.ts`). Each variant runs in its own process (`node gc-repro.js <variant>`), 2,000
 * rounds of 100 concurrent operations that each wait one `setImmediate`:
 *
 * - `plain`: a promise per operation, holding a small object graph (~2 KB)
 * - `set`: the same, each graph also added to one long-lived `Set` and deleted when done — what
 *   Effect's root-fiber registry does, without Effect
 * - `effect`: `Effect.runPromise` of an `Effect.async` resumed on the next `setImmediate`
 * - `effect, registry renewed`: the same with `dropRootSetWhenEmpty` (diagnostic)
 *
 * Prints one JSON line: wall time, the count, mean and maximum pause of scavenges
 * (`PerformanceObserver`, `gc` entries of kind minor) and the number of full (major) GCs.
 */
import * as Effect from "effect/Effect"
import { constants, PerformanceObserver } from "node:perf_hooks"
import { dropRootSetWhenEmpty } from "./rootSet.js"

export const variants = ["plain", "set", "effect", "effect-fresh"] as const
export type Variant = (typeof variants)[number]

export interface GcResult {
  readonly variant: Variant
  readonly wallMs: number
  readonly scavenges: number
  readonly meanPauseMs: number
  readonly maxPauseMs: number
  readonly fullGcs: number
}

const rounds = Number(process.env.BENCH_GC_ROUNDS ?? 2000)
const width = 100

const graph = () => ({ items: Array.from({ length: 40 }, (_, i) => ({ i })), tag: `op-${Math.random()}` })

const measure = async (variant: Variant): Promise<GcResult> => {
  if (variant === "effect-fresh") dropRootSetWhenEmpty()
  const registry = new Set<object>()
  const pauses: Array<number> = []
  let fullGcs = 0
  const observer = new PerformanceObserver((list) => {
    for (const e of list.getEntries()) {
      const kind = (e as unknown as { detail?: { kind?: number } }).detail?.kind
      if (kind === constants.NODE_PERFORMANCE_GC_MINOR) pauses.push(e.duration)
      else if (kind === constants.NODE_PERFORMANCE_GC_MAJOR) fullGcs++
    }
  })
  observer.observe({ entryTypes: ["gc"] })
  const waitOne = Effect.async<number>((resume) => {
    setImmediate(() => resume(Effect.succeed(1)))
  })
  const one = (): Promise<unknown> => {
    switch (variant) {
      case "plain":
        return new Promise((resolve) => {
          const g = graph()
          setImmediate(() => resolve(g.items.length))
        })
      case "set":
        return new Promise((resolve) => {
          const g = graph()
          registry.add(g)
          setImmediate(() => {
            registry.delete(g)
            resolve(g.items.length)
          })
        })
      default:
        return Effect.runPromise(waitOne)
    }
  }
  const t0 = performance.now()
  for (let r = 0; r < rounds; r++) await Promise.all(Array.from({ length: width }, one))
  const wallMs = performance.now() - t0
  await new Promise((resolve) => setTimeout(resolve, 50)) // let the observer deliver
  observer.disconnect()
  return {
    variant,
    wallMs,
    scavenges: pauses.length,
    meanPauseMs: pauses.reduce((s, x) => s + x, 0) / Math.max(1, pauses.length),
    maxPauseMs: Math.max(0, ...pauses),
    fullGcs
  }
}

const isMain = process.argv[1] !== undefined && import.meta.url.endsWith(process.argv[1].split("/").pop()!)
if (isMain) {
  const variant = process.argv[2] as Variant
  if (!variants.includes(variant)) {
    console.error(`unknown variant '${variant}' (${variants.join(", ")})`)
    process.exit(2)
  }
  measure(variant).then(
    (r) => {
      process.stdout.write(JSON.stringify(r) + "\n")
      process.exit(0)
    },
    (e) => {
      console.error(e)
      process.exit(1)
    }
  )
}
