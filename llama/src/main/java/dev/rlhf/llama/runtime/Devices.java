package dev.rlhf.llama.runtime;

import ai.djl.Device;
import ai.djl.engine.Engine;

/** Maps the {@code device} config value ({@code cpu}, {@code gpu}, {@code auto}) to a DJL device. */
public final class Devices {
    private Devices() {}

    public static Device resolve(String choice) {
        int gpus = Engine.getInstance().getGpuCount();
        return switch (choice == null ? "auto" : choice.toLowerCase(java.util.Locale.ROOT)) {
            case "cpu" -> Device.cpu();
            case "gpu" -> {
                if (gpus == 0) {
                    throw new IllegalArgumentException("device=gpu but no GPU is visible to the "
                            + Engine.getInstance().getEngineName() + " engine (CPU-only native build or no driver)");
                }
                yield Device.gpu();
            }
            case "auto" -> gpus > 0 ? Device.gpu() : Device.cpu();
            default -> throw new IllegalArgumentException("device must be cpu, gpu or auto, got '" + choice + "'");
        };
    }
}
