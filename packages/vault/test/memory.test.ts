import { Layer } from "effect"
import { CredentialStore, PendingStore } from "../src/index.js"
import { contract } from "./contract.js"

contract({
  name: "memory",
  unavailable: undefined,
  crossInstance: false,
  fresh: () => {
    const layer = Layer.merge(CredentialStore.layerMemory, PendingStore.layerMemory)
    return { layer: () => layer, layerConfig: () => layer }
  }
})
