/**
 * One benchmark section, run in its own process by `main.ts` (so that JIT state, heap and
 * process-wide hooks of one section do not leak into another): prints its Markdown table and
 * writes `bench/dist/results-<section>.json`.
 */
import { writeFile } from "node:fs/promises"
import * as Auth from "./auth.js"
import * as Http from "./http.js"
import * as InProcess from "./inprocess.js"
import * as Micro from "./micro.js"
import * as Vault from "./vault.js"
import * as GcRepro from "./gc-repro.js"
import { fmt, medianInterval, table, us } from "./stats.js"
import { spawnSync } from "node:child_process"
import { fileURLToPath } from "node:url"

const quick = process.env.BENCH_QUICK === "1"
const section = process.argv[2] ?? ""
const want = (name: string) => section === name

const inProcessOptions: InProcess.Options = quick ? { rounds: 6, warmup: 2, calls: 100 } : { rounds: 40, warmup: 5, calls: 400, budgetMs: 60_000 }
const perRequestOptions: InProcess.Options = quick ? { rounds: 4, warmup: 1, calls: 50 } : { rounds: 30, warmup: 4, calls: 100, budgetMs: 20_000 }
const peerOptions: InProcess.Options = quick ? { rounds: 3, warmup: 1, calls: 20 } : { rounds: 10, warmup: 2, calls: 100, budgetMs: 20_000 }
const microOptions = quick ? { rounds: 5, warmup: 1, batchMs: 2 } : { rounds: 30, warmup: 5, batchMs: 8 }
const vaultOptions: Vault.Options = quick
  ? { callers: 100, rounds: 20, warmup: 3, resumeSamples: 10, refreshSamples: 10 }
  : { callers: 100, rounds: 200, warmup: 20, resumeSamples: 50, refreshSamples: 50 }
const authOptions: Auth.Options = quick ? { rounds: 5, warmup: 1, batchMs: 5 } : { rounds: 50, warmup: 5, batchMs: 20 }
/**
 * `BENCH_HTTP_ENDPOINTS`: a comma-separated list of pairs (`A`, `B`, `D`, `E`: an integration and
 * its baseline; `B2`, `C`) or endpoint names; `BENCH_HTTP_ROUNDS`: measured rounds (the time
 * budget grows with them). Fewer endpoints and more rounds give a tighter figure for one pair.
 */
const httpPairs: Record<string, ReadonlyArray<Http.Endpoint>> = {
  A: ["platform", "install"],
  B: ["node", "nodeInstall"],
  B2: ["node", "nodeAls"],
  B3: ["node", "nodeInstallOnly"],
  B4: ["node", "nodeInstallNone"],
  "B0'": ["node", "nodeCopy"],
  C: ["raw"],
  D: ["v2platform", "v2install"],
  E: ["v2node", "v2nodeInstall"],
  E2: ["v2node", "v2nodeAls"],
  E3: ["v2node", "v2nodeInstallAls"]
}
const httpEndpoints = process.env.BENCH_HTTP_ENDPOINTS?.split(",").map((x) => x.trim()).filter((x) => x !== "").flatMap((x) => {
  const pair = httpPairs[x.toUpperCase()]
  if (pair !== undefined) return pair
  if ((Http.allEndpoints as ReadonlyArray<string>).includes(x)) return [x as Http.Endpoint]
  throw new Error(`BENCH_HTTP_ENDPOINTS: unknown endpoint or pair '${x}' (pairs: ${Object.keys(httpPairs).join(", ")}; endpoints: ${Http.allEndpoints.join(", ")})`)
})
const httpRounds = process.env.BENCH_HTTP_ROUNDS === undefined ? undefined : Number(process.env.BENCH_HTTP_ROUNDS)
if (httpRounds !== undefined && !(Number.isInteger(httpRounds) && httpRounds > 0)) throw new Error("BENCH_HTTP_ROUNDS must be a positive integer")
const httpBase: Http.Options = quick
  ? { clients: Number(process.env.BENCH_HTTP_CLIENTS ?? 16), callsPerRound: 200, roundMs: 1000, rounds: 2, warmup: 1, budgetMs: 25_000 }
  : { clients: Number(process.env.BENCH_HTTP_CLIENTS ?? 16), callsPerRound: 400, roundMs: 1000, rounds: 12, warmup: 1, budgetMs: 150_000 }
const httpOptions: Http.Options = {
  ...httpBase,
  ...(httpEndpoints === undefined ? {} : { endpoints: httpEndpoints }),
  ...(httpRounds === undefined
    ? {}
    : { rounds: httpRounds, budgetMs: Math.max(httpBase.budgetMs, (httpRounds + 2) * (httpEndpoints?.length ?? 10) * httpBase.roundMs * 1.5) })
}

const IN_PROCESS_MAX_RATIO = 1.15
const IN_PROCESS_MAX_ADDED_NS = 10_000
const HTTP_MIN_RATIO = 0.97

const log = (s = "") => process.stdout.write(s + "\n")
const seconds = (t0: number) => ((Date.now() - t0) / 1000).toFixed(1)

const main = async () => {
  if (!["inprocess", "perrequest", "http", "micro", "peer", "auth", "vault", "gc"].includes(section)) throw new Error(`unknown section '${section}'`)
  const results: Record<string, unknown> = {}

  if (want("inprocess")) {
    const t = Date.now()
    const o = inProcessOptions
    const r = await InProcess.run(o)
    results.inprocess = r
    log()
    log(`## 1. In-process tool call, per call, both SDK lines`)
    log()
    log(`v1: \`@modelcontextprotocol/sdk\` Client + McpServer over InMemoryTransport (one server, 2025 era). v2: \`@modelcontextprotocol/client\` pinned to 2026-07-28, its fetch handing each web Request to \`createMcpHandler(...).fetch\` (no socket; the SDK builds a new McpServer per request, in the baseline too). Each line is compared with its own bare SDK.`)
    log()
    log(`${r.rounds} rounds x ${o.calls} calls per variant after ${o.warmup} warm-up rounds, variants interleaved; ${r.env.count} env vars (${seconds(t)} s)`)
    log()
    const isBase = (x: InProcess.VariantResult) => x.baseline === x.name
    log(table(
      ["variant", "median µs", "p95 µs", "ratio (medians)", "ratio (per-round)", "added µs", "goal ≤1.15× & ≤10 µs"],
      r.results.map((x) => [
        x.name,
        us(x.perCall.median),
        us(x.perCall.p95),
        fmt(x.ratio, 3),
        fmt(x.roundRatio, 3),
        isBase(x) ? "—" : us(x.addedNs, 1),
        isBase(x) ? "—" : x.ratio <= IN_PROCESS_MAX_RATIO && x.addedNs <= IN_PROCESS_MAX_ADDED_NS ? "met" : "NOT met"
      ])
    ))
  }

  if (want("perrequest")) {
    const t = Date.now()
    const o = perRequestOptions
    const r = await InProcess.runPerRequest(o)
    results.perrequest = r
    log()
    log(`## 1b. New server per request (the stateless HTTP pattern), in process, no HTTP`)
    log()
    log(`Each request builds an McpServer (+ install), connects it to an InMemoryTransport, answers one tools/call carrying the HTTP headers a transport would pass, and closes it. ${r.rounds} rounds x ${o.calls} requests per variant after ${o.warmup} warm-up rounds, interleaved (${seconds(t)} s)`)
    log()
    log(table(
      ["variant", "median µs", "p95 µs", "ratio (medians)", "ratio (per-round)", "added µs"],
      r.results.map((x, i) => [
        x.name,
        us(x.perCall.median),
        us(x.perCall.p95),
        fmt(x.ratio, 3),
        fmt(x.roundRatio, 3),
        i === 0 ? "—" : us(x.addedNs, 1)
      ])
    ))
  }

  if (want("http")) {
    const t = Date.now()
    const o = httpOptions
    const report = await Http.run(o)
    const r = report.results
    results.http = { options: o, ...report }
    const byEndpoint = new Map(r.map((x) => [x.endpoint, x]))
    const baseOf = (x: Http.EndpointResult) => byEndpoint.get(Http.baselineOf[x.endpoint])!
    log()
    log(`## 2. Streamable HTTP throughput, both SDK lines (stateless, JSON responses, new McpServer per request)`)
    log()
    log(`${o.clients} concurrent clients in this process, each endpoint in its own child process; up to ${o.callsPerRound} calls or ${o.roundMs / 1000} s per round, ${r[0]?.rounds ?? 0} measured rounds after ${o.warmup} warm-up, endpoints interleaved (${seconds(t)} s)`)
    log()
    log(table(
      ["endpoint", "calls/s median", "calls/s min", "ratio vs baseline", "ratio per-round", "server CPU µs/call", "CPU ratio per-round", "latency median ms", "latency p95 ms", "HTTP req/call", "errors"],
      r.map((x) => [
        x.label,
        fmt(x.callsPerSec.median, 0),
        fmt(x.callsPerSec.min, 0),
        fmt(x.callsPerSec.median / baseOf(x).callsPerSec.median, 3),
        fmt(x.roundRatio, 3),
        us(x.serverCpuPerCall.median, 0),
        fmt(x.cpuRoundRatio, 3),
        fmt(x.latency.median / 1e6, 2),
        fmt(x.latency.p95 / 1e6, 2),
        fmt(x.httpRequestsPerCall, 2),
        String(x.errors)
      ])
    ))
    log()
    if (r.some((x) => x.serverBytesPerCall !== undefined)) {
      log(`Server allocation per call (\`BENCH_HTTP_ALLOC=1\`: 1,000 more calls under the server's sampling heap profiler, garbage included): ${r.map((x) => `${x.label.slice(0, 2)} ${fmt((x.serverBytesPerCall ?? NaN) / 1024, 1)} KB`).join(", ")}`)
      log()
    }
    log(`Idle clients with default options make the server rebuild their GET stream: ${r.map((x) => `${x.label.slice(0, 2)} ${fmt(report.idleRequestsPerClientPerSec[x.endpoint], 2)}`).join(", ")} requests per client per second (the measured clients above do not reconnect).`)
    log()
    for (const [inst, base] of [["install", "platform"], ["nodeInstall", "node"], ["v2install", "v2platform"], ["v2nodeInstall", "v2node"]] as const) {
      const a = byEndpoint.get(inst)
      const b = byEndpoint.get(base)
      if (a === undefined || b === undefined) continue
      const ratio = a.callsPerSec.median / b.callsPerSec.median
      const [lo, hi] = medianInterval(a.roundRatios)
      // met only when both the ratio of the medians and the paired per-round ratio reach the goal
      const met = ratio >= HTTP_MIN_RATIO && a.roundRatio >= HTTP_MIN_RATIO
      log(`goal ≥ ${HTTP_MIN_RATIO}× the bare SDK on the same plumbing, ${a.label.slice(0, 2)} vs ${b.label.slice(0, 2)}: ${fmt(ratio, 3)}× (per-round ${fmt(a.roundRatio, 3)}×, 90% interval of the per-round median ${fmt(lo, 3)}–${fmt(hi, 3)} over ${a.rounds} rounds) — ${met ? "met" : "NOT met"}; server CPU ${fmt(a.cpuRoundRatio, 3)}× per call per-round (≈ +${us((a.cpuRoundRatio - 1) * b.serverCpuPerCall.median, 0)} µs; difference of medians ${us(a.serverCpuPerCall.median - b.serverCpuPerCall.median, 0)} µs)`)
      log()
    }
    const als = byEndpoint.get("nodeAls")
    const node = byEndpoint.get("node")
    if (als !== undefined && node !== undefined) {
      log(`process-wide AsyncLocalStorage cost (B2 vs B0, no other difference): ${fmt(als.callsPerSec.median / node.callsPerSec.median, 3)}× calls/s (per-round ${fmt(als.roundRatio, 3)}×), server CPU ${fmt(als.cpuRoundRatio, 3)}× per call (per-round)`)
    }
  }

  if (want("micro")) {
    const t = Date.now()
    const r = await Micro.run(microOptions)
    results.micro = r
    log()
    log(`## 3. Micro-benchmarks (ns/op; median and p95 over ${microOptions.rounds} rounds of ~${microOptions.batchMs} ms batches) (${seconds(t)} s)`)
    log()
    log(table(
      ["operation", "median ns/op", "p95 ns/op"],
      r.results.map((x) => [x.name, fmt(x.nsPerOp.median, 0), fmt(x.nsPerOp.p95, 0)])
    ))
  }

  if (want("peer")) {
    const t = Date.now()
    const r = await InProcess.runPeer(peerOptions)
    results.peer = r
    log()
    log(`## 4. Peer: punkpeye fastmcp vs bare SDK, in process, per call (${seconds(t)} s)`)
    log()
    if (!r.ok) {
      log(`fastmcp could not be benchmarked: ${r.reason}`)
    } else {
      log(`fastmcp ${r.version}; ${r.rounds} rounds x ${r.options.calls} calls after ${r.options.warmup} warm-up rounds, interleaved`)
      log()
      log(table(
        ["variant", "median µs", "p95 µs", "ratio (medians)", "ratio (per-round)", "added µs"],
        r.results.map((x, i) => [
          x.name,
          us(x.perCall.median),
          us(x.perCall.p95),
          fmt(x.ratio, 3),
          fmt(x.roundRatio, 3),
          i === 0 ? "—" : us(x.addedNs, 1)
        ])
      ))
    }
  }

  if (want("auth")) {
    const t = Date.now()
    const o = authOptions
    const r = await Auth.run(o)
    results.auth = r
    log()
    log(`## 5. Bearer-token verification (@mcp-credentials/auth), per token (${seconds(t)} s)`)
    log()
    log(`${o.rounds} rounds of ~${o.batchMs} ms batches per operation after ${o.warmup} warm-up rounds, operations interleaved; ${r.keys}`)
    log()
    log(table(
      ["operation", "median µs/op", "p95 µs/op", "ops/s (median)", "CPU µs/op (median)"],
      r.results.map((x) => [x.name, us(x.nsPerOp.median, 2), us(x.nsPerOp.p95, 2), fmt(x.opsPerSec, 0), us(x.cpuNsPerOp.median, 2)])
    ))
    log()
    for (const c of r.comparisons) {
      // the (a) goal is read on the paired measurement below: interleaved with every other
      // operation, these ratios move by more than the goal's margin
      const verdict = c.name.startsWith("(a") ? "interleaved, for reference; the goal is read in (a) alone below" : c.met ? "met" : "NOT met"
      log(`${c.name}: ${fmt(c.ratio, 3)}× (per-round ${fmt(c.roundRatio, 3)}×; CPU time per-round ${fmt(c.cpuRoundRatio, 3)}×), goal ≥ ${c.goal}× — ${verdict}`)
      log()
    }
    log(`(a) alone: the uncached RS256 verifications only, adjacent batches of 150 tokens, order reversed every round, ${Math.max(10, o.rounds)} rounds after ${o.warmup} warm-up; ratio = raw jose's time per token / this one's, per round (median, 90% bootstrap interval)`)
    log()
    log(table(
      ["operation", "median µs/op", "throughput vs raw jose (per-round)", "90% interval", "goal"],
      r.paired.map((x) => [
        x.name,
        fmt(x.usPerOp, 2),
        fmt(x.roundRatio, 3),
        `${fmt(x.interval[0], 3)}–${fmt(x.interval[1], 3)}`,
        x.goal === undefined ? "—" : `${x.met ? "met" : "NOT met"} (≥ ${x.goal}×)`
      ])
    ))
  }


  if (want("vault")) {
    const t = Date.now()
    const o = vaultOptions
    const r = await Vault.run(o)
    results.vault = r
    const ms = (ns: number) => fmt(ns / 1e6, 3)
    const verdict = (p: number, goal: number | undefined) => (goal === undefined ? "—" : p / 1e6 <= goal ? `met (≤ ${goal} ms)` : `NOT met (≤ ${goal} ms)`)
    log()
    log(`## 6. Vault: credential store get, submit → resume, downstream OAuth refresh (${seconds(t)} s)`)
    log()
    log(`(a) \`CredentialStore.get\`, ${o.callers} concurrent callers per round, each reading its own user's sealed credential, ${o.rounds} rounds after ${o.warmup} warm-up; each call timed from its fiber's start to the decrypted credential. Callers are independent root fibers (\`Runtime.runPromise\` each, as the server runs tool calls); "children p99" is the same with the callers forked as children of one fiber (\`Effect.forEach\`, unbounded), alternating round by round. \`floor\`: a store that only waits one event-loop hop — the cost of the callers themselves. "loop": a closed loop of the same number of long-lived callers, each issuing its gets back to back (no fiber started per call), measured after the others; "loop goal" judges its p99. "KB allocated per get": in that loop, the callers included (V8's sampling heap profiler with collected objects).`)
    log()
    log(table(
      ["backend", "calls", "p50 ms", "p90 ms", "p99 ms", "max ms", "goal (p99)", "children p99 ms", "loop p50 ms", "loop p99 ms", "loop goal", "1 caller p50 ms", "1 caller p99 ms", "KB allocated per get"],
      r.gets.map((g) => g.latency === undefined
        ? [g.backend, "skipped", "", "", "", "", g.skipped ?? "", "", "", "", "", "", "", ""]
        : [g.backend, String(g.latency.n), ms(g.latency.p50), ms(g.latency.p90), ms(g.latency.p99), ms(g.latency.max), verdict(g.latency.p99, g.goalMs), ms(g.children?.p99 ?? NaN), ms(g.loop?.p50 ?? NaN), ms(g.loop?.p99 ?? NaN), g.loop === undefined ? "—" : verdict(g.loop.p99, g.goalMs), ms(g.sequential?.p50 ?? NaN), ms(g.sequential?.p99 ?? NaN), fmt((g.bytesPerGet ?? NaN) / 1024, 1)])
    ))
    log()
    if (r.redisClientFloor !== undefined) {
      const f = r.redisClientFloor
      log(`The Redis client alone in the same closed loop (ioredis, one \`MGET\` per turn, \`JSON.parse\` of each record; plain promises, no Effect, no decryption): p50 ${ms(f.p50)} ms, p90 ${ms(f.p90)} ms, p99 ${ms(f.p99)} ms, max ${ms(f.max)} ms — the floor under the Redis rows' "loop" columns on this machine.`)
      log()
    }
    log(`CPU to open one sealed credential (every backend but memory, per get): ${fmt(r.open.openUs, 1)} µs, of which AES-256-GCM decryption ${fmt(r.open.decryptUs, 1)} µs (the rest: JSON parse + Schema decode)`)
    log()
    log(`(b) submit → resume: \`PendingStore.complete\` start → the parked \`await\` wakes; ${o.resumeSamples} samples each after 3 warm-up; cross replica = a second store instance with its own connections`)
    log()
    log(table(
      ["backend", "mode", "p50 ms", "p90 ms", "p99 ms", "max ms", "goal (p99)"],
      r.resumes.map((x) => x.latency === undefined
        ? [x.backend, x.mode, "skipped", "", "", "", x.skipped ?? ""]
        : [x.backend, x.mode, ms(x.latency.p50), ms(x.latency.p90), ms(x.latency.p99), ms(x.latency.max), verdict(x.latency.p99, x.goalMs)])
    ))
    log()
    const f = r.refresh
    log(`(c) downstream OAuth refresh against oidc-provider in this process (loopback, rotating refresh tokens, memory store), ${f.latency.n} sequential refreshes: p50 ${ms(f.latency.p50)} ms, p90 ${ms(f.latency.p90)} ms, max ${ms(f.latency.max)} ms`)
    log()
    log(`${f.concurrentCalls} concurrent \`TokenRefresh.require\` calls on one expired token: ${f.tokenRequests} token-endpoint request(s) counted at the provider, ${f.distinctTokens} distinct access token(s) returned, ${fmt(f.concurrentWallMs, 1)} ms wall — goal exactly 1: ${f.tokenRequests === 1 ? "met" : "NOT met"}`)
  }

  if (want("gc")) {
    const t = Date.now()
    // each variant in its own process (the diagnostic patches Effect process-wide), twice, in
    // reversed order the second time; the mean of the two is printed
    const order = [...GcRepro.variants, ...[...GcRepro.variants].reverse()]
    const runs = new Map<GcRepro.Variant, Array<GcRepro.GcResult>>()
    for (const v of order) {
      const child = spawnSync(process.execPath, [fileURLToPath(new URL("./gc-repro.js", import.meta.url)), v], { encoding: "utf8", timeout: 120_000 })
      if (child.status !== 0) throw new Error(`gc-repro ${v} failed: ${child.stderr}`)
      runs.set(v, [...(runs.get(v) ?? []), JSON.parse(child.stdout.trim().split("\n").pop()!) as GcRepro.GcResult])
    }
    const mid = (xs: ReadonlyArray<number>) => xs.reduce((a, b) => a + b, 0) / xs.length
    const labels: Record<GcRepro.Variant, string> = {
      plain: "plain promises (baseline)",
      set: "plain promises + one long-lived Set, add/delete per operation",
      effect: "Effect.runPromise(Effect.async(resumed on setImmediate))",
      "effect-fresh": "the same, Effect's root-fiber Set renewed when empty (rootSet.ts)"
    }
    const rows = GcRepro.variants.map((v) => ({ v, runs: runs.get(v)! }))
    results.gc = rows
    log()
    log(`## 7. Why concurrent root fibers cost the GC: a reduced case (${seconds(t)} s)`)
    log()
    log(`${process.env.BENCH_GC_ROUNDS ?? 2000} rounds of 100 concurrent operations, each waiting one \`setImmediate\`; each variant in its own process, twice (mean of the two). Scavenge pauses from \`PerformanceObserver\` (\`gc\` entries of kind minor).`)
    log()
    log(table(
      ["variant", "wall ms", "scavenges", "mean scavenge ms", "max scavenge ms", "full GCs"],
      rows.map(({ runs: rs, v }) => [
        labels[v],
        fmt(mid(rs.map((x) => x.wallMs)), 0),
        fmt(mid(rs.map((x) => x.scavenges)), 0),
        fmt(mid(rs.map((x) => x.meanPauseMs)), 2),
        fmt(mid(rs.map((x) => x.maxPauseMs)), 2),
        fmt(mid(rs.map((x) => x.fullGcs)), 0)
      ])
    ))
  }

  await writeFile(new URL(`./results-${section}.json`, import.meta.url), JSON.stringify(results, null, 2))
}

main().then(
  () => process.exit(0),
  (e) => {
    console.error(e)
    process.exit(1)
  }
)
