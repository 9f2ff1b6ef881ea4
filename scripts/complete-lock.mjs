// The registry mirror on our machines does not serve every platform build of packages that ship
// native binaries as optional dependencies (rollup, esbuild, typescript, ...), so `npm install`
// leaves them out of package-lock.json and `npm ci` then refuses the lock. This adds an entry for
// each missing one, with the os/cpu read from its name, so `npm ci` validates everywhere and
// installs only the build that matches the platform. Run it after every `npm install`:
//   npm install && node scripts/complete-lock.mjs
import fs from "node:fs"

const file = process.argv[2] ?? "package-lock.json"
const lock = JSON.parse(fs.readFileSync(file, "utf8"))
const pkgs = lock.packages
const OS = ["darwin", "linux", "win32", "freebsd", "openbsd", "netbsd", "android", "sunos", "aix", "openharmony", "cygwin"]
const CPU = ["x64", "arm64", "arm", "ia32", "ppc64", "s390x", "riscv64", "loong64", "mips64el", "wasm32"]

let added = 0
for (const [path, meta] of Object.entries(pkgs)) {
  for (const [name, range] of Object.entries(meta.optionalDependencies ?? {})) {
    const nested = path === "" ? `node_modules/${name}` : `${path}/node_modules/${name}`
    if (pkgs[nested] || pkgs[`node_modules/${name}`]) continue
    const tokens = name.split("/").pop().split("-")
    const os = OS.find((o) => tokens.includes(o))
    const cpu = CPU.find((c) => tokens.includes(c))
    if (os === undefined && cpu === undefined) continue // not a platform build: leave it to npm
    const entry = { version: String(range).replace(/^[\^~=]/, ""), optional: true }
    if (meta.dev) entry.dev = true
    if (os) entry.os = [os]
    if (cpu) entry.cpu = [cpu]
    pkgs[`node_modules/${name}`] = entry
    added++
  }
}
lock.packages = Object.fromEntries(Object.entries(pkgs).sort(([a], [b]) => (a === "" ? -1 : b === "" ? 1 : a < b ? -1 : 1)))
fs.writeFileSync(file, JSON.stringify(lock, null, 2) + "\n")
console.log(`complete-lock: added ${added} platform entries`)
