import { Session } from "node:inspector"
const post = (s, m, p) => new Promise((res, rej) => s.post(m, p ?? {}, (e, r) => e ? rej(e) : res(r)))
export const profileN = async (label, N, call, focus) => {
  const session = new Session(); session.connect()
  await post(session, "Profiler.enable"); await post(session, "Profiler.setSamplingInterval", { interval: 50 }); await post(session, "Profiler.start")
  const t0 = performance.now()
  for (let i = 0; i < N; i++) await call()
  const el = performance.now() - t0
  const { profile } = await post(session, "Profiler.stop")
  const nodes = new Map(profile.nodes.map((n) => [n.id, n]))
  const parent = new Map(); for (const n of profile.nodes) for (const c of n.children ?? []) parent.set(c, n.id)
  const key = (g) => `${g.functionName} ${g.url.replace(/.*node_modules\//, "").replace(/.*packages\//, "pkg/")}:${g.lineNumber}`
  const incl = new Map(), sub = new Map()
  profile.samples.forEach((id, i) => { const t = profile.timeDeltas[i]
    const seen = new Set(); let inFocus = false; for (let cur = id; cur !== undefined; cur = parent.get(cur)) { const g = nodes.get(cur).callFrame; if (g.functionName === focus) inFocus = true; const kk = key(g); if (seen.has(kk)) continue; seen.add(kk); incl.set(kk, (incl.get(kk) ?? 0) + t) }
    if (inFocus) { const k = key(nodes.get(id).callFrame); sub.set(k, (sub.get(k) ?? 0) + t) } })
  const top = (m, n) => [...m].sort((a, b) => b[1] - a[1]).slice(0, n).map(([k, t]) => `${(t / N).toFixed(2).padStart(7)} ${k}`).join("\n")
  console.log(label, (el * 1000 / N).toFixed(1), "µs/call wall")
  console.log("-- inclusive, pkg/ only"); console.log(top(new Map([...incl].filter(([k]) => k.includes("pkg/"))), 30))
  if (focus) { console.log("-- self under", focus); console.log(top(sub, 30)) }
}
