/**
 * @since 0.1.0
 */

/**
 * @since 0.1.0
 */
export * as CallStorage from "./CallStorage.js"

/**
 * @since 0.1.0
 */
export * as CredentialBackend from "./CredentialBackend.js"

/**
 * @since 0.1.0
 */
export * as CredentialError from "./CredentialError.js"

/**
 * @since 0.1.0
 */
export * as CredentialMiddleware from "./CredentialMiddleware.js"

/**
 * @since 0.1.0
 */
export * as CredentialMode from "./CredentialMode.js"

/**
 * @since 0.1.0
 */
export * as CurrentCredential from "./CurrentCredential.js"

/**
 * @since 0.1.0
 */
export * as EnvCredentialBackend from "./EnvCredentialBackend.js"

/**
 * @since 0.1.0
 */
export * as HeaderCredentialBackend from "./HeaderCredentialBackend.js"

/**
 * @since 0.1.0
 */
export * as ResolvedCredential from "./ResolvedCredential.js"

/**
 * @since 0.1.0
 */
export * as SecretString from "./SecretString.js"
