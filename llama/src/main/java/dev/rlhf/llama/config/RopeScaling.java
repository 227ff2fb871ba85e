package dev.rlhf.llama.config;

import com.google.gson.JsonElement;
import com.google.gson.JsonObject;

/**
 * A config's {@code rope_scaling}: how the rotary frequencies are stretched for contexts longer than pre-training's.
 * <ul>
 *   <li>{@code linear} (position interpolation, Chen et al. 2023): every inverse frequency divided by {@code factor}.
 *   <li>{@code llama3} (Llama 3.1; Hugging Face {@code _compute_llama3_parameters}): with {@code L} the original
 *       context, wavelengths {@code 2 pi / f} shorter than {@code L / high_freq_factor} are kept, longer than
 *       {@code L / low_freq_factor} divided by {@code factor}, and in between interpolated:
 *       {@code s = (L / wavelength - low) / (high - low)}, {@code f' = (1 - s) f / factor + s f}.
 * </ul>
 * Other types ({@code dynamic}, {@code yarn}, ...) are refused by name: loading them unscaled would give wrong
 * logits without an error.
 */
public record RopeScaling(String type, double factor, double lowFreqFactor, double highFreqFactor,
                          int originalMaxPositions) {
    public static final String LINEAR = "linear";
    public static final String LLAMA3 = "llama3";

    public RopeScaling {
        if (!LINEAR.equals(type) && !LLAMA3.equals(type)) {
            throw new IllegalArgumentException("rope_scaling type '" + type + "' is not supported (supported: "
                    + LINEAR + ", " + LLAMA3 + ")");
        }
        if (!(factor >= 1) || !Double.isFinite(factor)) {
            throw new IllegalArgumentException("rope_scaling factor must be a finite number >= 1, got " + factor);
        }
        if (LLAMA3.equals(type) && (!(lowFreqFactor > 0) || !(highFreqFactor > lowFreqFactor)
                || originalMaxPositions < 1)) {
            throw new IllegalArgumentException("rope_scaling llama3 needs 0 < low_freq_factor < high_freq_factor and "
                    + "original_max_position_embeddings >= 1, got " + lowFreqFactor + ", " + highFreqFactor + ", "
                    + originalMaxPositions);
        }
    }

    public static RopeScaling linear(double factor) {
        return new RopeScaling(LINEAR, factor, 0, 0, 0);
    }

    public static RopeScaling llama3(double factor, double lowFreqFactor, double highFreqFactor,
                                     int originalMaxPositions) {
        return new RopeScaling(LLAMA3, factor, lowFreqFactor, highFreqFactor, originalMaxPositions);
    }

    /** The unscaled inverse frequencies {@code theta^(-2j / headDim)}, j < headDim / 2, scaled by {@code scaling}. */
    public static double[] inverseFrequencies(int headDim, double theta, RopeScaling scaling) {
        double[] f = new double[headDim / 2];
        for (int j = 0; j < f.length; j++) {
            f[j] = Math.pow(theta, -2.0 * j / headDim);
        }
        return scaling == null ? f : scaling.scale(f);
    }

    private double[] scale(double[] f) {
        double[] out = new double[f.length];
        for (int j = 0; j < f.length; j++) {
            if (LINEAR.equals(type)) {
                out[j] = f[j] / factor;
                continue;
            }
            double wavelength = 2 * Math.PI / f[j];
            double highFreqWavelength = originalMaxPositions / highFreqFactor;
            double lowFreqWavelength = originalMaxPositions / lowFreqFactor;
            if (wavelength < highFreqWavelength) {
                out[j] = f[j];
            } else if (wavelength > lowFreqWavelength) {
                out[j] = f[j] / factor;
            } else {
                double s = (originalMaxPositions / wavelength - lowFreqFactor) / (highFreqFactor - lowFreqFactor);
                out[j] = (1 - s) * f[j] / factor + s * f[j];
            }
        }
        return out;
    }

    /** Parses HF's object ({@code rope_type}, or the older {@code type}); null or JSON null = no scaling. */
    static RopeScaling fromJson(JsonElement e) {
        if (e == null || e.isJsonNull()) {
            return null;
        }
        if (!e.isJsonObject()) {
            throw new IllegalArgumentException("rope_scaling must be an object or null, got " + e);
        }
        JsonObject o = e.getAsJsonObject();
        JsonElement t = o.has("rope_type") ? o.get("rope_type") : o.get("type");
        if (t == null || !t.isJsonPrimitive()) {
            throw new IllegalArgumentException("rope_scaling has no rope_type: " + o);
        }
        String type = t.getAsString();
        if ("default".equals(type)) {
            return null;
        }
        if (!LINEAR.equals(type) && !LLAMA3.equals(type)) {
            throw new IllegalArgumentException("rope_scaling type '" + type + "' is not supported (supported: "
                    + LINEAR + ", " + LLAMA3 + ")");
        }
        double factor = number(o, "factor", Double.NaN);
        return LINEAR.equals(type) ? linear(factor) : llama3(factor, number(o, "low_freq_factor", Double.NaN),
                number(o, "high_freq_factor", Double.NaN), (int) number(o, "original_max_position_embeddings", 0));
    }

    private static double number(JsonObject o, String key, double dflt) {
        JsonElement e = o.get(key);
        if (e == null || e.isJsonNull()) {
            if (Double.isNaN(dflt)) {
                throw new IllegalArgumentException("rope_scaling: missing " + key);
            }
            return dflt;
        }
        try {
            return e.getAsDouble();
        } catch (RuntimeException ex) {
            throw new IllegalArgumentException("rope_scaling: " + key + " must be a number, got " + e);
        }
    }

    JsonObject toJson() {
        JsonObject o = new JsonObject();
        o.addProperty("rope_type", type);
        o.addProperty("factor", factor);
        if (LLAMA3.equals(type)) {
            o.addProperty("low_freq_factor", lowFreqFactor);
            o.addProperty("high_freq_factor", highFreqFactor);
            o.addProperty("original_max_position_embeddings", originalMaxPositions);
        }
        return o;
    }
}
