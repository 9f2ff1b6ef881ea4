import { describe, expect, it } from "vitest"
import { printable } from "../src/VaultStore.js"

describe("VaultStore.printable (names read from a store, shown on a terminal)", () => {
  it("plain names print as they are", () => {
    for (const name of ["alice", "github", "user@example.com", "Zoë", "日本"]) expect(printable(name)).toBe(name)
  })

  it("fix: C0/C1 controls and bidirectional marks and overrides are escaped, never printed raw", () => {
    for (const name of ["a\u009b2Jb", "x\u202eevil", "\u200fz", "tab\there", "esc\u001b[2J", "del\u007f", "iso\u2066x\u2069"]) {
      const shown = printable(name)
      expect(shown.startsWith('"'), shown).toBe(true)
      expect(/[\u0000-\u001f\u007f-\u009f\u200e\u200f\u202a-\u202e\u2066-\u2069]/.test(shown), JSON.stringify(shown)).toBe(false)
    }
  })
})
