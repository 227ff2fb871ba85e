/**
 * gRPC plumbing shared by the services: a Vert.x server host with health, reflection, deadlines, metrics and
 * graceful shutdown; a bounded worker pool for model work; status mapping; and a client with deadlines and
 * retries for idempotent calls.
 */
package dev.rlhf.platform.grpc;
