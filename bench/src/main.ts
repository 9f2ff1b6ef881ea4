/**
 * `npm run bench`: runs every benchmark section, each in its own node process, and prints Markdown
 * tables.
 *
 *   node bench/dist/main.js [inprocess] [perrequest] [http] [micro] [peer] [auth] [vault] [gc]   (default: all, in that order)
 *   BENCH_QUICK=1          fewer rounds (a smoke run; figures are noisy)
 *   BENCH_HTTP_CLIENTS=N   concurrent HTTP clients (default 16)
 *   BENCH_GC=1             force a full GC before every in-process/micro batch (off by default:
 *                          forced GCs age V8's bytecode and make code that runs once per round
 *                          cold again, which distorts the figures more than GC carry-over does)
 *
 * Figures are also written to bench/dist/results.json.
 */
import { spawnSync } from "node:child_process"
import { readFile, writeFile } from "node:fs/promises"
import { availableParallelism, cpus, loadavg } from "node:os"
import { fileURLToPath } from "node:url"
import { packageVersion } from "./inprocess.js"

const all = ["inprocess", "perrequest", "http", "micro", "peer", "auth", "vault", "gc"]
const wanted = process.argv.slice(2)
const sections = wanted.length === 0 ? all : all.filter((s) => wanted.includes(s))

const log = (s = "") => process.stdout.write(s + "\n")

const main = async () => {
  const t0 = Date.now()
  const machine = {
    nproc: availableParallelism(),
    cpu: cpus()[0]?.model ?? "?",
    node: process.version,
    sdk: await packageVersion("@modelcontextprotocol/sdk"),
    sdkV2: await packageVersion("@modelcontextprotocol/server"),
    effect: await packageVersion("effect"),
    loadavgAtStart: loadavg()[0],
    date: new Date().toISOString()
  }
  log(`# mcp-credentials benchmarks${process.env.BENCH_QUICK === "1" ? " (BENCH_QUICK: smoke run, noisy)" : ""}`)
  log()
  log(`node ${machine.node}, ${machine.nproc} cores (${machine.cpu}), @modelcontextprotocol/sdk ${machine.sdk}, @modelcontextprotocol/server ${machine.sdkV2}, effect ${machine.effect}, load average ${(machine.loadavgAtStart ?? 0).toFixed(2)} at start`)
  const results: Record<string, unknown> = { machine }
  let failed = false
  for (const section of sections) {
    const run = spawnSync(process.execPath, [...(process.env.BENCH_GC === "1" ? ["--expose-gc"] : []), fileURLToPath(new URL("./section.js", import.meta.url)), section], {
      stdio: "inherit",
      timeout: 260_000
    })
    if (run.status !== 0) {
      failed = true
      log(`\nsection ${section} failed (${run.error?.message ?? `exit ${run.status ?? run.signal}`})`)
      continue
    }
    results[section] = JSON.parse(await readFile(new URL(`./results-${section}.json`, import.meta.url), "utf8"))[section]
  }
  log()
  log(`total ${((Date.now() - t0) / 1000).toFixed(1)} s`)
  await writeFile(new URL("./results.json", import.meta.url), JSON.stringify(results, null, 2))
  if (failed) process.exitCode = 1
}

main().catch((e) => {
  console.error(e)
  process.exit(1)
})
