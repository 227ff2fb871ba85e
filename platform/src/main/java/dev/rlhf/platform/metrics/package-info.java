/**
 * Micrometer metrics for the rlhf services: shared names and tags (gRPC calls, batch sizes, tokens, Kafka lag,
 * model versions) and a Prometheus scrape endpoint.
 */
package dev.rlhf.platform.metrics;
