/**
 * @since 0.1.0
 */

/**
 * @since 0.1.0
 */
export * as Cli from "./Cli.js"

/**
 * @since 0.1.0
 */
export * as CliError from "./CliError.js"

/**
 * @since 0.1.0
 */
export * as DevToken from "./DevToken.js"

/**
 * @since 0.1.0
 */
export * as Doctor from "./Doctor.js"

/**
 * @since 0.1.0
 */
export * as DoctorCommand from "./DoctorCommand.js"

/**
 * @since 0.1.0
 */
export * as KeyFile from "./KeyFile.js"

/**
 * @since 0.1.0
 */
export * as KeysCommand from "./KeysCommand.js"

/**
 * @since 0.1.0
 */
export * as KubernetesSecret from "./KubernetesSecret.js"

/**
 * @since 0.1.0
 */
export * as TokenCommand from "./TokenCommand.js"

/**
 * @since 0.1.0
 */
export * as VaultCommand from "./VaultCommand.js"

/**
 * @since 0.1.0
 */
export * as VaultStore from "./VaultStore.js"
