/** Shared runtime infrastructure for the rlhf services: configuration loading and Kafka plumbing. */
package dev.rlhf.platform;
