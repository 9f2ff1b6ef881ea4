/**
 * `@mcp-credentials/vault`: per-user credential and pending-elicitation stores. The Redis and
 * Postgres backends are not re-exported here (they load optional drivers): import
 * `@mcp-credentials/vault/RedisStore` or `@mcp-credentials/vault/PgStore`.
 *
 * @since 0.1.0
 */

/**
 * @since 0.1.0
 */
export * as CredentialStore from "./CredentialStore.js"

/**
 * @since 0.1.0
 */
export * as FileStore from "./FileStore.js"

/**
 * @since 0.1.0
 */
export * as Keyring from "./Keyring.js"

/**
 * @since 0.1.0
 */
export * as PendingStore from "./PendingStore.js"

/**
 * @since 0.1.0
 */
export * as VaultError from "./VaultError.js"

/**
 * @since 0.1.0
 */
export * as RequestState from "./RequestState.js"

/**
 * @since 0.1.0
 */
export * as CredentialsPage from "./CredentialsPage.js"

/**
 * @since 0.1.0
 */
export * as CredentialsProvider from "./CredentialsProvider.js"

/**
 * @since 0.1.0
 */
export * as CredentialsProviderError from "./CredentialsProviderError.js"

/**
 * @since 0.1.0
 */
export * as Elicitation from "./Elicitation.js"

/**
 * @since 0.1.0
 */
export * as OAuthProvider from "./OAuthProvider.js"

/**
 * @since 0.1.0
 */
export * as OAuthProviderError from "./OAuthProviderError.js"

/**
 * @since 0.1.0
 */
export * as TokenRefresh from "./TokenRefresh.js"

/**
 * @since 0.1.0
 */
export * as OAuthAuthorization from "./OAuthAuthorization.js"

/**
 * @since 0.1.0
 */
export * as OAuthAuthorizationError from "./OAuthAuthorizationError.js"

/**
 * @since 0.1.0
 */
export * as TokenExchange from "./TokenExchange.js"

/**
 * @since 0.1.0
 */
export * as ConnectionsPage from "./ConnectionsPage.js"
