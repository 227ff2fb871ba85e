/**
 * Kafka plumbing shared by the services: topic names and creation, Protobuf serdes, client settings, the
 * exactly-once consume-process-produce loop and an in-process KRaft broker for local runs and tests.
 */
package dev.rlhf.platform.kafka;
