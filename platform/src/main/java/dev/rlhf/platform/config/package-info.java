/**
 * Typed service configuration from defaults, an optional file, {@code RLHF_*} environment variables and
 * explicit overrides, validated at start-up.
 */
package dev.rlhf.platform.config;
